package token_test

import (
	"context"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

func TestVerifyRejectsAttacks(t *testing.T) {
	t.Parallel()

	for _, alg := range []token.Algorithm{token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			testVerifyRejectsAttacks(t, alg)
		})
	}
}

func testVerifyRejectsAttacks(t *testing.T, alg token.Algorithm) {
	t.Helper()
	b := setup(t, alg)
	now := b.clock.Now()
	method := jwt.GetSigningMethod(string(alg))
	kid := b.key.KID
	hdr := map[string]any{"kid": kid, "typ": token.TypeManagement}
	valid := func() *token.Claims {
		c := fullClaims(now)
		c.Issuer = testIssuer
		return &c
	}
	// signed forges with our real private key: only the claims or header
	// are wrong.
	signed := func(h map[string]any, c *token.Claims) string {
		merged := map[string]any{"kid": kid, "typ": token.TypeManagement}
		for k, v := range h {
			merged[k] = v
		}
		return forge(t, method, b.key.Private, merged, c)
	}
	pubPEM := mustPublicPEM(t, b.key)
	pubDER := pemToDER(t, pubPEM)
	other := generateKey(t, alg)
	otherAlg := token.RS256
	if alg == token.RS256 {
		otherAlg = token.ES256
	}
	otherAlgKey := generateKey(t, otherAlg)
	goodRaw, err := b.issuer.Sign(token.TypeManagement, *valid())
	require.NoError(t, err)
	goodParts := splitToken(t, goodRaw)

	tests := []struct {
		name      string
		raw       string
		typ, use  string
		audiences []string
	}{
		{name: "AlgNone", raw: segment(t, map[string]any{"alg": "none", "kid": kid, "typ": token.TypeManagement}) + "." + segment(t, valid()) + "."},
		{name: "AlgNoneWithJWTLibrary", raw: forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, valid())},
		{name: "AlgNoneUpperCase", raw: segment(t, map[string]any{"alg": "NONE", "kid": kid, "typ": token.TypeManagement}) + "." + segment(t, valid()) + "."},
		{name: "HS256WithPublicKeyPEM", raw: forge(t, jwt.SigningMethodHS256, pubPEM, hdr, valid())},
		{name: "HS256WithPublicKeyDER", raw: forge(t, jwt.SigningMethodHS256, pubDER, hdr, valid())},
		{name: "HS512WithPublicKeyPEM", raw: forge(t, jwt.SigningMethodHS512, pubPEM, hdr, valid())},
		{name: "UnknownKeyWithKnownKID", raw: forge(t, method, other.Private, hdr, valid())},
		{name: "UnknownKID", raw: forge(t, method, other.Private, map[string]any{"kid": other.KID, "typ": token.TypeManagement}, valid())},
		{name: "MissingKID", raw: signed(map[string]any{"kid": nil}, valid())},
		{name: "NonStringKID", raw: signed(map[string]any{"kid": 42}, valid())},
		{name: "OtherAlgorithmWithKnownKID", raw: forge(t, jwt.GetSigningMethod(string(otherAlg)), otherAlgKey.Private, hdr, valid())},
		{name: "PSSWithKnownKID", raw: forge(t, jwt.SigningMethodPS256, mustRSAPrivate(t, alg, b, otherAlgKey), hdr, valid())},
		{name: "WrongTypHeader", raw: signed(map[string]any{"typ": token.TypeMFAPreauth}, valid())},
		{name: "GenericTypHeader", raw: signed(map[string]any{"typ": "JWT"}, valid())},
		{name: "MissingTypHeader", raw: signed(map[string]any{"typ": nil}, valid())},
		{name: "CritHeader", raw: signed(map[string]any{"crit": []string{"exp"}}, valid())},
		{name: "WrongTokenUse", raw: signed(nil, func() *token.Claims { c := valid(); c.TokenUse = token.UseMFAPreauth; return c }())},
		{name: "MissingTokenUse", raw: signed(nil, func() *token.Claims { c := valid(); c.TokenUse = ""; return c }())},
		{name: "ExpectingOtherKind", raw: goodRaw, typ: token.TypeMFAPreauth, use: token.UseMFAPreauth},
		{name: "ExpectingOtherUse", raw: goodRaw, use: token.UseImpersonation},
		{name: "WrongIssuer", raw: signed(nil, func() *token.Claims { c := valid(); c.Issuer = "https://evil.test"; return c }())},
		{name: "MissingIssuer", raw: signed(nil, func() *token.Claims { c := valid(); c.Issuer = ""; return c }())},
		{name: "WrongAudience", raw: goodRaw, audiences: []string{"org:other"}},
		{name: "MissingAudience", raw: signed(nil, func() *token.Claims { c := valid(); c.Audience = nil; return c }()), audiences: []string{"platform"}},
		{name: "MissingExpiry", raw: signed(nil, func() *token.Claims { c := valid(); c.ExpiresAt = nil; return c }())},
		{name: "MissingSubject", raw: signed(nil, func() *token.Claims { c := valid(); c.Subject = ""; return c }())},
		{name: "NotYetValid", raw: signed(nil, func() *token.Claims { c := valid(); c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)); return c }())},
		{name: "IssuedInFuture", raw: signed(nil, func() *token.Claims { c := valid(); c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)); return c }())},
		{name: "ExpiredAndWrongIssuer", raw: signed(nil, func() *token.Claims {
			c := valid()
			c.Issuer = "https://evil.test"
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
			return c
		}())},
		{name: "TamperedPayload", raw: goodParts[0] + "." + segment(t, func() *token.Claims { c := valid(); c.Subject = "someone-else"; return c }()) + "." + goodParts[2]},
		{name: "SignatureStripped", raw: goodParts[0] + "." + goodParts[1] + "."},
		{name: "SignatureTruncated", raw: goodRaw[:len(goodRaw)-4]},
		{name: "PaddedSegment", raw: goodParts[0] + "=." + goodParts[1] + "." + goodParts[2]},
		{name: "Empty", raw: ""},
		{name: "OnePart", raw: "abc"},
		{name: "TwoParts", raw: goodParts[0] + "." + goodParts[1]},
		{name: "FourParts", raw: goodRaw + ".abc"},
		{name: "BadBase64", raw: "!!!.@@@.###"},
		{name: "HeaderNotJSON", raw: base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + goodParts[1] + "." + goodParts[2]},
		{name: "ClaimsNotJSON", raw: goodParts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + goodParts[2]},
		// exp as a string is malformed even when properly signed.
		{name: "WrongClaimTypes", raw: forge(t, method, b.key.Private, hdr, jwt.MapClaims{
			"iss": testIssuer, "sub": "u", "exp": "tomorrow", "token_use": token.UseManagement,
		})},
		{name: "AudienceNotStrings", raw: forge(t, method, b.key.Private, hdr, jwt.MapClaims{
			"iss": testIssuer, "sub": "u", "exp": now.Add(time.Hour).Unix(), "token_use": token.UseManagement, "aud": []int{1},
		})},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			typ, use := tc.typ, tc.use
			if typ == "" {
				typ = token.TypeManagement
			}
			if use == "" {
				use = token.UseManagement
			}
			// Twice, so a cached path cannot let the second attempt through.
			for range 2 {
				got, err := b.issuer.Verify(context.Background(), tc.raw, typ, use, tc.audiences...)
				require.ErrorIs(t, err, token.ErrInvalid)
				require.NotErrorIs(t, err, token.ErrExpired)
				require.Nil(t, got)
			}
		})
	}

	t.Run("HugeTokenFailsFast", func(t *testing.T) {
		t.Parallel()
		huge := goodParts[0] + "." + string(make([]byte, 1<<20)) + "." + goodParts[2]
		start := time.Now()
		_, err := b.issuer.Verify(context.Background(), huge, token.TypeManagement, token.UseManagement)
		require.ErrorIs(t, err, token.ErrInvalid)
		require.Less(t, time.Since(start), 50*time.Millisecond)
		_, unknown := b.issuer.UnknownKID(huge)
		require.False(t, unknown)
	})

	t.Run("EmptyExpectations", func(t *testing.T) {
		t.Parallel()
		_, err := b.issuer.Verify(context.Background(), goodRaw, "", "")
		require.ErrorIs(t, err, token.ErrInvalid)
	})

	t.Run("GoodTokenStillPasses", func(t *testing.T) {
		t.Parallel()
		_, err := b.issuer.Verify(context.Background(), goodRaw, token.TypeManagement, token.UseManagement)
		require.NoError(t, err)
	})
}

