package totp_test

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238 reference implementation for the tests
	"encoding/base32"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/totp"
)

// rfcCode is an independent RFC 6238 / RFC 4226 implementation written
// from the RFCs (HMAC-SHA-1 over the big-endian step, dynamic truncation),
// so the tests never check the library against itself.
func rfcCode(key []byte, step int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := (uint32(sum[off])&0x7f)<<24 | uint32(sum[off+1])<<16 | uint32(sum[off+2])<<8 | uint32(sum[off+3])
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// rfcSeed is the SHA-1 seed of RFC 6238 appendix B.
var rfcSeed = []byte("12345678901234567890")

// rfcVectors are the SHA-1 rows of RFC 6238 appendix B (8 digits).
var rfcVectors = []struct {
	unix int64
	step int64
	code string
}{
	{59, 0x1, "94287082"},
	{1111111109, 0x23523EC, "07081804"},
	{1111111111, 0x23523ED, "14050471"},
	{1234567890, 0x273EF07, "89005924"},
	{2000000000, 0x3F940AA, "69279037"},
	{20000000000, 0x27BC86AA, "65353130"},
}

func TestReferenceImplementationMatchesRFC6238(t *testing.T) {
	t.Parallel()
	for _, v := range rfcVectors {
		require.Equal(t, v.step, v.unix/30)
		require.Equal(t, v.code, rfcCode(rfcSeed, v.step, 8), "T=%d", v.unix)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	seedSecret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rfcSeed)

	t.Run("AcceptsTheRFCVectors", func(t *testing.T) {
		t.Parallel()
		for _, v := range rfcVectors {
			code := v.code[2:] // the 6-digit code is the value mod 10^6
			step, ok, err := totp.Validate(seedSecret, code, time.Unix(v.unix, 0))
			require.NoError(t, err)
			require.True(t, ok, "T=%d", v.unix)
			require.Equal(t, v.step, step)
			require.Equal(t, v.step, totp.Step(time.Unix(v.unix, 0)))
		}
	})

	t.Run("AcceptsOneStepOfSkewAndReportsTheStep", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(1_800_000_015, 0)
		cur := totp.Step(now)
		for _, d := range []int64{-1, 0, 1} {
			step, ok, err := totp.Validate(seedSecret, rfcCode(rfcSeed, cur+d, 6), now)
			require.NoError(t, err)
			require.True(t, ok, "offset %d", d)
			require.Equal(t, cur+d, step)
		}
		for _, d := range []int64{-3, -2, 2, 3} {
			_, ok, err := totp.Validate(seedSecret, rfcCode(rfcSeed, cur+d, 6), now)
			require.NoError(t, err)
			require.False(t, ok, "offset %d", d)
		}
	})

	t.Run("RefusesMalformedCodes", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(59, 0)
		for _, code := range []string{"", "28708", "2870820", "28708a", " 287082", "287082 ", "２８７０８２", "-87082"} {
			_, ok, err := totp.Validate(seedSecret, code, now)
			require.NoError(t, err)
			require.False(t, ok, "%q", code)
		}
	})

	t.Run("RefusesMalformedSecrets", func(t *testing.T) {
		t.Parallel()
		for _, secret := range []string{"", "not base32!", "JBSWY3DPEHPK3PXP"} {
			_, _, err := totp.Validate(secret, "123456", time.Unix(59, 0))
			require.ErrorIs(t, err, totp.ErrInvalidSecret, "%q", secret)
		}
	})
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	k, err := totp.Generate("ada@example.test")
	require.NoError(t, err)
	require.Regexp(t, `^[A-Z2-7]{32}$`, k.Secret)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(k.Secret)
	require.NoError(t, err)
	require.Len(t, raw, totp.SecretSize)

	u, err := url.Parse(k.URI)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)
	require.Equal(t, "totp", u.Host)
	require.Equal(t, "/AuthOS:ada@example.test", u.Path)
	q := u.Query()
	require.Equal(t, k.Secret, q.Get("secret"))
	require.Equal(t, "AuthOS", q.Get("issuer"))
	require.Equal(t, "SHA1", q.Get("algorithm"))
	require.Equal(t, "6", q.Get("digits"))
	require.Equal(t, "30", q.Get("period"))

	// A code computed independently from the secret validates.
	now := time.Now()
	step, ok, err := totp.Validate(k.Secret, rfcCode(raw, totp.Step(now), 6), now)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, totp.Step(now), step)

	other, err := totp.Generate("ada@example.test")
	require.NoError(t, err)
	require.NotEqual(t, k.Secret, other.Secret)

	_, err = totp.Generate("")
	require.Error(t, err)
}

