package mail

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBuildMessage(t *testing.T) {
	t.Parallel()

	from := mail.Address{Name: "AuthOS", Address: "noreply@authos.test"}
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	build := func(m Message) (*envelope, error) {
		return buildMessage(from, m, now, "<abc@authos.test>")
	}

	t.Run("MultipartAlternativeTextFirst", func(t *testing.T) {
		t.Parallel()
		env, err := build(Message{
			To:      []string{"Ann <ann@example.com>", "bob@example.com"},
			Subject: "Hello",
			Text:    "Line one\nLine two with a very long tail " + strings.Repeat("x", 100) + "\n",
			HTML:    "<p>Hello=World</p>",
			Headers: map[string]string{"X-AuthOS-Org": "acme"},
		})
		require.NoError(t, err)
		require.Equal(t, "noreply@authos.test", env.from)
		require.Equal(t, []string{"ann@example.com", "bob@example.com"}, env.to)
		for _, line := range strings.Split(string(env.data), "\r\n") {
			require.LessOrEqual(t, len(line), 78, "line %q", line)
		}
		require.NotContains(t, strings.ReplaceAll(string(env.data), "\r\n", ""), "\n", "bare LF in message")

		msg, err := mail.ReadMessage(strings.NewReader(string(env.data)))
		require.NoError(t, err)
		require.Equal(t, `"AuthOS" <noreply@authos.test>`, msg.Header.Get("From"))
		require.Equal(t, `"Ann" <ann@example.com>, <bob@example.com>`, msg.Header.Get("To"))
		require.Equal(t, "Hello", msg.Header.Get("Subject"))
		require.Equal(t, "Tue, 04 Mar 2025 05:06:07 +0000", msg.Header.Get("Date"))
		require.Equal(t, "<abc@authos.test>", msg.Header.Get("Message-ID"))
		require.Equal(t, "1.0", msg.Header.Get("MIME-Version"))
		require.Equal(t, "acme", msg.Header.Get("X-Authos-Org"))

		mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "multipart/alternative", mediaType)
		mr := multipart.NewReader(msg.Body, params["boundary"])
		var got []string
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			require.Equal(t, "quoted-printable", part.Header.Get("Content-Transfer-Encoding"))
			body, err := io.ReadAll(quotedprintable.NewReader(part))
			require.NoError(t, err)
			got = append(got, part.Header.Get("Content-Type")+"|"+strings.ReplaceAll(string(body), "\r\n", "\n"))
		}
		require.Equal(t, []string{
			"text/plain; charset=utf-8|Line one\nLine two with a very long tail " + strings.Repeat("x", 100) + "\n",
			"text/html; charset=utf-8|<p>Hello=World</p>",
		}, got)
	})

	t.Run("SinglePart", func(t *testing.T) {
		t.Parallel()
		env, err := build(Message{To: []string{"a@example.com"}, Subject: "s", HTML: "<b>hi</b>"})
		require.NoError(t, err)
		msg, err := mail.ReadMessage(strings.NewReader(string(env.data)))
		require.NoError(t, err)
		require.Equal(t, "text/html; charset=utf-8", msg.Header.Get("Content-Type"))
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		require.NoError(t, err)
		require.Equal(t, "<b>hi</b>", string(body))
	})

	t.Run("NonASCIISubjectAndLongSubjectFold", func(t *testing.T) {
		t.Parallel()
		subject := "Grüße aus Köln – " + strings.Repeat("ünïcödé ", 20)
		env, err := build(Message{To: []string{"a@example.com"}, Subject: subject, Text: "x", Headers: map[string]string{"X-Note": "naïve"}})
		require.NoError(t, err)
		for _, line := range strings.Split(string(env.data), "\r\n") {
			require.LessOrEqual(t, len(line), 78, "line %q", line)
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(env.data)))
		require.NoError(t, err)
		dec := new(mime.WordDecoder)
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		require.NoError(t, err)
		require.Equal(t, subject, got)
		got, err = dec.DecodeHeader(msg.Header.Get("X-Note"))
		require.NoError(t, err)
		require.Equal(t, "naïve", got)
	})

	t.Run("ReplyTo", func(t *testing.T) {
		t.Parallel()
		env, err := build(Message{To: []string{"a@example.com"}, Text: "x", Headers: map[string]string{"reply-to": "Support <help@example.com>"}})
		require.NoError(t, err)
		msg, err := mail.ReadMessage(strings.NewReader(string(env.data)))
		require.NoError(t, err)
		require.Equal(t, `"Support" <help@example.com>`, msg.Header.Get("Reply-To"))
	})

	t.Run("RefusesInvalidMessages", func(t *testing.T) {
		t.Parallel()
		ok := Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}
		cases := []struct {
			name   string
			modify func(m *Message)
			want   string
		}{
			{"NoRecipients", func(m *Message) { m.To = nil }, "no recipients"},
			{"EmptyBody", func(m *Message) { m.Text = "" }, "empty body"},
			{"SubjectCRLF", func(m *Message) { m.Subject = "hi\r\nBcc: victim@example.com" }, "control character"},
			{"SubjectLF", func(m *Message) { m.Subject = "hi\nBcc: victim@example.com" }, "control character"},
			{"SubjectNUL", func(m *Message) { m.Subject = "hi\x00" }, "control character"},
			{"ToCRLF", func(m *Message) { m.To = []string{"a@example.com\r\nBcc: v@example.com"} }, "control character"},
			{"ToMalformed", func(m *Message) { m.To = []string{"not an address"} }, "malformed"},
			{"ToNoDomain", func(m *Message) { m.To = []string{"a@"} }, "malformed"},
			{"ToNonASCII", func(m *Message) { m.To = []string{"jörg@example.com"} }, "ASCII"},
			{"HeaderValueCRLF", func(m *Message) { m.Headers = map[string]string{"X-A": "v\r\nBcc: x@example.com"} }, "control character"},
			{"HeaderNameColon", func(m *Message) { m.Headers = map[string]string{"X-A: b": "v"} }, "not a valid field name"},
			{"HeaderNameCRLF", func(m *Message) { m.Headers = map[string]string{"X-A\r\nBcc": "v"} }, "not a valid field name"},
			{"ReservedBcc", func(m *Message) { m.Headers = map[string]string{"bcc": "x@example.com"} }, "set by the sender"},
			{"ReservedContentType", func(m *Message) { m.Headers = map[string]string{"Content-Type": "text/html"} }, "set by the sender"},
			{"ReplyToInjection", func(m *Message) { m.Headers = map[string]string{"Reply-To": "a@example.com\nBcc: b@example.com"} }, "control character"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				m := ok
				tc.modify(&m)
				env, err := build(m)
				require.ErrorIs(t, err, ErrInvalidMessage)
				require.ErrorContains(t, err, tc.want)
				require.True(t, IsPermanent(err))
				require.Nil(t, env)
			})
		}
	})
}