func splitToken(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	return parts
}

func pemToDER(t *testing.T, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}

func mustRSAPrivate(t *testing.T, alg token.Algorithm, b *testBundle, spare token.Key) *rsa.PrivateKey {
	t.Helper()
	k := b.key
	if alg != token.RS256 {
		k = spare
	}
	priv, ok := k.Private.(*rsa.PrivateKey)
	require.True(t, ok)
	return priv
}

func TestVerifyRejectsHighS(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256, token.WithCacheSize(0))
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	for range 20 {
		raw, err := b.issuer.Sign(token.TypeManagement, fullClaims(b.clock.Now()))
		require.NoError(t, err)
		parts := splitToken(t, raw)
		sig := b64decode(t, parts[2])
		require.Len(t, sig, 64)
		s := new(big.Int).SetBytes(sig[32:])
		require.LessOrEqual(t, s.Cmp(half), 0, "Sign emitted a high-S signature")

		// The twin (r, n-s) is a valid ECDSA signature that the jwt library
		// accepts on its own, but Verify refuses it.
		twin := append([]byte{}, sig[:32]...)
		twin = append(twin, new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
		malleated := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(twin)
		_, err = jwt.Parse(malleated, func(*jwt.Token) (any, error) { return b.key.Public, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(b.clock.Now))
		require.NoError(t, err)
		_, err = b.issuer.Verify(context.Background(), malleated, token.TypeManagement, token.UseManagement)
		require.ErrorIs(t, err, token.ErrInvalid)
		_, err = b.issuer.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
		require.NoError(t, err)
	}
}
