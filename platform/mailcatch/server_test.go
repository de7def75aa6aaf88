package mailcatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/mailcatch"
)

type testBundle struct {
	srv    *mailcatch.Server
	sender *mail.SMTPSender
}

func setup(t *testing.T, opts mailcatch.Options) *testBundle {
	t.Helper()
	srv, err := mailcatch.StartWithOptions(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	host, portStr, err := net.SplitHostPort(srv.SMTPAddr())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{
		Host: host, Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second,
		FromEmail: "noreply@authos.test", FromName: "AuthOS",
	})
	require.NoError(t, err)
	return &testBundle{srv: srv, sender: sender}
}

func (b *testBundle) send(t *testing.T, m mail.Message) {
	t.Helper()
	require.NoError(t, b.sender.Send(t.Context(), m))
}

func httpGet(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

func TestServer(t *testing.T) {
	t.Parallel()

	t.Run("CapturesRenderedTemplate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mailcatch.Options{})
		tmpl, err := mail.LoadTemplates()
		require.NoError(t, err)
		msg, err := tmpl.Compose(mail.TemplatePasswordReset, mail.LinkData{
			Branding: mail.Branding{AppName: "Acme"}, Link: "https://app.example.com/reset-password?token=t0k", ExpiresIn: "1 hour",
		}, "ann@example.com")
		require.NoError(t, err)
		b.send(t, msg)

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := b.srv.WaitFor(ctx, func(c mailcatch.Captured) bool { return c.Subject == msg.Subject })
		require.NoError(t, err)
		require.Equal(t, 1, got.ID)
		require.Equal(t, []string{"ann@example.com"}, got.To)
		require.Equal(t, msg.Text, got.Text)
		require.Equal(t, msg.HTML, got.HTML)
		require.Contains(t, string(got.Raw), "Content-Type: multipart/alternative")
		require.WithinDuration(t, time.Now(), got.ReceivedAt, time.Minute)
		require.Len(t, b.srv.Messages(), 1)
	})

	t.Run("WaitForBlocksUntilArrival", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mailcatch.Options{})
		done := make(chan mailcatch.Captured, 1)
		errs := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := b.srv.WaitFor(ctx, func(c mailcatch.Captured) bool { return c.To[0] == "second@example.com" })
			errs <- err
			done <- c
		}()
		b.send(t, mail.Message{To: []string{"first@example.com"}, Subject: "1", Text: "a"})
		b.send(t, mail.Message{To: []string{"second@example.com"}, Subject: "2", Text: "b"})
		require.NoError(t, <-errs)
		require.Equal(t, "2", (<-done).Subject)
	})

	t.Run("WaitForHonoursContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mailcatch.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := b.srv.WaitFor(ctx, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("RejectRecipient", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mailcatch.Options{RejectRecipient: func(addr string) (int, string) {
			if addr == "nobody@example.com" {
				return 550, "5.1.1 No such user"
			}
			if addr == "later@example.com" {
				return 451, "4.3.0 Try later"
			}
			return 0, ""
		}})
		err := b.sender.Send(t.Context(), mail.Message{To: []string{"nobody@example.com"}, Subject: "s", Text: "t"})
		require.True(t, mail.IsPermanent(err), "got %v", err)
		err = b.sender.Send(t.Context(), mail.Message{To: []string{"later@example.com"}, Subject: "s", Text: "t"})
		require.Error(t, err)
		require.False(t, mail.IsPermanent(err), "got %v", err)
		b.send(t, mail.Message{To: []string{"fine@example.com"}, Subject: "ok", Text: "t"})
		msgs := b.srv.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, "ok", msgs[0].Subject)
	})

	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mailcatch.Options{MaxMessages: 3})
		for i := 1; i <= 5; i++ {
			b.send(t, mail.Message{To: []string{"a@example.com"}, Subject: fmt.Sprint(i), Text: "t"})
		}
		msgs := b.srv.Messages()
		require.Len(t, msgs, 3)
		require.Equal(t, []int{3, 4, 5}, []int{msgs[0].ID, msgs[1].ID, msgs[2].ID})
		require.Equal(t, "3", msgs[0].Subject)
		_, ok := b.srv.Message(1)
		require.False(t, ok)
		require.Equal(t, 1000, mailcatch.DefaultMaxMessages)
	})

	t.Run("CloseIsIdempotentAndStopsListening", func(t *testing.T) {
		t.Parallel()
		srv, err := mailcatch.Start(t.Context(), "127.0.0.1:0", "")
		require.NoError(t, err)
		require.Empty(t, srv.HTTPURL())
		require.NoError(t, srv.Close())
		require.NoError(t, srv.Close())
		_, err = net.DialTimeout("tcp", srv.SMTPAddr(), time.Second)
		require.Error(t, err)
	})

	t.Run("StopsWhenContextEnds", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		srv, err := mailcatch.Start(ctx, "127.0.0.1:0", "")
		require.NoError(t, err)
		cancel()
		require.Eventually(t, func() bool {
			conn, err := net.DialTimeout("tcp", srv.SMTPAddr(), time.Second)
			if err == nil {
				_ = conn.Close()
			}
			return err != nil
		}, 5*time.Second, 10*time.Millisecond)
		require.NoError(t, srv.Close())
	})

	t.Run("ImplicitTLSNeedsConfig", func(t *testing.T) {
		t.Parallel()
		_, err := mailcatch.StartWithOptions(t.Context(), mailcatch.Options{ImplicitTLS: true})
		require.ErrorContains(t, err, "TLS config")
	})
}

