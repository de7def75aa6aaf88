package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/mailcatch"
	"github.com/authos/authos/platform/redis"
	"github.com/authos/authos/platform/testenv"
	"github.com/authos/authos/platform/testenv/browser"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

// liveApp is the whole system in-process on real sockets: the API (every
// module wired as in production), a River worker, an SMTP capture server,
// the fake OAuth provider and a client application's callback page.
type liveApp struct {
	base     string // http://localhost:<port>
	pool     *pgxpool.Pool
	ring     *crypto.KeyRing
	provider *fakeoauth.Server
	catcher  *mailcatch.Server
	appURL   string // the client application's callback, registered as redirect URI
}

const (
	liveOwnerEmail    = "root@live.test"
	liveOwnerPassword = "root-passphrase-1"
	platformGitHubID  = "platform-github-client"
	platformGitHubSec = "platform-github-secret"
)

func newLiveApp(t *testing.T) *liveApp {
	t.Helper()
	ctx := t.Context()
	provider := fakeoauth.Start(t)
	catcher, err := mailcatch.Start(ctx, "127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = catcher.Close() })
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Client app</title><h1>Client app callback</h1></html>`)
	}))
	t.Cleanup(appSrv.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	base := fmt.Sprintf("http://localhost:%d", port)
	authURL, tokenURL, userURL := provider.Endpoints(fakeoauth.GitHub)
	host, smtpPort, err := net.SplitHostPort(catcher.SMTPAddr())
	require.NoError(t, err)
	env := map[string]string{
		"AUTHOS_ENV": "test", "SMTP_HOST": host, "SMTP_PORT": smtpPort, "SMTP_TLS": "none", "SMTP_FROM": "noreply@live.test",
		"DISABLE_RATE_LIMITING": "true", "ARGON2_MEMORY_KIB": "8192", "ARGON2_ITERATIONS": "1",
		"PLATFORM_OWNER_EMAIL": liveOwnerEmail, "PLATFORM_OWNER_PASSWORD": liveOwnerPassword,
		"BASE_URL": base, "PLATFORM_DASHBOARD_BASE_URL": base, "OUTBOUND_ALLOW_PRIVATE": "true",
		"PLATFORM_GITHUB_CLIENT_ID": platformGitHubID, "PLATFORM_GITHUB_CLIENT_SECRET": platformGitHubSec,
		"PLATFORM_GITHUB_AUTH_URL": authURL, "PLATFORM_GITHUB_TOKEN_URL": tokenURL, "PLATFORM_GITHUB_USER_API_URL": userURL,
	}
	provider.RegisterClient(platformGitHubID, platformGitHubSec, base+"/auth/github/callback")
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	pool := testenv.Postgres(t)
	rdb, err := redis.NewClient(ctx, testenv.RedisURL(t))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	queue, err := jobs.NewInsertOnlyClient(pool, logger)
	require.NoError(t, err)
	prefix := testenv.KeyPrefix(t)
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, queue: queue, logger: logger, redisPrefix: prefix})
	require.NoError(t, err)
	require.NoError(t, mods.identity.Start(ctx))
	handler, _, err := buildAPI(cfg, logger, pool, mods)
	t.Cleanup(mods.stop)
	require.NoError(t, err)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// The worker, so that emails are sent and jobs run.
	ws, err := buildWorkers(cfg, pool, rdb, logger)
	require.NoError(t, err)
	client, err := jobs.NewWorkerClient(pool, ws.workers, jobs.WorkerOptions{
		Limits:   jobs.QueueLimits{Default: 2, Email: 2, Webhooks: 1, Exports: 1, Analytics: 1},
		Periodic: ws.periodic, Logger: logger, FetchPollInterval: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.WithoutCancel(ctx)))
	t.Cleanup(func() { _ = jobs.Stop(client, time.Second, time.Second) })

	ring, err := keyRing(cfg)
	require.NoError(t, err)
	return &liveApp{base: base, pool: pool, ring: ring, provider: provider, catcher: catcher, appURL: appSrv.URL + "/cb"}
}

func (a *liveApp) call(t *testing.T, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.base+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// login logs in over the API and returns the access token.
func (a *liveApp) login(t *testing.T, body map[string]string) string {
	t.Helper()
	code, out := a.call(t, http.MethodPost, "/api/auth/login", "", body)
	require.Equal(t, http.StatusOK, code, out)
	return out["access_token"].(string)
}

// register registers and verifies an account through the emailed link.
func (a *liveApp) register(t *testing.T, body map[string]string) {
	t.Helper()
	code, out := a.call(t, http.MethodPost, "/api/auth/register", "", body)
	require.Equal(t, http.StatusOK, code, out)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	msg, err := a.catcher.WaitFor(ctx, func(c mailcatch.Captured) bool {
		return len(c.To) == 1 && c.To[0] == body["email"] && strings.Contains(c.Text, "/auth/verify-email?token=")
	})
	require.NoError(t, err)
	i := strings.Index(msg.Text, a.base+"/auth/verify-email?token=")
	require.GreaterOrEqual(t, i, 0, msg.Text)
	link := strings.Fields(msg.Text[i:])[0]
	resp, err := http.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// world is an active organization "acme" with a web service whose redirect
// URI is the client app's callback and a device service, plus an end user.
type liveWorld struct {
	ownerToken, poToken string
	orgID               string
	deviceClientID      string
	endUser             map[string]string
}

func (a *liveApp) world(t *testing.T) liveWorld {
	t.Helper()
	var w liveWorld
	w.poToken = a.login(t, map[string]string{"email": liveOwnerEmail, "password": liveOwnerPassword})
	founder := map[string]string{"email": "founder@live.test", "password": "founder-passphrase-1"}
	a.register(t, founder)
	w.ownerToken = a.login(t, founder)
	code, out := a.call(t, http.MethodPost, "/api/organizations", w.ownerToken, map[string]string{"slug": "acme", "name": "Acme Corp"})
	require.Equal(t, http.StatusOK, code, out)
	w.orgID = out["organization"].(map[string]any)["id"].(string)
	code, out = a.call(t, http.MethodPost, "/api/platform/organizations/"+w.orgID+"/approve", w.poToken, map[string]string{"tier_id": "tier_pro"})
	require.Equal(t, http.StatusOK, code, out)
	code, out = a.call(t, http.MethodPost, "/api/organizations/acme/services", w.ownerToken, map[string]any{
		"slug": "web", "name": "Acme Web", "service_type": "web", "redirect_uris": []string{a.appURL},
	})
	require.Equal(t, http.StatusCreated, code, out)
	code, out = a.call(t, http.MethodPost, "/api/organizations/acme/services", w.ownerToken, map[string]any{
		"slug": "cli", "name": "Acme CLI", "service_type": "desktop", "redirect_uris": []string{a.appURL},
		"device_activation_uri": a.base + "/activate",
	})
	require.Equal(t, http.StatusCreated, code, out)
	w.deviceClientID = out["service"].(map[string]any)["client_id"].(string)
	w.endUser = map[string]string{"email": "enduser@live.test", "password": "enduser-passphrase-1", "org_slug": "acme", "service_slug": "web"}
	a.register(t, w.endUser)
	return w
}

// fragment parses the fragment of a URL.
func fragment(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	v, err := url.ParseQuery(u.Fragment)
	require.NoError(t, err)
	return v
}

// TestBrowserHostedLogin: an end user signs in on the hosted /authorize
// page in a real browser and lands on the client's redirect URI with tokens
// in the fragment, which work against the API.
func TestBrowserHostedLogin(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t)
	ctx := browser.Chrome(t)
	start := a.base + "/authorize?" + url.Values{"org": {"acme"}, "service": {"web"}, "redirect_uri": {a.appURL}, "state": {"xyz-123"}}.Encode()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
	))
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), w.endUser["email"]),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), w.endUser["password"]),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	))
	waitJS(t, ctx, `location.href.startsWith(`+jsString(a.appURL)+`)`, 20*time.Second)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, title, "Sign in")
	require.True(t, strings.HasPrefix(loc, a.appURL+"#"), loc)
	f := fragment(t, loc)
	require.Equal(t, "xyz-123", f.Get("state"))
	require.NotEmpty(t, f.Get("refresh_token"))
	code, me := a.call(t, http.MethodGet, "/api/user", f.Get("access_token"), nil)
	require.Equal(t, http.StatusOK, code, me)
	require.Equal(t, w.endUser["email"], me["email"])
	require.Equal(t, "acme", me["org"])
	require.Equal(t, "web", me["service"])
}

// TestBrowserDeviceActivation: a device (golang.org/x/oauth2 as the
// client) polls while the user approves its code on /activate in a real
// browser; the device sees authorization_pending first, then its token.
func TestBrowserDeviceActivation(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t)
	// The end user also needs access to the device's service.
	cliUser := map[string]string{"email": "cli-user@live.test", "password": "cliuser-passphrase-1", "org_slug": "acme", "service_slug": "cli"}
	a.register(t, cliUser)
	oc := &oauth2.Config{ClientID: w.deviceClientID, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: a.base + "/auth/device/code", TokenURL: a.base + "/auth/token", AuthStyle: oauth2.AuthStyleInParams,
	}}
	da, err := oc.DeviceAuth(t.Context(), oauth2.SetAuthURLParam("org", "acme"), oauth2.SetAuthURLParam("service", "cli"))
	require.NoError(t, err)
	require.Regexp(t, `^[A-Z2-9]{4}-[A-Z2-9]{4}$`, da.UserCode)
	require.Equal(t, a.base+"/activate", da.VerificationURI)

	// Before approval: authorization_pending.
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {w.deviceClientID}, "device_code": {da.DeviceCode}}
	resp, err := http.PostForm(a.base+"/auth/token", form)
	require.NoError(t, err)
	var pending map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&pending))
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "authorization_pending", pending["error"])
	require.Equal(t, "DEVICE_CODE_PENDING", pending["error_code"])

	// The device polls with the standard library; the interval applies.
	da.Interval = 1
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		pollCtx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 90*time.Second)
		defer cancel()
		// The code was just polled: wait out the server's 5 s interval once.
		time.Sleep(5 * time.Second)
		tok, err := oc.DeviceAccessToken(pollCtx, da)
		done <- result{tok, err}
	}()

	ctx := browser.Chrome(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(a.base+"/activate"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="user_code"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user_code"]`), strings.ToLower(da.UserCode)),
		chromedp.Submit(chromedp.CSS(`input[name="user_code"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), cliUser["email"]),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), cliUser["password"]),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	))
	waitJS(t, ctx, `location.pathname === "/activate/success"`, 20*time.Second)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, a.base+"/activate/success", loc)

	r := <-done
	require.NoError(t, r.err)
	require.NotEmpty(t, r.tok.AccessToken)
	code, me := a.call(t, http.MethodGet, "/api/user", r.tok.AccessToken, nil)
	require.Equal(t, http.StatusOK, code, me)
	require.Equal(t, cliUser["email"], me["email"])
	require.Equal(t, "cli", me["service"])
	// The code is single use.
	resp, err = http.PostForm(a.base+"/auth/token", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestBrowserAdminJobDashboard: the platform owner signs in on the hosted
// login page and sees the job dashboard list the jobs that ran; anyone else
// gets the login page or 403.
func TestBrowserAdminJobDashboard(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t) // registrations ran email.send jobs through the worker
	// The verification emails were delivered, so their jobs completed.
	// (River records completions asynchronously, shortly after delivery.)
	require.Eventually(t, func() bool {
		var completed int
		err := a.pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'email.send' AND state = 'completed'`).Scan(&completed)
		return err == nil && completed > 0
	}, 20*time.Second, 100*time.Millisecond)

	t.Run("AnonymousGetsTheLoginPage", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(a.base + "/admin/jobs/")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/authorize?next="), resp.Header.Get("Location"))
		resp, err = client.Get(a.base + "/admin/jobs/api/jobs?state=completed")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})

	t.Run("NonOwnerSessionGets403", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, a.base+"/admin/jobs/", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: identity.AdminCookie, Value: w.ownerToken}) // an org owner, not a platform owner
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	ctx := browser.Chrome(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(a.base+"/admin/jobs/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), liveOwnerEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), liveOwnerPassword),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	))
	waitJS(t, ctx, `location.pathname.startsWith("/admin/jobs")`, 20*time.Second)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, a.base+"/admin/jobs"), loc)
	// River UI renders the job list client-side; wait for the email job.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(a.base+"/admin/jobs/jobs?state=completed"),
	))
	waitJS(t, ctx, `!!document.body && document.body.innerText.includes("email.send")`, 30*time.Second)
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	require.NoError(t, err)
	require.Contains(t, body, "email.send")
}

