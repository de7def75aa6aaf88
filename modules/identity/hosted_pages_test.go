package identity_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
)

const ownerEmail = "owner@example.test"

// withOwner bootstraps the platform owner.
func withOwner(c *identity.Config) { c.OwnerEmail, c.OwnerPassword = ownerEmail, goodPassword }

// authorizeQuery is the hosted login link of acme/web-app.
func authorizeQuery(state string) string {
	return "/authorize?" + form("org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect, "state", state).Encode()
}

// signIn opens page, fills in the login form and submits it.
func (br *browser) signIn(t *testing.T, page, email, password string, extra ...string) response {
	t.Helper()
	p := br.get(t, page)
	requirePage(t, p, http.StatusOK, `action="/authorize"`)
	fields := hiddenFields(t, p)
	fields.Set("email", email)
	fields.Set("password", password)
	for i := 0; i+1 < len(extra); i += 2 {
		fields.Set(extra[i], extra[i+1])
	}
	return br.postForm(t, "/authorize", fields)
}

func TestHostedLogin(t *testing.T) {
	t.Parallel()

	t.Run("RendersTheLoginPage", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		r := br.get(t, authorizeQuery("st"))
		requirePage(t, r, http.StatusOK, "Acme Corp", `action="/authorize"`, `name="email"`, `name="password"`)
		require.NotEmpty(t, csrfToken(t, r))
		csrf := setCookie(r, "authos_csrf")
		require.NotNil(t, csrf)
		require.True(t, csrf.HttpOnly)
		require.NotEmpty(t, r.header.Get("Content-Security-Policy"))

		fields := hiddenFields(t, r)
		require.Equal(t, acmeSlug, fields.Get("org"))
		require.Equal(t, webSlug, fields.Get("service"))
		require.Equal(t, acmeRedirect, fields.Get("redirect_uri"))
		require.Equal(t, "st", fields.Get("state"))

		links := providerLinks(t, r)
		require.Len(t, links, 2, "github and google have platform apps; microsoft has none")
		require.Equal(t, startPath("github", "org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect, "state", "st"), links["github"])
		require.Contains(t, links, "google")
		// The links start real flows.
		fragment(t, br.social(t, links["github"]), http.StatusFound, acmeRedirect)
	})

	t.Run("RefusesBadLinks", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		for _, tc := range []struct {
			name, query, text string
		}{
			{"NoRedirectURI", form("org", acmeSlug, "service", webSlug).Encode(), "org, service and redirect_uri are required"},
			{"NoService", form("org", acmeSlug, "redirect_uri", acmeRedirect).Encode(), "org, service and redirect_uri are required"},
			{"UnregisteredRedirect", form("org", acmeSlug, "service", webSlug, "redirect_uri", "https://evil.test/callback").Encode(), "This redirect URI is not registered for the service."},
			{"RedirectVariant", form("org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect+"/../x").Encode(), "This redirect URI is not registered for the service."},
			{"UnknownOrg", form("org", "nope", "service", webSlug, "redirect_uri", acmeRedirect).Encode(), "Organization or service not found."},
			{"AdminWithRedirect", form("redirect_uri", acmeRedirect).Encode(), "This redirect URI is not allowed."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := br.get(t, "/authorize?"+tc.query)
				requirePage(t, r, http.StatusBadRequest, tc.text)
				require.NotContains(t, string(r.body), `name="password"`)
			})
		}
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { s.OrgStatus = "suspended" })
		requirePage(t, br.get(t, authorizeQuery("st")), http.StatusBadRequest, "This organization is not active.")
	})

	t.Run("PasswordLogin", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		br := b.newBrowser(t)

		// Without the page's CSRF token (or with another browser's).
		page := br.get(t, authorizeQuery("st"))
		fields := hiddenFields(t, page)
		fields.Set("email", "alice@acme.example")
		fields.Set("password", goodPassword)
		noToken := url.Values{}
		for k, v := range fields {
			noToken[k] = v
		}
		noToken.Del("csrf_token")
		requirePage(t, br.postForm(t, "/authorize", noToken), http.StatusForbidden, "The form expired")
		requirePage(t, b.newBrowser(t).postForm(t, "/authorize", fields), http.StatusForbidden)
		require.Zero(t, b.sessionCount(t, alice.ID))

		// A wrong password shows the form again with the error.
		r := br.signIn(t, authorizeQuery("st"), "alice@acme.example", otherPassword)
		requirePage(t, r, http.StatusUnauthorized, "Invalid email or password.", `value="alice@acme.example"`, `action="/authorize"`)
		require.NotEmpty(t, csrfToken(t, r))
		require.Empty(t, r.header.Get("Location"))
		// A redirect URI swapped into the form is refused.
		r = br.signIn(t, authorizeQuery("st"), "alice@acme.example", goodPassword, "redirect_uri", "https://evil.test/callback")
		requirePage(t, r, http.StatusBadRequest, "This redirect URI is not registered for the service.")
		require.Zero(t, b.sessionCount(t, alice.ID))

		r = br.signIn(t, authorizeQuery("st"), "alice@acme.example", goodPassword)
		frag := fragment(t, r, http.StatusSeeOther, acmeRedirect)
		require.Equal(t, "st", frag.Get("state"))
		require.Equal(t, "Bearer", frag.Get("token_type"))
		require.Equal(t, "86400", frag.Get("expires_in"))
		me := b.me(t, frag.Get("access_token"))
		require.Equal(t, alice.ID.String(), me.ID)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
		decodeTokens(t, b.refresh(t, frag.Get("refresh_token")))
		require.Nil(t, br.cookie(t, "/admin/", identity.AdminCookie), "end users get no admin cookie")
	})

	t.Run("AccessRulesApply", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		// Registered to another service of acme.
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "bob@acme.example", "password": goodPassword,
			"org_slug": acmeSlug, "service_slug": noDeviceSlug}), msgRegistered)
		b.verifyEmail(t, "bob@acme.example")
		requirePage(t, b.newBrowser(t).signIn(t, authorizeQuery("st"), "bob@acme.example", goodPassword), http.StatusForbidden,
			"You do not have access to this service.")
		// Not verified yet.
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "carol@acme.example", "password": goodPassword,
			"org_slug": acmeSlug, "service_slug": webSlug}), msgRegistered)
		requirePage(t, b.newBrowser(t).signIn(t, authorizeQuery("st"), "carol@acme.example", goodPassword), http.StatusUnauthorized,
			"Please verify your email address")
		// A platform user is no end user of acme.
		b.verifiedUser(t, "dave@example.test", goodPassword)
		requirePage(t, b.newBrowser(t).signIn(t, authorizeQuery("st"), "dave@example.test", goodPassword), http.StatusUnauthorized,
			"Invalid email or password.")
	})
}