func TestWebView(t *testing.T) {
	t.Parallel()

	b := setup(t, mailcatch.Options{HTTPAddr: "127.0.0.1:0"})
	require.True(t, strings.HasPrefix(b.srv.HTTPURL(), "http://127.0.0.1:"))
	b.send(t, mail.Message{To: []string{"old@example.com"}, Subject: "Older message", Text: "first"})
	b.send(t, mail.Message{
		To:      []string{"ann@example.com"},
		Subject: "Verify <now> – Grüße",
		Text:    "Open https://app.example.com/verify?token=abc to verify.\n",
		HTML:    `<p>Hi</p><script>alert("pwned")</script><a href="https://app.example.com/verify?token=abc">verify</a>`,
	})
	base := b.srv.HTTPURL()

	t.Run("ListNewestFirst", func(t *testing.T) {
		t.Parallel()
		status, header, body := httpGet(t, base+"/")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "text/html; charset=utf-8", header.Get("Content-Type"))
		require.Contains(t, header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, body, "ann@example.com")
		require.Contains(t, body, "Verify &lt;now&gt; – Grüße")
		require.Contains(t, body, `href="messages/2"`)
		require.Less(t, strings.Index(body, "messages/2"), strings.Index(body, "messages/1"), "newest first")
	})

	t.Run("MessageDetailNeverRendersCapturedHTML", func(t *testing.T) {
		t.Parallel()
		status, _, body := httpGet(t, base+"/messages/2")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, "<script>alert")
		require.Contains(t, body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") // source view
		require.Contains(t, body, `<iframe sandbox="" `)
		require.Contains(t, body, `srcdoc="&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;`)
		require.Contains(t, body, "Open https://app.example.com/verify?token=abc to verify.")
		require.Contains(t, body, `<a href="https://app.example.com/verify?token=abc" rel="noreferrer noopener"`)
	})

	t.Run("UnknownMessage", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/messages/99", "/messages/abc", "/nope"} {
			status, _, _ := httpGet(t, base+path)
			require.Equal(t, http.StatusNotFound, status, path)
		}
	})

	t.Run("JSONAPI", func(t *testing.T) {
		t.Parallel()
		status, header, body := httpGet(t, base+"/api/messages")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "application/json", header.Get("Content-Type"))
		var got struct {
			Messages []struct {
				ID         int       `json:"id"`
				From       string    `json:"from"`
				To         []string  `json:"to"`
				Subject    string    `json:"subject"`
				Text       string    `json:"text"`
				HTML       string    `json:"html"`
				ReceivedAt time.Time `json:"received_at"`
			} `json:"messages"`
			Total int `json:"total"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Equal(t, 2, got.Total)
		require.Equal(t, 2, got.Messages[0].ID)
		require.Equal(t, "Verify <now> – Grüße", got.Messages[0].Subject)
		require.Equal(t, []string{"ann@example.com"}, got.Messages[0].To)
		require.Equal(t, "noreply@authos.test", got.Messages[0].From)
		require.Contains(t, got.Messages[0].HTML, "<script>")
		require.Equal(t, "Older message", got.Messages[1].Subject)
	})
}

func TestWebViewClear(t *testing.T) {
	t.Parallel()

	b := setup(t, mailcatch.Options{HTTPAddr: "127.0.0.1:0"})
	b.send(t, mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, b.srv.HTTPURL()+"/api/messages", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, b.srv.Messages())

	_, _, body := httpGet(t, b.srv.HTTPURL()+"/")
	require.Contains(t, body, "No messages yet.")

	b.send(t, mail.Message{To: []string{"a@example.com"}, Subject: "after clear", Text: "t"})
	msgs := b.srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, 2, msgs[0].ID, "ids keep counting after Clear")
}
