package identity_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

const (
	octocatEmail = "octocat@github.example" // the fake's default GitHub user
	octocatID    = "1001"

	msgRedirectNotRegistered = "redirect_uri is not registered for this service"
	msgProviderUnavailable   = "This provider is not available for this organization"
	msgInvalidProvider       = "Invalid provider. Must be github, google, or microsoft"
)

// withCookie adds a cookie to a request.
func withCookie(name, value string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }
}

// setCookie returns the cookie name set by a response, or nil.
func setCookie(r response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSocialLogin(t *testing.T) {
	t.Parallel()

	t.Run("EndUserJourney", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)

		start, cb := br.toProvider(t, acmeStart("client-state-1"))
		require.Equal(t, "no-store", start.header.Get("Cache-Control"))
		authURL := location(t, start, http.StatusFound)
		ghAuth, _, _ := b.fake.Endpoints(fakeoauth.GitHub)
		require.Equal(t, ghAuth, authURL.Scheme+"://"+authURL.Host+authURL.Path)
		q := authURL.Query()
		require.Equal(t, platformGitHubClient, q.Get("client_id"))
		require.Equal(t, callbackURL("github"), q.Get("redirect_uri"))
		require.Equal(t, "code", q.Get("response_type"))
		require.Equal(t, "S256", q.Get("code_challenge_method"))
		require.Len(t, q.Get("code_challenge"), 43)
		state := q.Get("state")
		require.GreaterOrEqual(t, len(state), 32)
		require.NotEqual(t, "client-state-1", state, "the provider never sees the client's state")

		// The flow cookie binds the state to this browser.
		flow := setCookie(start, "authos_oauth")
		require.NotNil(t, flow)
		require.NotEmpty(t, flow.Value)
		require.True(t, flow.HttpOnly)
		require.Equal(t, "/auth", flow.Path)
		require.Equal(t, http.SameSiteLaxMode, flow.SameSite)
		require.Equal(t, int(identity.OAuthStateLifetime/time.Second), flow.MaxAge)

		// Only the state's hash is stored, with the client's context.
		var stored, clientState, redirect string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT state_hash, client_state, redirect_uri FROM oauth_states`).Scan(&stored, &clientState, &redirect))
		require.Equal(t, sha256Hex(state), stored)
		require.Equal(t, "client-state-1", clientState)
		require.Equal(t, acmeRedirect, redirect)

		res := br.get(t, cb)
		require.Equal(t, "no-store", res.header.Get("Cache-Control"))
		frag := fragment(t, res, http.StatusFound, acmeRedirect)
		require.Equal(t, "client-state-1", frag.Get("state"))
		require.Equal(t, "Bearer", frag.Get("token_type"))
		require.Equal(t, "86400", frag.Get("expires_in"))
		require.NotEmpty(t, frag.Get("access_token"))
		require.NotEmpty(t, frag.Get("refresh_token"))
		require.Nil(t, br.cookie(t, "/auth", "authos_oauth"), "the callback clears the flow cookie")
		require.Zero(t, b.oauthStateCount(t), "the state is consumed")

		me := b.me(t, frag.Get("access_token"))
		require.Equal(t, octocatEmail, me.Email)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
		decodeTokens(t, b.refresh(t, frag.Get("refresh_token")))

		// A new end user of acme, verified by the provider, without password.
		u := b.tenantUser(t, b.acme, octocatEmail)
		require.Equal(t, me.ID, u.ID.String())
		require.NotNil(t, u.EmailVerifiedAt)
		require.False(t, u.HasPassword())

		// The identity is scoped to acme/web-app and its provider token is
		// encrypted: the column does not hold the fake's token, which
		// decrypts from it and is one the fake accepts.
		ids := b.identitiesOf(t, u.ID)
		require.Len(t, ids, 1)
		id := ids[0]
		require.Equal(t, "github", id.Provider)
		require.Equal(t, octocatID, id.ProviderUserID)
		require.Equal(t, &b.acme, id.OrgID)
		require.Equal(t, &b.web, id.ServiceID)
		require.NotNil(t, id.KeyID)
		plain, err := b.ring.DecryptString(id.AccessEnc, *id.KeyID, identity.ProviderTokenAD(u.ID, "github", &b.acme, &b.web, "access"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(plain, "gho_"), plain)
		require.False(t, bytes.Contains(id.AccessEnc, []byte(plain)))
		require.False(t, bytes.Contains(id.AccessEnc, []byte(plain[4:20])))
		_, _, ghAPI := b.fake.Endpoints(fakeoauth.GitHub)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ghAPI+"/user", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+plain)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, "the stored token is the fake's")

		require.Equal(t, []string{platformGitHubClient}, b.fake.SeenClientIDs(fakeoauth.GitHub))
		signups := b.eventsFor("user.signup.success", u.ID)
		require.Len(t, signups, 1)
		require.Equal(t, "github", signups[0].Details["provider"])
		require.Equal(t, b.web.String(), signups[0].Details["service_id"])
		logins := b.eventsFor("user.login.success", u.ID)
		require.Len(t, logins, 1)
		require.Equal(t, "oauth:github", logins[0].Details["auth_method"])
	})

	t.Run("ReturningUserSignsInToTheSameAccount", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		first := fragment(t, b.newBrowser(t).social(t, acmeStart("a")), http.StatusFound, acmeRedirect)
		second := fragment(t, b.newBrowser(t).social(t, acmeStart("b")), http.StatusFound, acmeRedirect)
		require.Equal(t, "b", second.Get("state"))
		require.Equal(t, b.me(t, first.Get("access_token")).ID, b.me(t, second.Get("access_token")).ID)
		u := b.tenantUser(t, b.acme, octocatEmail)
		require.Len(t, b.identitiesOf(t, u.ID), 1)
		require.Equal(t, 1, b.countUsers(t, octocatEmail))
		require.Len(t, b.eventsFor("user.signup.success", u.ID), 1)
		require.Len(t, b.eventsFor("user.login.success", u.ID), 2)
	})

	t.Run("OrganizationsOwnAppIsUsed", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		start, cb := br.toProvider(t, startPath("github", "org", globexSlug, "service", webSlug, "redirect_uri", globexRedirect))
		require.Equal(t, globexGitHubClient, location(t, start, http.StatusFound).Query().Get("client_id"))
		frag := fragment(t, br.get(t, cb), http.StatusFound, globexRedirect)
		me := b.me(t, frag.Get("access_token"))
		require.Equal(t, globexSlug, me.Org)
		// The fake saw only globex's client, at authorize and token.
		require.Equal(t, []string{globexGitHubClient}, b.fake.SeenClientIDs(fakeoauth.GitHub))
		u := b.tenantUser(t, b.globex, octocatEmail)
		ids := b.identitiesOf(t, u.ID)
		require.Len(t, ids, 1)
		require.Equal(t, &b.globex, ids[0].OrgID)
		require.Equal(t, &b.globexWeb, ids[0].ServiceID)

		// globex brought a GitHub app only: its logins cannot use the
		// platform's Google app.
		r := br.get(t, startPath("google", "org", globexSlug, "service", webSlug, "redirect_uri", globexRedirect))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, msgProviderUnavailable)
		// Without its credentials the provider is unavailable, never the
		// platform's app in its place.
		b.apps.mu.Lock()
		delete(b.apps.creds, b.globex.String()+"/github")
		b.apps.mu.Unlock()
		r = br.get(t, startPath("github", "org", globexSlug, "service", webSlug, "redirect_uri", globexRedirect))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, msgProviderUnavailable)
		require.Equal(t, []string{globexGitHubClient}, b.fake.SeenClientIDs(fakeoauth.GitHub))
	})

	t.Run("GoogleUsesItsDialect", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		frag := fragment(t, b.newBrowser(t).social(t, startPath("google", "org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect)),
			http.StatusFound, acmeRedirect)
		require.Equal(t, "gia@gmail.example", b.me(t, frag.Get("access_token")).Email)
		require.Equal(t, []string{platformGoogleClient}, b.fake.SeenClientIDs(fakeoauth.Google))
	})

	t.Run("AdminFlowSignsInPlatformUsers", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		start, cb := br.toProvider(t, "/auth/admin/github")
		require.Equal(t, platformGitHubClient, location(t, start, http.StatusFound).Query().Get("client_id"))
		frag := fragment(t, br.get(t, cb), http.StatusFound, testDashboardURL+"/auth/callback")
		me := b.me(t, frag.Get("access_token"))
		require.Empty(t, me.Org)
		require.Empty(t, me.Service)
		u := b.user(t, octocatEmail)
		require.Nil(t, u.OrgID, "a platform-level user")
		ids := b.identitiesOf(t, u.ID)
		require.Len(t, ids, 1)
		require.Nil(t, ids[0].OrgID)
		require.Nil(t, ids[0].ServiceID)
		// The platform flow hands tokens to the dashboard only.
		r := b.newBrowser(t).social(t, "/auth/admin/github?redirect_uri="+url.QueryEscape(acmeRedirect))
		require.Equal(t, me.ID, b.me(t, fragment(t, r, http.StatusFound, testDashboardURL+"/auth/callback").Get("access_token")).ID)
	})

	t.Run("WithoutRedirectURIShowsAPage", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		r := b.newBrowser(t).social(t, startPath("github", "org", acmeSlug, "service", webSlug))
		requirePage(t, r, http.StatusOK, "Signed in")
		require.NotContains(t, string(r.body), "token")
		require.Equal(t, 1, b.countUsers(t, octocatEmail))
	})

	t.Run("StartIsValidated", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		for _, tc := range []struct {
			name, path string
			status     int
			code, msg  string
		}{
			{"UnknownProvider", startPath("gitlab", "org", acmeSlug, "service", webSlug), http.StatusBadRequest, httpapi.CodeBadRequest, msgInvalidProvider},
			{"NoService", startPath("github", "org", acmeSlug), http.StatusBadRequest, httpapi.CodeBadRequest, "org and service are required"},
			{"NoOrg", startPath("github"), http.StatusBadRequest, httpapi.CodeBadRequest, "org and service are required"},
			{"UnknownOrg", startPath("github", "org", "nope", "service", webSlug), http.StatusNotFound, httpapi.CodeNotFound, "Organization or service not found"},
			{"NoPlatformApp", startPath("microsoft", "org", acmeSlug, "service", webSlug), http.StatusBadRequest, httpapi.CodeBadRequest, msgProviderUnavailable},
			{"UserCodeOfNoDevice", startPath("github", "org", acmeSlug, "service", webSlug, "user_code", "ABCD-EFGH"), http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := br.get(t, tc.path)
				requireProblem(t, r, tc.status, tc.code, tc.msg)
				require.Nil(t, setCookie(r, "authos_oauth"))
			})
		}

		// The tier's provider list constrains the platform's apps.
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { s.AllowedProviders = []string{"google"} })
		requireProblem(t, br.get(t, acmeStart("x")), http.StatusBadRequest, httpapi.CodeBadRequest, msgProviderUnavailable)
		// Only active organizations authenticate.
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { s.OrgStatus = "suspended" })
		requireProblem(t, br.get(t, startPath("google", "org", acmeSlug, "service", webSlug)), http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE", "")
		require.Zero(t, b.oauthStateCount(t))
		require.Empty(t, b.fake.Requests(), "nothing reached the provider")
	})
}

func TestSocialLoginAttacks(t *testing.T) {
	t.Parallel()

	t.Run("ReplayedCallbackFails", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		_, cb := br.toProvider(t, acmeStart("s"))
		binding := br.cookie(t, "/auth", "authos_oauth").Value
		fragment(t, br.get(t, cb), http.StatusFound, acmeRedirect)
		u := b.tenantUser(t, b.acme, octocatEmail)
		require.Equal(t, 1, b.sessionCount(t, u.ID))

		// The same state and code, even with the original flow cookie.
		for _, opts := range [][]reqOpt{{withCookie("authos_oauth", binding)}, nil} {
			r := br.get(t, cb, opts...)
			requirePage(t, r, http.StatusBadRequest, "Authentication Failed", "Invalid or expired state")
			require.Empty(t, r.header.Get("Location"))
		}
		require.Equal(t, 1, b.sessionCount(t, u.ID), "a replay issues no session")
	})

	t.Run("StateFromAnotherBrowserFails", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		victim := b.newBrowser(t)
		_, cb := victim.toProvider(t, acmeStart("s"))

		// An attacker's browser without a flow cookie.
		r := b.newBrowser(t).get(t, cb)
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
		require.Empty(t, r.header.Get("Location"))
		require.NotContains(t, string(r.body), "access_token")
		require.Zero(t, b.countUsers(t, octocatEmail))

		// A browser with its own, valid flow cookie of another flow.
		victim2 := b.newBrowser(t)
		_, cb2 := victim2.toProvider(t, acmeStart("s2"))
		attacker := b.newBrowser(t)
		attacker.toProvider(t, acmeStart("mine"))
		require.NotNil(t, attacker.cookie(t, "/auth", "authos_oauth"))
		r = attacker.get(t, cb2)
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
		require.Empty(t, r.header.Get("Location"))
		// A forged cookie value.
		r = b.newBrowser(t).get(t, cb2, withCookie("authos_oauth", "forged"))
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
		require.Zero(t, b.countUsers(t, octocatEmail))
	})

	t.Run("ExpiredStateFails", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		_, cb := br.toProvider(t, acmeStart("s"))
		b.clock.Advance(identity.OAuthStateLifetime + time.Second)
		r := br.get(t, cb)
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
		require.Empty(t, r.header.Get("Location"))
		require.Zero(t, b.countUsers(t, octocatEmail))

		// Just inside the lifetime it works.
		br2 := b.newBrowser(t)
		_, cb = br2.toProvider(t, acmeStart("s"))
		b.clock.Advance(identity.OAuthStateLifetime - time.Second)
		fragment(t, br2.get(t, cb), http.StatusFound, acmeRedirect)
	})

	t.Run("ForgedStateFails", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		_, cb := br.toProvider(t, acmeStart("s"))
		u, err := url.Parse(cb)
		require.NoError(t, err)
		q := u.Query()
		for name, mutate := range map[string]func(url.Values){
			"NoState": func(v url.Values) { v.Del("state") },
			"UnknownState": func(v url.Values) {
				st := v.Get("state")
				first := "x"
				if st[0] == 'x' {
					first = "y"
				}
				v.Set("state", first+st[1:])
			},
			"HugeState": func(v url.Values) { v.Set("state", strings.Repeat("a", 300)) },
		} {
			v := url.Values{}
			for k, vs := range q {
				v[k] = vs
			}
			mutate(v)
			r := br.get(t, "/auth/github/callback?"+v.Encode())
			requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
			require.Empty(t, r.header.Get("Location"), name)
		}
		// A GitHub state presented at another provider's callback is spent.
		_, cb = br.toProvider(t, acmeStart("s"))
		r := br.get(t, strings.Replace(cb, "/auth/github/callback", "/auth/google/callback", 1))
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed")
		requirePage(t, br.get(t, cb), http.StatusBadRequest, "Authentication Failed")
		require.Zero(t, b.countUsers(t, octocatEmail))
	})

	t.Run("RedirectURIVariantsAreRefusedAtStart", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		br := b.newBrowser(t)
		for _, v := range []string{
			"https://app.acme.example.evil.test/callback",   // suffix host
			"https://evilapp.acme.example/callback",         // prefix host
			"https://evil.test/app.acme.example/callback",   // host in path
			"https://app.acme.example@evil.test/callback",   // userinfo
			"https://evil.test@app.acme.example/callback",   // userinfo
			"https://app.acme.example/Callback",             // path case
			"https://app.acme.example/CALLBACK",             // path case
			"https://app.acme.example/callback/",            // trailing slash
			"https://app.acme.example/callback/../evil",     // traversal
			"https://app.acme.example/evil/../callback",     // traversal
			"https://app.acme.example/evil/%2e%2e/callback", // encoded traversal
			"https://app.acme.example/evil/%2E%2E/callback", // encoded traversal
			"https://app.acme.example/evil%2f..%2fcallback", // encoded slash
			"https://app.acme.example/callback?next=evil",   // extra query
			"https://app.acme.example/callback?",            // empty query
			"https://app.acme.example/callback#frag",        // fragment
			"https://app.acme.example/callback#",            // empty fragment
			"https://app.acme.example:444/callback",         // port
			"http://app.acme.example/callback",              // scheme downgrade
			"javascript:alert(1)//https://app.acme.example/callback",
			"javascript://app.acme.example/callback",
			"//app.acme.example/callback", // scheme-relative
			"/callback",                   // relative
			"https://app.acme.example\\@evil.test/callback",
			"https://app.acme.example/callback\t",
			"http://localhost:8081/cb", // another loopback port
		} {
			r := br.get(t, acmeStartWith("github", v))
			requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, msgRedirectNotRegistered)
			require.Nil(t, setCookie(r, "authos_oauth"), v)
		}
		require.Zero(t, b.oauthStateCount(t))
		require.Empty(t, b.fake.Requests())

		// Tenancy's normalisation: only the scheme and host are
		// case-insensitive; loopback http is a registered URI of its own.
		for _, v := range []string{acmeRedirect, "HTTPS://APP.ACME.EXAMPLE/callback", "http://localhost:8080/cb"} {
			r := b.newBrowser(t).get(t, acmeStartWith("github", v))
			require.Equal(t, http.StatusFound, r.status, v+": "+string(r.body))
		}
	})

	t.Run("UnverifiedProviderEmailNeverMerges", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		victim := b.serviceUser(t, "victim@acme.example")
		for i, email := range []string{"victim@acme.example", "VICTIM@acme.example"} {
			b.fake.SetUser(fakeoauth.GitHub, fakeoauth.User{ID: "6660" + string(rune('0'+i)), Login: "mallory", Email: email, EmailVerified: false})
			frag := fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
			require.Equal(t, "access_denied", frag.Get("error"))
			require.Equal(t, "Your provider account has no verified email address", frag.Get("error_description"))
			require.Equal(t, "s", frag.Get("state"))
			require.Empty(t, frag.Get("access_token"))
		}
		after := b.tenantUser(t, b.acme, "victim@acme.example")
		require.Equal(t, victim.PasswordHash, after.PasswordHash)
		require.Equal(t, victim.EmailVerifiedAt, after.EmailVerifiedAt)
		require.Equal(t, []string{"password"}, b.providersOf(t, victim.ID))
		require.Equal(t, 1, b.countUsers(t, "victim@acme.example"))
		require.Zero(t, b.sessionCount(t, victim.ID))
		b.serviceLogin(t, "victim@acme.example")
	})

	t.Run("VerifiedEmailClaimsUnverifiedSquatter", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		body := map[string]string{"email": "claim@acme.example", "password": goodPassword, "org_slug": acmeSlug, "service_slug": webSlug}
		requireMessage(t, b.post(t, "/api/auth/register", body), msgRegistered)
		squatter := b.tenantUser(t, b.acme, "claim@acme.example")
		require.True(t, squatter.HasPassword())
		require.Nil(t, squatter.EmailVerifiedAt)

		b.fake.SetUser(fakeoauth.GitHub, fakeoauth.User{ID: "4242", Login: "owner", Email: "claim@acme.example", EmailVerified: true})
		frag := fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		require.Equal(t, squatter.ID.String(), b.me(t, frag.Get("access_token")).ID)

		after := b.tenantUser(t, b.acme, "claim@acme.example")
		require.False(t, after.HasPassword(), "the squatter's password is removed")
		require.NotNil(t, after.EmailVerifiedAt)
		require.Equal(t, []string{"github"}, b.providersOf(t, squatter.ID))
		requireProblem(t, b.post(t, "/api/auth/login", body), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		require.Len(t, b.eventsFor("provider_account.linked", squatter.ID), 1)
	})

	t.Run("ProviderDenialIsReportedOnTheRedirect", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		b.fake.DenyNext(fakeoauth.GitHub)
		frag := fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		require.Equal(t, "access_denied", frag.Get("error"))
		require.Equal(t, "s", frag.Get("state"))
		require.Empty(t, frag.Get("access_token"))
		require.Zero(t, b.countUsers(t, octocatEmail))

		// Without a redirect URI the denial is a page.
		b.fake.DenyNext(fakeoauth.GitHub)
		r := b.newBrowser(t).social(t, startPath("github", "org", acmeSlug, "service", webSlug))
		requirePage(t, r, http.StatusBadRequest, "Authentication Failed", "cancelled")
	})
}

// acmeStartWith starts a login to acme/web-app with redirectURI.
func acmeStartWith(provider, redirectURI string) string {
	return startPath(provider, "org", acmeSlug, "service", webSlug, "redirect_uri", redirectURI)
}

func TestIdentityLinking(t *testing.T) {
	t.Parallel()

	type linkBody struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	startLink := func(t *testing.T, b *oauthBundle, provider, access, query string) string {
		t.Helper()
		r := b.post(t, "/api/user/identities/"+provider+"/link"+query, nil, bearer(access))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var body linkBody
		require.NoError(t, json.Unmarshal(r.body, &body))
		u, err := url.Parse(body.AuthorizationURL)
		require.NoError(t, err)
		require.Equal(t, "S256", u.Query().Get("code_challenge_method"))
		require.NotEmpty(t, u.Query().Get("state"))
		return body.AuthorizationURL
	}
	// completeLink lets the provider answer the link flow and returns the
	// callback's response (in a fresh browser: the flow is bound to the
	// user, not to a browser).
	completeLink := func(t *testing.T, b *oauthBundle, authURL string) response {
		t.Helper()
		br := b.newBrowser(t)
		cb := location(t, br.get(t, authURL), http.StatusFound)
		return br.get(t, cb.String())
	}
	listIdentities := func(t *testing.T, b *oauthBundle, access string) []string {
		t.Helper()
		r := b.get(t, "/api/user/identities", bearer(access))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var list []map[string]string
		require.NoError(t, json.Unmarshal(r.body, &list))
		out := []string{}
		for _, i := range list {
			require.Len(t, i, 1)
			out = append(out, i["provider"])
		}
		return out
	}

	t.Run("LinksTheProviderToTheCaller", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		require.Equal(t, []string{"password"}, listIdentities(t, b, tp.AccessToken))

		r := completeLink(t, b, startLink(t, b, "github", tp.AccessToken, ""))
		requirePage(t, r, http.StatusOK, "Account linked")
		ids := b.identitiesOf(t, alice.ID)
		require.Len(t, ids, 2)
		require.Equal(t, "github", ids[0].Provider)
		require.Equal(t, octocatID, ids[0].ProviderUserID)
		require.Equal(t, &b.acme, ids[0].OrgID)
		require.Equal(t, &b.web, ids[0].ServiceID)
		require.Equal(t, []string{"github", "password"}, listIdentities(t, b, tp.AccessToken))
		require.Len(t, b.eventsFor("provider_account.linked", alice.ID), 1)
		require.Zero(t, b.countUsers(t, octocatEmail), "linking creates no account")

		// GitHub now signs alice in, although its email differs.
		frag := fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		require.Equal(t, alice.ID.String(), b.me(t, frag.Get("access_token")).ID)
	})

	t.Run("ReturnsToARegisteredRedirectURI", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		r := completeLink(t, b, startLink(t, b, "github", tp.AccessToken, "?redirect_uri="+url.QueryEscape(acmeRedirect)))
		frag := fragment(t, r, http.StatusFound, acmeRedirect)
		require.Equal(t, "github", frag.Get("linked"))
		require.Empty(t, frag.Get("access_token"))
		require.Equal(t, []string{"github", "password"}, b.providersOf(t, alice.ID))

		r = b.post(t, "/api/user/identities/github/link?redirect_uri="+url.QueryEscape("https://evil.test/callback"), nil, bearer(tp.AccessToken))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, msgRedirectNotRegistered)
	})

	t.Run("AccountOfAnotherUserIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		// octocat signs up with GitHub first.
		fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		octocat := b.tenantUser(t, b.acme, octocatEmail)

		alice := b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		r := completeLink(t, b, startLink(t, b, "github", tp.AccessToken, ""))
		requirePage(t, r, http.StatusBadRequest, "already linked to another user")
		frag := fragment(t, completeLink(t, b, startLink(t, b, "github", tp.AccessToken, "?redirect_uri="+url.QueryEscape(acmeRedirect))),
			http.StatusFound, acmeRedirect)
		require.Equal(t, "access_denied", frag.Get("error"))
		require.Equal(t, "This provider account is already linked to another user", frag.Get("error_description"))

		require.Equal(t, []string{"password"}, b.providersOf(t, alice.ID))
		require.Equal(t, []string{"github"}, b.providersOf(t, octocat.ID))
	})

	t.Run("UnlinkKeepsTheLastIdentity", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		requirePage(t, completeLink(t, b, startLink(t, b, "github", tp.AccessToken, "")), http.StatusOK, "Account linked")

		requireProblem(t, b.del(t, "/api/user/identities/google", nil, bearer(tp.AccessToken)), http.StatusNotFound, httpapi.CodeNotFound,
			"Identity for provider 'google' not found")
		r := b.del(t, "/api/user/identities/github", nil, bearer(tp.AccessToken))
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Equal(t, []string{"password"}, listIdentities(t, b, tp.AccessToken))
		require.Len(t, b.eventsFor("provider_account.unlinked", alice.ID), 1)

		require.Equal(t, []string{"password"}, b.providersOf(t, alice.ID))

		// A GitHub-only account cannot unlink GitHub.
		frag := fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		octocat := b.tenantUser(t, b.acme, octocatEmail)
		requireProblem(t, b.del(t, "/api/user/identities/github", nil, bearer(frag.Get("access_token"))), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Cannot unlink last identity. At least one identity must remain.")
		require.Equal(t, []string{"github"}, b.providersOf(t, octocat.ID))
		require.Empty(t, b.eventsFor("provider_account.unlinked", octocat.ID))
	})

	t.Run("UnlinkingThePasswordEndsPasswordLogin", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		requirePage(t, completeLink(t, b, startLink(t, b, "github", tp.AccessToken, "")), http.StatusOK, "Account linked")
		r := b.del(t, "/api/user/identities/password", nil, bearer(tp.AccessToken))
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Equal(t, []string{"github"}, b.providersOf(t, alice.ID))
		require.Empty(t, b.tenantUser(t, b.acme, "alice@acme.example").PasswordHash)
		r = b.post(t, "/api/auth/login", map[string]string{"email": "alice@acme.example", "password": goodPassword,
			"org_slug": acmeSlug, "service_slug": webSlug})
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
		// GitHub is now the last identity.
		requireProblem(t, b.del(t, "/api/user/identities/github", nil, bearer(tp.AccessToken)), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Cannot unlink last identity. At least one identity must remain.")
	})

	t.Run("IdentitiesAreContextScoped", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		fragment(t, b.newBrowser(t).social(t, acmeStart("s")), http.StatusFound, acmeRedirect)
		u := b.tenantUser(t, b.acme, octocatEmail)
		// A session outside the service sees none of the service's identities.
		toks, err := b.mod.IssueSession(t.Context(), u.ID, "github")
		require.NoError(t, err)
		require.Empty(t, listIdentities(t, b, toks.AccessToken))
		requireProblem(t, b.del(t, "/api/user/identities/github", nil, bearer(toks.AccessToken)), http.StatusNotFound, httpapi.CodeNotFound, "")
		require.Equal(t, []string{"github"}, b.providersOf(t, u.ID))
	})

	t.Run("NeedsAValidRequest", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		b.serviceUser(t, "alice@acme.example")
		tp := b.serviceLogin(t, "alice@acme.example")
		requireProblem(t, b.post(t, "/api/user/identities/gitlab/link", nil, bearer(tp.AccessToken)), http.StatusBadRequest, httpapi.CodeBadRequest, msgInvalidProvider)
		requireProblem(t, b.post(t, "/api/user/identities/microsoft/link", nil, bearer(tp.AccessToken)), http.StatusBadRequest, httpapi.CodeBadRequest, msgProviderUnavailable)
		for _, r := range []response{
			b.post(t, "/api/user/identities/github/link", nil),
			b.get(t, "/api/user/identities"),
			b.del(t, "/api/user/identities/github", nil),
			b.post(t, "/api/user/identities/github/link", nil, bearer("not-a-token")),
		} {
			require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
		}
		require.Zero(t, b.oauthStateCount(t))
	})
}
