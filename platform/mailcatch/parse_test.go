package mailcatch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestParseMessage(t *testing.T) {
	t.Parallel()

	t.Run("PlainNoMIME", func(t *testing.T) {
		t.Parallel()
		c := parseMessage(crlf("Subject: hi\n\nhello\nworld\n"))
		require.Empty(t, c.ParseError)
		require.Equal(t, "hi", c.Subject)
		require.Equal(t, "hello\nworld\n", c.Text)
		require.Empty(t, c.HTML)
	})

	t.Run("NestedMixedWithBase64AndLatin1", func(t *testing.T) {
		t.Parallel()
		raw := crlf(`Subject: =?iso-8859-1?q?Gr=FC=DFe?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+SGFsbG88L3A+
--inner--
--outer
Content-Type: application/pdf
Content-Transfer-Encoding: base64

JVBERi0=
--outer--
`)
		c := parseMessage(raw)
		require.Empty(t, c.ParseError)
		require.Equal(t, "Grüße", c.Subject)
		require.Equal(t, "Grüße", c.Text)
		require.Equal(t, "<p>Hallo</p>", c.HTML)
	})

	t.Run("BrokenMIMEKeepsRaw", func(t *testing.T) {
		t.Parallel()
		raw := crlf("Subject: x\nContent-Type: multipart/alternative\n\nbody\n")
		c := parseMessage(raw)
		require.Contains(t, c.ParseError, "boundary")
		require.Equal(t, "x", c.Subject)
		require.Equal(t, raw, c.Raw)
	})

	t.Run("NotAMessage", func(t *testing.T) {
		t.Parallel()
		c := parseMessage([]byte("\x00\x01garbage without headers"))
		require.NotEmpty(t, c.ParseError)
		require.Equal(t, []byte("\x00\x01garbage without headers"), c.Raw)
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add(crlf("Subject: hi\n\nhello\n"))
	f.Add(crlf("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := parseMessage(raw)
		require.Equal(t, raw, c.Raw)
	})
}