func TestHostedAdminLogin(t *testing.T) {
	t.Parallel()

	adminCookie := func(t *testing.T, r response) *http.Cookie {
		t.Helper()
		c := setCookie(r, identity.AdminCookie)
		require.NotNil(t, c, "no admin cookie")
		return c
	}

	t.Run("PlatformOwnerGetsTheAdminCookie", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t, withOwner)
		owner := b.user(t, ownerEmail)
		br := b.newBrowser(t)

		page := br.get(t, "/authorize?next="+url.QueryEscape("/admin/jobs/queues"))
		requirePage(t, page, http.StatusOK, `action="/authorize"`)
		links := providerLinks(t, page)
		require.Equal(t, "/auth/admin/github?next="+url.QueryEscape("/admin/jobs/queues"), links["github"])

		r := br.signIn(t, "/authorize?next="+url.QueryEscape("/admin/jobs/queues"), ownerEmail, goodPassword)
		require.Equal(t, "/admin/jobs/queues", location(t, r, http.StatusSeeOther).String())
		c := adminCookie(t, r)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.Equal(t, 86400, c.MaxAge)
		me := b.me(t, c.Value)
		require.Equal(t, owner.ID.String(), me.ID)
		require.True(t, me.IsPlatformOwner)
		require.Empty(t, me.Org)

		// next only leads under /admin/ or to the invitation page.
		for next, want := range map[string]string{
			"":                                "/admin/jobs/",
			"https://evil.test/admin/":        "/admin/jobs/",
			"//evil.test/admin/":              "/admin/jobs/",
			"/admin\\@evil.test":              "/admin/jobs/",
			"/elsewhere":                      "/admin/jobs/",
			"/admin/jobs/?state=failed":       "/admin/jobs/?state=failed",
			"/invitations/accept?token=abc":   "/invitations/accept?token=abc",
			"//evil.test/invitations/accept?": "/admin/jobs/",
		} {
			r := b.newBrowser(t).signIn(t, "/authorize?next="+url.QueryEscape(next), ownerEmail, goodPassword)
			require.Equal(t, want, location(t, r, http.StatusSeeOther).String(), next)
		}

		r = b.newBrowser(t).signIn(t, "/authorize", ownerEmail, otherPassword)
		requirePage(t, r, http.StatusUnauthorized, "Invalid email or password.")
		require.Nil(t, setCookie(r, identity.AdminCookie))
	})

	t.Run("OthersAreSignedInButNotAdministrators", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t, withOwner)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		guard := httptest.NewServer(b.mod.AdminGuard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "dashboard")
		})))
		t.Cleanup(guard.Close)

		// A platform user gets a browser session (invitations use it) ...
		r := b.newBrowser(t).signIn(t, "/authorize", "ada@example.test", goodPassword)
		requirePage(t, r, http.StatusOK, "Signed in")
		c := adminCookie(t, r)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		me := b.me(t, c.Value)
		require.Equal(t, u.ID.String(), me.ID)
		require.False(t, me.IsPlatformOwner)
		// ... that the administrators' pages refuse.
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, guard.URL+"/admin/jobs/", nil)
		require.NoError(t, err)
		req.AddCookie(c)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, string(body), "Platform owner access required.")
		require.NotContains(t, string(body), "dashboard")

		// An end user of an organization is no platform user.
		b.serviceUser(t, "alice@acme.example")
		r = b.newBrowser(t).signIn(t, "/authorize", "alice@acme.example", goodPassword)
		requirePage(t, r, http.StatusUnauthorized, "Invalid email or password.")
		require.Nil(t, setCookie(r, identity.AdminCookie))
	})

	t.Run("OwnerWithMFA", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t, withOwner)
		secret, _ := b.enableMFA(t, b.login(t, ownerEmail, goodPassword).AccessToken)
		br := b.newBrowser(t)
		challenge := br.signIn(t, "/authorize?next="+url.QueryEscape("/admin/jobs/x"), ownerEmail, goodPassword)
		requirePage(t, challenge, http.StatusOK, `action="/authorize/mfa"`)
		require.Nil(t, setCookie(challenge, identity.AdminCookie))
		fields := hiddenFields(t, challenge)
		fields.Set("code", b.nextCode(t, secret))
		r := br.postForm(t, "/authorize/mfa", fields)
		require.Equal(t, "/admin/jobs/x", location(t, r, http.StatusSeeOther).String())
		require.True(t, b.me(t, adminCookie(t, r).Value).IsPlatformOwner)
	})
}

