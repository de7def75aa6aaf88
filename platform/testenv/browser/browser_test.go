package browser_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/testenv/browser"
)

func TestBinary(t *testing.T) {
	t.Parallel()

	// Chrome installs chromium when missing, so after it Binary must find it.
	_ = browser.Chrome(t)
	p, err := browser.Binary()
	require.NoError(t, err)
	info, err := os.Stat(p)
	require.NoError(t, err)
	require.False(t, info.IsDir())
}

func TestChrome(t *testing.T) {
	t.Parallel()

	t.Run("FillsAndSubmitsAForm", func(t *testing.T) {
		t.Parallel()

		mux := http.NewServeMux()
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html lang="en"><title>Form</title>
<form method="post" action="/submit">
<label for="name">Name</label><input id="name" name="name">
<button id="go" type="submit">Go</button>
</form></html>`)
		})
		mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/done?name="+url.QueryEscape(r.PostFormValue("name")), http.StatusSeeOther)
		})
		mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Done</title><p id="greeting">Hello, %s!</p></html>`,
				html.EscapeString(r.URL.Query().Get("name")))
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		ctx := browser.Chrome(t)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/"),
			chromedp.SendKeys(chromedp.ID("name"), "Ada <Lovelace>"),
			chromedp.Click(chromedp.ID("go")),
			chromedp.WaitVisible(chromedp.ID("greeting")),
		))
		loc, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		require.Equal(t, srv.URL+"/done?name=Ada+%3CLovelace%3E", loc)
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("greeting")))
		require.NoError(t, err)
		require.Equal(t, "Hello, Ada <Lovelace>!", text)
	})

	t.Run("AppliesOptions", func(t *testing.T) {
		t.Parallel()

		start := time.Now()
		ctx := browser.New(t, browser.Options{Timeout: 45 * time.Second, Flags: map[string]any{"user-agent": "AuthOS-Test/1.0"}})
		deadline, ok := ctx.Deadline()
		require.True(t, ok)
		require.WithinDuration(t, start.Add(45*time.Second), deadline, 5*time.Second)
		ua, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.userAgent"))
		require.NoError(t, err)
		require.Equal(t, "AuthOS-Test/1.0", ua)
	})

	t.Run("DefaultDeadline", func(t *testing.T) {
		t.Parallel()

		start := time.Now()
		deadline, ok := browser.Chrome(t).Deadline()
		require.True(t, ok)
		require.WithinDuration(t, start.Add(browser.DefaultTimeout), deadline, 10*time.Second)
	})

	t.Run("TestsDoNotShareCookies", func(t *testing.T) {
		t.Parallel()

		mux := http.NewServeMux()
		mux.HandleFunc("GET /set", func(w http.ResponseWriter, _ *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "seen", Value: "yes", Path: "/"})
			fmt.Fprint(w, `<p id="ok">set</p>`)
		})
		mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
			v := "none"
			if c, err := r.Cookie("seen"); err == nil {
				v = c.Value
			}
			fmt.Fprintf(w, `<p id="v">%s</p>`, v)
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		first := browser.Chrome(t)
		require.NoError(t, chromedp.Do(first, chromedp.Navigate(srv.URL+"/set"), chromedp.WaitVisible(chromedp.ID("ok"))))
		second := browser.Chrome(t)
		require.NoError(t, chromedp.Do(second, chromedp.Navigate(srv.URL+"/get")))
		v, err := chromedp.Run(second, chromedp.Text(chromedp.ID("v")))
		require.NoError(t, err)
		require.Equal(t, "none", v)
		require.NoError(t, chromedp.Do(first, chromedp.Navigate(srv.URL+"/get")))
		v, err = chromedp.Run(first, chromedp.Text(chromedp.ID("v")))
		require.NoError(t, err)
		require.Equal(t, "yes", v)
	})
}