func TestNewSMTPSender(t *testing.T) {
	t.Parallel()

	valid := SMTPConfig{Host: "smtp.example.com", Port: 587, FromEmail: "noreply@example.com", FromName: "Acme"}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		s, err := NewSMTPSender(valid)
		require.NoError(t, err)
		require.Equal(t, TLSStartTLS, s.cfg.TLS)
		require.Equal(t, DefaultTimeout, s.cfg.Timeout)
		require.Equal(t, "example.com", s.domain)
		require.Equal(t, "smtp.example.com:587", s.addr)
	})

	t.Run("NoneWithCredentialsOnLoopback", func(t *testing.T) {
		t.Parallel()
		for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
			c := valid
			c.Host, c.TLS, c.Username, c.Password = host, TLSNone, "u", "p"
			_, err := NewSMTPSender(c)
			require.NoError(t, err, host)
		}
	})

	cases := []struct {
		name   string
		modify func(c *SMTPConfig)
		want   string
	}{
		{"NoHost", func(c *SMTPConfig) { c.Host = "" }, "host"},
		{"BadPort", func(c *SMTPConfig) { c.Port = 0 }, "port"},
		{"BadTLS", func(c *SMTPConfig) { c.TLS = "ssl" }, "tls must be"},
		{"BadFrom", func(c *SMTPConfig) { c.FromEmail = "nobody" }, "from email"},
		{"FromNameInjection", func(c *SMTPConfig) { c.FromName = "Acme\r\nBcc: x@example.com" }, "from name"},
		{"NoneWithCredentialsRemote", func(c *SMTPConfig) { c.TLS, c.Username, c.Password = TLSNone, "u", "p" }, "loopback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tc.modify(&c)
			s, err := NewSMTPSender(c)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, s)
		})
	}
}