func TestAdminGuard(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, withOwner)
	guarded := httptest.NewServer(b.mod.AdminGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "dashboard "+r.URL.Path)
	})))
	t.Cleanup(guarded.Close)

	ownerToken := adminSession(t, b)
	b.verifiedUser(t, "ada@example.test", goodPassword)
	userToken := b.login(t, "ada@example.test", goodPassword).AccessToken

	call := func(t *testing.T, method, path, cookie string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, guarded.URL+path, nil)
		require.NoError(t, err)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: identity.AdminCookie, Value: cookie})
		}
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return response{status: resp.StatusCode, header: resp.Header, body: body}
	}

	t.Run("WithoutCookieRedirectsToLogin", func(t *testing.T) {
		t.Parallel()
		r := call(t, http.MethodGet, "/admin/jobs/?state=failed", "")
		require.Equal(t, "/authorize?next="+url.QueryEscape("/admin/jobs/?state=failed"), location(t, r, http.StatusSeeOther).String())
		r = call(t, http.MethodGet, "/admin/jobs/", "garbage")
		require.Equal(t, "/authorize?next="+url.QueryEscape("/admin/jobs/"), location(t, r, http.StatusSeeOther).String())
		r = call(t, http.MethodPost, "/admin/jobs/", "")
		requirePage(t, r, http.StatusUnauthorized, "Please sign in again.")
		require.NotContains(t, string(r.body), "dashboard")
	})

	t.Run("NonOwnerIsForbidden", func(t *testing.T) {
		t.Parallel()
		r := call(t, http.MethodGet, "/admin/jobs/", userToken)
		requirePage(t, r, http.StatusForbidden, "Platform owner access required.")
		require.NotContains(t, string(r.body), "dashboard")
	})

	t.Run("OwnerReachesTheHandler", func(t *testing.T) {
		t.Parallel()
		r := call(t, http.MethodGet, "/admin/jobs/", ownerToken)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "dashboard /admin/jobs/", string(r.body))
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	})

	t.Run("RevokedSessionRedirectsAgain", func(t *testing.T) {
		t.Parallel()
		token := adminSession(t, b)
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/admin/jobs/", token).status)
		requireMessage(t, b.post(t, "/api/auth/logout", nil, bearer(token)), "Logged out successfully")
		r := call(t, http.MethodGet, "/admin/jobs/", token)
		require.Equal(t, "/authorize?next="+url.QueryEscape("/admin/jobs/"), location(t, r, http.StatusSeeOther).String())
		require.False(t, strings.Contains(string(r.body), "dashboard"))
	})
}

// adminSession signs the owner in on the hosted platform login and returns
// the admin cookie's value.
func adminSession(t *testing.T, b *oauthBundle) string {
	t.Helper()
	r := b.newBrowser(t).signIn(t, "/authorize", ownerEmail, goodPassword)
	require.Equal(t, http.StatusSeeOther, r.status, string(r.body))
	c := setCookie(r, identity.AdminCookie)
	require.NotNil(t, c)
	return c.Value
}