// TestSocialLoginJourney: an app sends the browser to /auth/github with
// org, service and redirect_uri; the (fake) GitHub signs the user in and
// the browser comes back to the app with tokens; GET /api/user shows the
// GitHub identity. With the organization's own GitHub app, the provider
// sees the organization's client id.
func TestSocialLoginJourney(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t)

	signIn := func(t *testing.T, providerID, email string) (url.Values, string) {
		t.Helper()
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		var landed string
		client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), a.appURL) {
				landed = req.URL.String()
				return http.ErrUseLastResponse
			}
			return nil
		}}
		start := a.base + "/auth/github?" + url.Values{"org": {"acme"}, "service": {"web"}, "redirect_uri": {a.appURL}, "state": {"s-1"}}.Encode()
		a.provider.SetUser(fakeoauth.GitHub, fakeoauth.User{ID: providerID, Login: "octo", Name: "Octo Cat", Email: email, EmailVerified: true})
		resp, err := client.Get(start)
		require.NoError(t, err)
		resp.Body.Close()
		require.NotEmpty(t, landed, "the browser never came back to the app")
		f := fragment(t, landed)
		require.Equal(t, "s-1", f.Get("state"))
		return f, landed
	}

	t.Run("PlatformCredentials", func(t *testing.T) {
		f, landed := signIn(t, "4242", "octo@live.test")
		require.NotContains(t, landed, "?access_token", "tokens travel in the fragment, never the query")
		code, me := a.call(t, http.MethodGet, "/api/user", f.Get("access_token"), nil)
		require.Equal(t, http.StatusOK, code, me)
		require.Equal(t, "octo@live.test", me["email"])
		req, err := http.NewRequest(http.MethodGet, a.base+"/api/user/identities", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+f.Get("access_token"))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var ids []map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ids))
		resp.Body.Close()
		require.Equal(t, []map[string]string{{"provider": "github"}}, ids, "GET /api/user/identities shows the GitHub identity")
		require.Contains(t, a.provider.SeenClientIDs(fakeoauth.GitHub), platformGitHubID)
	})

	t.Run("OrganizationCredentials", func(t *testing.T) {
		a.provider.RegisterClient("acme-own-github", "acme-own-secret", a.base+"/auth/github/callback")
		code, out := a.call(t, http.MethodPost, "/api/organizations/acme/oauth-credentials/github", w.ownerToken,
			map[string]string{"client_id": "acme-own-github", "client_secret": "acme-own-secret"})
		require.Equal(t, http.StatusOK, code, out)
		f, _ := signIn(t, "4343", "octo2@live.test")
		code, me := a.call(t, http.MethodGet, "/api/user", f.Get("access_token"), nil)
		require.Equal(t, http.StatusOK, code, me)
		require.Equal(t, "acme", me["org"])
		require.Contains(t, a.provider.SeenClientIDs(fakeoauth.GitHub), "acme-own-github")
		var seen int
		for _, r := range a.provider.Requests() {
			if r.ClientID == "acme-own-github" && r.Endpoint == fakeoauth.EndpointToken {
				seen++
			}
		}
		require.Equal(t, 1, seen, "the code was exchanged with the organization's app")
	})
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitJS waits until the JavaScript expression is true in the page. A
// navigation in progress interrupts the evaluation; it is retried.
func waitJS(t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	t.Fatalf("waiting for %s (at %s): %v", expr, loc, last)
}

