package hosted_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/hosted"
	"github.com/authos/authos/platform/testenv/browser"
)

// loginApp serves a login page whose POST checks CSRF and redirects to
// target (another origin), like /authorize redirecting to a client's
// redirect_uri.
type loginApp struct {
	srv     *httptest.Server
	target  *httptest.Server
	posted  atomic.Int32
	reached atomic.Int32
}

func newLoginApp(t *testing.T, allowTarget bool) *loginApp {
	t.Helper()
	r := newRenderer(t)
	csrf := newCSRF(t, testKey, false) // plain-HTTP test server
	app := &loginApp{}

	targetMux := http.NewServeMux()
	targetMux.HandleFunc("GET /cb", func(w http.ResponseWriter, req *http.Request) {
		app.reached.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Client</title><p id="signed-in">Signed in as %s</p></html>`,
			html.EscapeString(req.URL.Query().Get("email")))
	})
	app.target = httptest.NewServer(targetMux)
	t.Cleanup(app.target.Close)

	page := func(w http.ResponseWriter, req *http.Request, status int, msg string) {
		p := hosted.Page{
			Branding:  hosted.Branding{OrgName: "Acme Corp", PrimaryColor: "#7c3aed"},
			CSRFToken: csrf.Token(w, req),
			Error:     msg,
		}
		if allowTarget {
			p.FormActionOrigins = []string{app.target.URL + "/cb"}
		}
		r.LoginPage(w, status, hosted.LoginData{
			Page: p, Action: "/login",
			Hidden: []hosted.HiddenField{{Name: "state", Value: "xyz"}},
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, req *http.Request) { page(w, req, http.StatusOK, "") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, req *http.Request) {
		app.posted.Add(1)
		if !csrf.Valid(req) {
			page(w, req, http.StatusForbidden, "Your session expired. Please try again.")
			return
		}
		if req.PostFormValue("password") != "correct horse" || req.PostFormValue("state") != "xyz" {
			page(w, req, http.StatusUnauthorized, "Invalid email or password")
			return
		}
		http.Redirect(w, req, app.target.URL+"/cb?email="+url.QueryEscape(req.PostFormValue("email")), http.StatusSeeOther)
	})
	app.srv = httptest.NewServer(mux)
	t.Cleanup(app.srv.Close)
	return app
}

func TestLoginPageInBrowser(t *testing.T) {
	t.Parallel()

	t.Run("StyledUnderCSPAndSignsIn", func(t *testing.T) {
		t.Parallel()
		app := newLoginApp(t, true)
		ctx := browser.Chrome(t)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(app.srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
		))
		// The nonce'd stylesheet applied: the button has the brand colour
		// and the contrast-chosen text colour.
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button.primary")).backgroundColor`))
		require.NoError(t, err)
		require.Equal(t, "rgb(124, 58, 237)", bg)
		fg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button.primary")).color`))
		require.NoError(t, err)
		require.Equal(t, "rgb(255, 255, 255)", fg)
		title, err := chromedp.Run(ctx, chromedp.Title())
		require.NoError(t, err)
		require.Equal(t, "Sign in · Acme Corp", title)

		// A wrong password re-renders the page with the error, and a fresh
		// token that still matches the cookie.
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("email"), "ada@acme.test"),
			chromedp.SendKeys(chromedp.ID("password"), "wrong"),
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#page-error p")),
		))
		msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#page-error p")))
		require.NoError(t, err)
		require.Equal(t, "Invalid email or password", msg)

		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("email"), "ada@acme.test"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.ID("signed-in")),
		))
		loc, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		require.Equal(t, app.target.URL+"/cb?email=ada%40acme.test", loc)
	})

	t.Run("FormActionBlocksUnlistedRedirect", func(t *testing.T) {
		t.Parallel()
		app := newLoginApp(t, false)
		ctx := browser.Chrome(t)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(app.srv.URL+"/login"),
			chromedp.SendKeys(chromedp.ID("email"), "ada@acme.test"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
			chromedp.Click(chromedp.CSS("button.primary")),
		))
		require.Eventually(t, func() bool { return app.posted.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
		time.Sleep(time.Second) // time to follow the redirect, were it allowed
		require.Zero(t, app.reached.Load(), "the redirect to an origin not in form-action is blocked")
	})

	t.Run("ForgedCSRFIsRefused", func(t *testing.T) {
		t.Parallel()
		app := newLoginApp(t, true)
		ctx := browser.Chrome(t)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(app.srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SetValue(chromedp.CSS(`input[name="csrf_token"]`), "forged"),
			chromedp.SendKeys(chromedp.ID("email"), "ada@acme.test"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#page-error p")),
		))
		msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#page-error p")))
		require.NoError(t, err)
		require.Equal(t, "Your session expired. Please try again.", msg)
		require.Zero(t, app.reached.Load())
	})
}