func TestBackupCodes(t *testing.T) {
	t.Parallel()
	codes, err := totp.GenerateBackupCodes(totp.BackupCodeCount)
	require.NoError(t, err)
	require.Len(t, codes, 10)
	seen := map[string]bool{}
	for _, c := range codes {
		require.Regexp(t, `^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}$`, c)
		require.False(t, seen[c])
		seen[c] = true
		n, ok := totp.NormalizeBackupCode(c)
		require.True(t, ok)
		require.Equal(t, strings.ReplaceAll(c, "-", ""), n)
	}

	t.Run("Normalize", func(t *testing.T) {
		t.Parallel()
		for in, want := range map[string]string{"abcd-efgh": "ABCDEFGH", " ABCD EFGH ": "ABCDEFGH", "abcdefgh": "ABCDEFGH", "AB-CD-EF-GH": "ABCDEFGH"} {
			got, ok := totp.NormalizeBackupCode(in)
			require.True(t, ok, in)
			require.Equal(t, want, got)
		}
		for _, in := range []string{"", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ABCD-EFGI", "ÄBCD-EFGH", "123456"} {
			_, ok := totp.NormalizeBackupCode(in)
			require.False(t, ok, in)
		}
	})

	t.Run("HashIsSHA256HexOfTheNormalizedCode", func(t *testing.T) {
		t.Parallel()
		// echo -n ABCDEFGH | sha256sum
		require.Equal(t, "9ac2197d9258257b1ae8463e4214e4cd0a578bc1517f2415928b91be4283fc48", totp.HashBackupCode("ABCDEFGH"))
	})
}

// svgDoc is the shape QRCodeSVG promises.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	ViewBox string   `xml:"viewBox,attr"`
	Rect    struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

func TestQRCodeSVG(t *testing.T) {
	t.Parallel()
	content := "otpauth://totp/AuthOS:ada@example.test?algorithm=SHA1&digits=6&issuer=AuthOS&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	svg, err := totp.QRCodeSVG(content)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(svg, "<svg "), svg[:20])
	require.NotContains(t, svg, "<script")

	var doc svgDoc
	require.NoError(t, xml.Unmarshal([]byte(svg), &doc))
	require.Equal(t, "#ffffff", doc.Rect.Fill)
	require.Equal(t, "#000000", doc.Path.Fill)

	// Paint the path back into a bitmap and compare it with the encoder's.
	want, err := qrcode.New(content, qrcode.Medium)
	require.NoError(t, err)
	bm := want.Bitmap()
	n := len(bm)
	require.Equal(t, fmt.Sprintf("0 0 %d %d", n, n), doc.ViewBox)
	got := make([][]bool, n)
	for i := range got {
		got[i] = make([]bool, n)
	}
	re := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	matches := re.FindAllStringSubmatch(doc.Path.D, -1)
	require.Equal(t, doc.Path.D, strings.Join(func() []string {
		out := make([]string, len(matches))
		for i, m := range matches {
			out[i] = m[0]
		}
		return out
	}(), ""), "path has only run commands")
	for _, m := range matches {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		require.Equal(t, m[3], m[4])
		for i := range w {
			require.False(t, got[y][x+i], "module painted twice")
			got[y][x+i] = true
		}
	}
	require.Equal(t, bm, got)
	// The quiet zone is white.
	for i := range n {
		require.False(t, got[0][i])
		require.False(t, got[i][0])
	}
}