// TestBrowserInvitationAcceptance: an invited teammate opens the emailed
// link in a real browser, signs in on the hosted login page, comes back to
// the invitation and accepts it; the membership exists afterwards.
func TestBrowserInvitationAcceptance(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t)
	mate := map[string]string{"email": "mate@live.test", "password": "mate-passphrase-1"}
	a.register(t, mate)
	code, out := a.call(t, http.MethodPost, "/api/organizations/acme/invitations", w.ownerToken, map[string]string{"email": mate["email"], "role": "admin"})
	require.Equal(t, http.StatusCreated, code, out)
	ctxWait, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	msg, err := a.catcher.WaitFor(ctxWait, func(c mailcatch.Captured) bool {
		return len(c.To) == 1 && c.To[0] == mate["email"] && strings.Contains(c.Text, "/invitations/accept?token=")
	})
	require.NoError(t, err)
	i := strings.Index(msg.Text, a.base+"/invitations/accept?token=")
	require.GreaterOrEqual(t, i, 0, msg.Text)
	link := strings.Fields(msg.Text[i:])[0]

	ctx := browser.Chrome(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`a.button.primary`)),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
	require.NoError(t, err)
	require.Contains(t, text, "Acme Corp")
	require.Contains(t, text, "admin")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a.button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), mate["email"]),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), mate["password"]),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	))
	waitJS(t, ctx, `location.pathname === "/invitations/accept" && !!document.querySelector("form button.primary")`, 20*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form button.primary`))))
	waitJS(t, ctx, `document.body.innerText.includes("Welcome to Acme Corp")`, 20*time.Second)

	var role string
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND u.email = $2`, w.orgID, mate["email"]).Scan(&role))
	require.Equal(t, "admin", role)
}

