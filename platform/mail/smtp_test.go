package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/mailcatch"
)

// testCert returns a server TLS config for 127.0.0.1/localhost and a pool
// trusting it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailcatch test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

func startCatcher(t *testing.T, opts mailcatch.Options) *mailcatch.Server {
	t.Helper()
	srv, err := mailcatch.StartWithOptions(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func senderFor(t *testing.T, srv *mailcatch.Server, modify func(c *mail.SMTPConfig)) *mail.SMTPSender {
	t.Helper()
	host, portStr, err := net.SplitHostPort(srv.SMTPAddr())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	c := mail.SMTPConfig{
		Host: host, Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second,
		FromEmail: "noreply@authos.test", FromName: "AuthOS",
	}
	if modify != nil {
		modify(&c)
	}
	s, err := mail.NewSMTPSender(c)
	require.NoError(t, err)
	return s
}

func waitOne(t *testing.T, srv *mailcatch.Server) mailcatch.Captured {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := srv.WaitFor(ctx, nil)
	require.NoError(t, err)
	return got
}

func TestSMTPSender(t *testing.T) {
	t.Parallel()

	tmpl, err := mail.LoadTemplates()
	require.NoError(t, err)

	t.Run("SendsRenderedTemplate", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, nil)
		data := mail.LinkData{
			Branding:  mail.Branding{AppName: "Acme <Cloud>", BrandColor: "#123456"},
			Link:      "https://app.example.com/verify-email?token=abc&org=acme",
			ExpiresIn: "24 hours",
		}
		msg, err := tmpl.Compose(mail.TemplateVerifyEmail, data, "Ann Example <ann@example.com>")
		require.NoError(t, err)
		require.NoError(t, s.Send(t.Context(), msg))

		got := waitOne(t, srv)
		require.Equal(t, "noreply@authos.test", got.From)
		require.Equal(t, []string{"ann@example.com"}, got.To)
		require.Equal(t, msg.Subject, got.Subject)
		require.Equal(t, msg.Text, got.Text)
		require.Equal(t, msg.HTML, got.HTML)
		require.Empty(t, got.ParseError)
		require.Equal(t, `"AuthOS" <noreply@authos.test>`, got.Header.Get("From"))
		require.Regexp(t, `^<[0-9a-f]{32}@authos\.test>$`, got.Header.Get("Message-ID"))
		require.NotEmpty(t, got.Header.Get("Date"))
		require.False(t, got.TLS)
		require.Empty(t, got.Username)
	})

	t.Run("NonASCIISubjectAndFromNameRoundTrip", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) { c.FromName = "Zürich Société" })
		subject := "Grüße – 你好 – " + strings.Repeat("é", 60)
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: subject, Text: "Grüße\n"}))
		got := waitOne(t, srv)
		require.Equal(t, subject, got.Subject)
		require.Equal(t, "Grüße\n", got.Text)
		from, err := got.Header.AddressList("From")
		require.NoError(t, err)
		require.Equal(t, "Zürich Société", from[0].Name)
	})

	t.Run("MultipleRecipients", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, nil)
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com", "b@example.com"}, Subject: "s", Text: "t"}))
		require.Equal(t, []string{"a@example.com", "b@example.com"}, waitOne(t, srv).To)
	})

	t.Run("HeaderInjectionRefusedBeforeConnecting", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, nil)
		for _, m := range []mail.Message{
			{To: []string{"a@example.com"}, Subject: "hi\r\nBcc: victim@example.com", Text: "t"},
			{To: []string{"a@example.com\r\nBcc: victim@example.com"}, Subject: "hi", Text: "t"},
			{To: []string{"a@example.com"}, Subject: "hi", Text: "t", Headers: map[string]string{"X-A": "1\nBcc: victim@example.com"}},
		} {
			err := s.Send(t.Context(), m)
			require.ErrorIs(t, err, mail.ErrInvalidMessage)
			require.True(t, mail.IsPermanent(err))
		}
		require.Empty(t, srv.Messages())
	})

	t.Run("PermanentAndTemporaryReplies", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{RejectRecipient: func(addr string) (int, string) {
			switch {
			case strings.HasPrefix(addr, "gone@"):
				return 550, "No such user"
			case strings.HasPrefix(addr, "busy@"):
				return 451, "Try again later"
			}
			return 0, ""
		}})
		s := senderFor(t, srv, nil)
		body := "token=SECRET-TOKEN-123"

		err := s.Send(t.Context(), mail.Message{To: []string{"gone@example.com"}, Subject: "s", Text: body})
		require.Error(t, err)
		require.True(t, mail.IsPermanent(err), "550 must be permanent: %v", err)
		require.Contains(t, err.Error(), "550")
		require.NotContains(t, err.Error(), "SECRET-TOKEN")

		err = s.Send(t.Context(), mail.Message{To: []string{"busy@example.com"}, Subject: "s", Text: body})
		require.Error(t, err)
		require.False(t, mail.IsPermanent(err), "451 must be temporary: %v", err)
		require.Contains(t, err.Error(), "451")
		require.NotContains(t, err.Error(), "SECRET-TOKEN")

		require.Empty(t, srv.Messages())
		require.False(t, mail.IsPermanent(nil))
	})

	t.Run("ConnectionRefusedIsTemporary", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, portStr, err := net.SplitHostPort(ln.Addr().String())
		require.NoError(t, err)
		require.NoError(t, ln.Close())
		port, err := strconv.Atoi(portStr)
		require.NoError(t, err)
		s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, FromEmail: "a@authos.test"})
		require.NoError(t, err)
		err = s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.Error(t, err)
		require.False(t, mail.IsPermanent(err))
	})

	t.Run("StalledServerTimesOutAsTemporary", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			// Accept and never greet.
			conn, err := ln.Accept()
			if err == nil {
				t.Cleanup(func() { _ = conn.Close() })
			}
		}()
		_, portStr, err := net.SplitHostPort(ln.Addr().String())
		require.NoError(t, err)
		port, err := strconv.Atoi(portStr)
		require.NoError(t, err)
		s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, FromEmail: "a@authos.test", Timeout: 200 * time.Millisecond})
		require.NoError(t, err)
		start := time.Now()
		err = s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.Error(t, err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, mail.IsPermanent(err))
		require.Less(t, time.Since(start), 3*time.Second)
	})

	t.Run("CanceledContextStopsSend", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Send(ctx, mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, mail.IsPermanent(err))
	})

	t.Run("StartTLSRequiredForCredentials", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{}) // no TLS offered
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.Host, c.TLS, c.Username, c.Password = "127.0.0.1", mail.TLSStartTLS, "user", "pass"
		})
		err := s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.ErrorIs(t, err, mail.ErrTLSRequired)
		require.True(t, mail.IsPermanent(err))
		require.Empty(t, srv.Messages())
	})

	t.Run("StartTLSOptionalWithoutCredentials", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{}) // no TLS offered
		s := senderFor(t, srv, func(c *mail.SMTPConfig) { c.TLS = mail.TLSStartTLS })
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		require.False(t, waitOne(t, srv).TLS)
	})

	t.Run("StartTLSWithAuth", func(t *testing.T) {
		t.Parallel()
		serverTLS, pool := testCert(t)
		srv := startCatcher(t, mailcatch.Options{TLSConfig: serverTLS})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.TLS, c.Username, c.Password, c.RootCAs = mail.TLSStartTLS, "smtp-user", "smtp-pass", pool
		})
		require.NoError(t, s.Check(t.Context()))
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "over tls", Text: "t"}))
		got := waitOne(t, srv)
		require.True(t, got.TLS)
		require.Equal(t, "smtp-user", got.Username)
		require.Equal(t, "over tls", got.Subject)
	})

	t.Run("StartTLSUntrustedCertificateFails", func(t *testing.T) {
		t.Parallel()
		serverTLS, _ := testCert(t)
		srv := startCatcher(t, mailcatch.Options{TLSConfig: serverTLS})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) { c.TLS = mail.TLSStartTLS })
		err := s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		var unknownAuthority x509.UnknownAuthorityError
		require.True(t, errors.As(err, &unknownAuthority), "got %v", err)
		require.Empty(t, srv.Messages())

		insecure := senderFor(t, srv, func(c *mail.SMTPConfig) { c.TLS, c.InsecureSkipVerify = mail.TLSStartTLS, true })
		require.NoError(t, insecure.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		require.True(t, waitOne(t, srv).TLS)
	})

	t.Run("ImplicitTLS", func(t *testing.T) {
		t.Parallel()
		serverTLS, pool := testCert(t)
		srv := startCatcher(t, mailcatch.Options{TLSConfig: serverTLS, ImplicitTLS: true})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.TLS, c.Username, c.Password, c.RootCAs = mail.TLSImplicit, "u", "p", pool
		})
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		got := waitOne(t, srv)
		require.True(t, got.TLS)
		require.Equal(t, "u", got.Username)
	})

	t.Run("AuthLoginWhenPlainMissing", func(t *testing.T) {
		t.Parallel()
		serverTLS, pool := testCert(t)
		srv := startCatcher(t, mailcatch.Options{TLSConfig: serverTLS, AuthMechanisms: []string{"LOGIN"}})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.TLS, c.Username, c.Password, c.RootCAs = mail.TLSStartTLS, "login-user", "p", pool
		})
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		require.Equal(t, "login-user", waitOne(t, srv).Username)
	})

	t.Run("NoAuthMechanism", func(t *testing.T) {
		t.Parallel()
		serverTLS, pool := testCert(t)
		srv := startCatcher(t, mailcatch.Options{TLSConfig: serverTLS, AuthMechanisms: []string{}})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.TLS, c.Username, c.Password, c.RootCAs = mail.TLSStartTLS, "u", "p", pool
		})
		err := s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.ErrorIs(t, err, mail.ErrNoAuthMechanism)
		require.True(t, mail.IsPermanent(err))
	})

	t.Run("NoneModeAuthOnLoopback", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		s := senderFor(t, srv, func(c *mail.SMTPConfig) { c.Username, c.Password = "dev", "dev" })
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		got := waitOne(t, srv)
		require.False(t, got.TLS)
		require.Equal(t, "dev", got.Username)
	})

	t.Run("CustomDialer", func(t *testing.T) {
		t.Parallel()
		srv := startCatcher(t, mailcatch.Options{})
		var dialed string
		s := senderFor(t, srv, func(c *mail.SMTPConfig) {
			c.DialContextFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialed = addr
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
		})
		require.NoError(t, s.Send(t.Context(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"}))
		require.Equal(t, srv.SMTPAddr(), dialed)
	})
}