// totpAt computes an RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s steps)
// independently of the server's implementation.
func totpAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	require.NoError(t, err)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// TestBrowserMFALogin: an end user with MFA signs in on /authorize, gets
// the hosted MFA challenge instead of tokens, enters a TOTP code and lands
// on the app with tokens.
func TestBrowserMFALogin(t *testing.T) {
	a := newLiveApp(t)
	w := a.world(t)
	tok := a.login(t, w.endUser)
	code, setup := a.call(t, http.MethodPost, "/api/user/mfa/setup", tok, nil)
	require.Equal(t, http.StatusOK, code, setup)
	secret := setup["secret"].(string)
	step := time.Now().Unix() / 30
	code, out := a.call(t, http.MethodPost, "/api/user/mfa/verify", tok, map[string]string{"code": totpAt(t, secret, step)})
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, true, out["enabled"])

	// The API login now yields a pre-auth token, not a session.
	code, out = a.call(t, http.MethodPost, "/api/auth/login", "", w.endUser)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, true, out["mfa_required"])
	require.Empty(t, out["refresh_token"])
	code, _ = a.call(t, http.MethodGet, "/api/user", out["access_token"].(string), nil)
	require.Equal(t, http.StatusUnauthorized, code, "a pre-auth token is not a session")

	ctx := browser.Chrome(t)
	start := a.base + "/authorize?" + url.Values{"org": {"acme"}, "service": {"web"}, "redirect_uri": {a.appURL}, "state": {"mfa-1"}}.Encode()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), w.endUser["email"]),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), w.endUser["password"]),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input#code`)),
	))
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	require.NoError(t, err)
	require.NotContains(t, page, out["access_token"].(string)[:20], "no pre-auth token in the page source")
	require.NotContains(t, page, "preauth")
	// The code of the next time step: the enabling step was used once.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input#code`), totpAt(t, secret, step+1)),
		chromedp.Submit(chromedp.CSS(`input#code`)),
	))
	waitJS(t, ctx, `location.href.startsWith(`+jsString(a.appURL)+`)`, 20*time.Second)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	f := fragment(t, loc)
	require.Equal(t, "mfa-1", f.Get("state"))
	code, me := a.call(t, http.MethodGet, "/api/user", f.Get("access_token"), nil)
	require.Equal(t, http.StatusOK, code, me)
	require.Equal(t, "web", me["service"])
}

// TestAdminSocialLogin: a platform owner who signs in with GitHub from the
// hosted platform login gets the browser session and reaches the job
// dashboard.
func TestAdminSocialLogin(t *testing.T) {
	a := newLiveApp(t)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	a.provider.SetUser(fakeoauth.GitHub, fakeoauth.User{ID: "1", Login: "root", Name: "Root", Email: liveOwnerEmail, EmailVerified: true})
	resp, err := client.Get(a.base + "/auth/admin/github?next=" + url.QueryEscape("/admin/jobs/"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "/admin/jobs/", resp.Request.URL.Path)
	require.Contains(t, string(body), "River")

	// Not a hosted page: refused, no open redirect.
	resp, err = client.Get(a.base + "/auth/admin/github?next=" + url.QueryEscape("https://evil.test/"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
