package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

// userCodePattern is the shown form of a user code: XXXX-XXXX from the
// alphabet without 0/O and 1/I.
var userCodePattern = regexp.MustCompile(`^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}$`)

const msgDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceCodeBody is POST /auth/device/code's answer.
type deviceCodeBody struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// deviceCode starts a device authorization with a JSON body.
func (b *oauthBundle) deviceCode(t *testing.T, client, org, service string) deviceCodeBody {
	t.Helper()
	r := b.post(t, "/auth/device/code", map[string]string{"client_id": client, "org": org, "service": service})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	require.ElementsMatch(t, []string{"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"}, keysOf(raw))
	var d deviceCodeBody
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Regexp(t, userCodePattern, d.UserCode)
	require.GreaterOrEqual(t, len(d.DeviceCode), 32)
	require.Equal(t, 900, d.ExpiresIn)
	require.Equal(t, 5, d.Interval)
	return d
}

// webDeviceCode starts a device authorization for acme/web-app.
func (b *oauthBundle) webDeviceCode(t *testing.T) deviceCodeBody {
	t.Helper()
	return b.deviceCode(t, b.webClient, acmeSlug, webSlug)
}

// poll is the device's POST /auth/token (form body, as OAuth clients send).
func (b *oauthBundle) poll(t *testing.T, client, deviceCode string) response {
	t.Helper()
	return b.postForm(t, "/auth/token", form("grant_type", msgDeviceGrant, "client_id", client, "device_code", deviceCode))
}

// deviceToken is POST /auth/token's success.
type deviceToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

func decodeDeviceToken(t *testing.T, r response) deviceToken {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Equal(t, "no-cache", r.header.Get("Pragma"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	require.ElementsMatch(t, []string{"access_token", "token_type", "expires_in"}, keysOf(raw), "the refresh token stays on the server")
	var tok deviceToken
	require.NoError(t, json.Unmarshal(r.body, &tok))
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, 86400, tok.ExpiresIn)
	return tok
}

func requirePending(t *testing.T, r response) {
	t.Helper()
	requireOAuthProblem(t, r, http.StatusBadRequest, "DEVICE_CODE_PENDING", "authorization_pending", "Authorization pending")
}

// activate opens the activation page and submits the user code; it
// returns the verified page.
func (br *browser) activate(t *testing.T, userCode string) response {
	t.Helper()
	page := br.get(t, "/activate?user_code="+url.QueryEscape(userCode))
	requirePage(t, page, http.StatusOK, `name="user_code"`, html.EscapeString(userCode))
	return br.postForm(t, "/activate", form("csrf_token", csrfToken(t, page), "user_code", userCode))
}

// approveByPassword approves a user code on the activation pages with a
// password login and returns the login's response.
func (br *browser) approveByPassword(t *testing.T, userCode, email, password string) response {
	t.Helper()
	verified := br.activate(t, userCode)
	requirePage(t, verified, http.StatusOK, `action="/activate/login"`, strings.ToUpper(userCode))
	return br.postForm(t, "/activate/login", form("csrf_token", csrfToken(t, verified), "user_code", userCode, "email", email, "password", password))
}

// providerLinkPattern finds a provider button of a hosted page.
var providerLinkPattern = regexp.MustCompile(`href="([^"]+)" data-provider="([a-z]+)"`)

// providerLinks returns the provider buttons of a page by provider.
func providerLinks(t *testing.T, r response) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range providerLinkPattern.FindAllSubmatch(r.body, -1) {
		out[string(m[2])] = html.UnescapeString(string(m[1]))
	}
	return out
}

// afterInterval moves the clock past a poll interval.
func (b *testBundle) afterInterval(seconds int) {
	b.clock.Advance(time.Duration(seconds)*time.Second + time.Second)
}

func TestDeviceAuthorization(t *testing.T) {
	t.Parallel()

	t.Run("IssuesCodes", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		d := b.webDeviceCode(t)
		require.Equal(t, acmeActivate, d.VerificationURI)
		require.Equal(t, acmeActivate+"?user_code="+d.UserCode, d.VerificationURIComplete)
		var stored int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM device_codes WHERE device_code_hash = $1 AND user_code = $2`,
			sha256Hex(d.DeviceCode), strings.ReplaceAll(d.UserCode, "-", "")).Scan(&stored))
		require.Equal(t, 1, stored, "only the device code's hash is stored")

		// Form bodies, as standard OAuth clients send them.
		r := b.postForm(t, "/auth/device/code", form("client_id", b.webClient, "org", acmeSlug, "service", webSlug))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var f deviceCodeBody
		require.NoError(t, json.Unmarshal(r.body, &f))
		require.Regexp(t, userCodePattern, f.UserCode)
		require.NotEqual(t, d.DeviceCode, f.DeviceCode)

		// An activation URI with a query gets the user code appended.
		g := b.deviceCode(t, b.globexWebClient, globexSlug, webSlug)
		require.Equal(t, "https://app.globex.example/activate?from=device&user_code="+g.UserCode, g.VerificationURIComplete)

		seen := map[string]bool{d.UserCode: true, f.UserCode: true, g.UserCode: true}
		for range 20 {
			c := b.webDeviceCode(t)
			require.False(t, seen[c.UserCode])
			seen[c.UserCode] = true
		}
	})

	t.Run("RefusesBadRequests", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		for _, tc := range []struct {
			name                    string
			body                    any
			status                  int
			code, oauthErr, message string
		}{
			{"WrongClient", map[string]string{"client_id": "nope", "org": acmeSlug, "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_client", "Invalid client credentials"},
			{"AnotherServicesClient", map[string]string{"client_id": b.noDeviceClient, "org": acmeSlug, "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_client", "Invalid client credentials"},
			{"UnknownOrg", map[string]string{"client_id": b.webClient, "org": "nope", "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_client", "Invalid client credentials"},
			{"NoActivationURI", map[string]string{"client_id": b.noDeviceClient, "org": acmeSlug, "service": noDeviceSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_client", "Device activation URI not configured for this service"},
			{"PlatformCLIWithAnotherClient", map[string]string{"client_id": "platform-other", "org": cliOrg, "service": cliService}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_client", "Invalid client credentials"},
			{"MissingClient", map[string]string{"org": acmeSlug, "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
			{"MissingService", map[string]string{"client_id": b.webClient, "org": acmeSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
			{"BadCharset", map[string]string{"client_id": b.webClient, "org": "ac me", "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
			{"LongClient", map[string]string{"client_id": strings.Repeat("a", 501), "org": acmeSlug, "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
			{"LongOrg", map[string]string{"client_id": b.webClient, "org": strings.Repeat("a", 101), "service": webSlug}, http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
			{"NotJSON", "{", http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				requireOAuthProblem(t, b.post(t, "/auth/device/code", tc.body), tc.status, tc.code, tc.oauthErr, tc.message)
			})
		}
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { s.OrgStatus = "suspended" })
		requireOAuthProblem(t, b.post(t, "/auth/device/code", map[string]string{"client_id": b.webClient, "org": acmeSlug, "service": webSlug}),
			http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE", "access_denied", "")
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM device_codes`).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("VerifiesUserCodes", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		d := b.webDeviceCode(t)
		type verifyBody struct {
			OrgSlug            string   `json:"org_slug"`
			ServiceSlug        string   `json:"service_slug"`
			AvailableProviders []string `json:"available_providers"`
		}
		for _, typed := range []string{d.UserCode, strings.ToLower(d.UserCode), strings.ReplaceAll(d.UserCode, "-", ""), " " + d.UserCode + " "} {
			r := b.post(t, "/auth/device/verify", map[string]string{"user_code": typed})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			var v verifyBody
			require.NoError(t, json.Unmarshal(r.body, &v))
			require.Equal(t, verifyBody{OrgSlug: acmeSlug, ServiceSlug: webSlug, AvailableProviders: []string{"github", "google"}}, v)
		}
		r := b.postForm(t, "/auth/device/verify", form("user_code", d.UserCode))
		require.Equal(t, http.StatusOK, r.status, string(r.body))

		// A code whose service is gone.
		gone := b.webDeviceCode(t)
		b.scopes.mu.Lock()
		web := b.scopes.scopes[acmeSlug+"/"+webSlug]
		delete(b.scopes.scopes, acmeSlug+"/"+webSlug)
		b.scopes.mu.Unlock()
		requireProblem(t, b.post(t, "/auth/device/verify", map[string]string{"user_code": gone.UserCode}), http.StatusNotFound, httpapi.CodeNotFound,
			"Organization or service not found")
		requirePage(t, b.newBrowser(t).activate(t, gone.UserCode), http.StatusNotFound, "Organization or service not found.")
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { *s = web })

		for typed, msg := range map[string]string{
			"ABCD-EFG":  "Invalid user code format",
			"ABCD-EFG0": "Invalid user code format", // 0 is not in the alphabet
			"ABCD-EFGI": "Invalid user code format", // nor is I
			"":          "Invalid user code format",
			"ABCD-EFGH": "Invalid user code",
		} {
			requireProblem(t, b.post(t, "/auth/device/verify", map[string]string{"user_code": typed}), http.StatusBadRequest, httpapi.CodeBadRequest, msg)
		}
	})

	t.Run("PollingFollowsRFC8628", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		d := b.webDeviceCode(t)

		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))
		// Polling again at once is too fast: slow_down, and the interval grows.
		requireOAuthProblem(t, b.poll(t, b.webClient, d.DeviceCode), http.StatusBadRequest, "DEVICE_CODE_SLOW_DOWN", "slow_down", "")
		var interval int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT interval_seconds FROM device_codes WHERE device_code_hash = $1`, sha256Hex(d.DeviceCode)).Scan(&interval))
		require.Equal(t, 10, interval)
		b.afterInterval(5)
		requireOAuthProblem(t, b.poll(t, b.webClient, d.DeviceCode), http.StatusBadRequest, "DEVICE_CODE_SLOW_DOWN", "slow_down", "")
		b.afterInterval(15)
		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))

		// Another client, another grant type or an unknown code.
		b.afterInterval(15)
		requireOAuthProblem(t, b.poll(t, b.noDeviceClient, d.DeviceCode), http.StatusUnauthorized, httpapi.CodeUnauthorized, "invalid_client", "Invalid client")
		requireOAuthProblem(t, b.postForm(t, "/auth/token", form("grant_type", "authorization_code", "client_id", b.webClient, "device_code", d.DeviceCode)),
			http.StatusBadRequest, httpapi.CodeBadRequest, "unsupported_grant_type", "Invalid grant type")
		requireOAuthProblem(t, b.poll(t, b.webClient, "x"+d.DeviceCode), http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_grant", "Invalid device code")

		res := b.newBrowser(t).approveByPassword(t, d.UserCode, "alice@acme.example", goodPassword)
		require.Equal(t, "/activate/success", location(t, res, http.StatusSeeOther).String())
		requireProblem(t, b.post(t, "/auth/device/verify", map[string]string{"user_code": d.UserCode}), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Device already authorized")
		require.Zero(t, b.sessionCount(t, alice.ID), "the approval itself issues no session")

		b.afterInterval(15)
		tok := decodeDeviceToken(t, b.poll(t, b.webClient, d.DeviceCode))
		me := b.me(t, tok.AccessToken)
		require.Equal(t, alice.ID.String(), me.ID)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
		x := b.session(t, sessionID(t, tok.AccessToken))
		require.Equal(t, "device_code", x.AuthMethod)
		logins := b.eventsFor("user.login.success", alice.ID)
		require.Len(t, logins, 1)
		require.Equal(t, "device_code", logins[0].Details["auth_method"])

		// The code is single use.
		b.afterInterval(15)
		requireOAuthProblem(t, b.poll(t, b.webClient, d.DeviceCode), http.StatusBadRequest, httpapi.CodeBadRequest, "invalid_grant", "Invalid device code")
		requireProblem(t, b.post(t, "/auth/device/verify", map[string]string{"user_code": d.UserCode}), http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code")
		require.Equal(t, 1, b.sessionCount(t, alice.ID))
	})

	t.Run("CodesExpireAfter15Minutes", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		b.serviceUser(t, "alice@acme.example")
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)
		verified := br.activate(t, d.UserCode)
		requirePage(t, verified, http.StatusOK, `action="/activate/login"`)

		b.clock.Advance(identity.DeviceCodeLifetime)
		requireOAuthProblem(t, b.poll(t, b.webClient, d.DeviceCode), http.StatusBadRequest, "DEVICE_CODE_EXPIRED", "expired_token", "Device code has expired")
		requireOAuthProblem(t, b.post(t, "/auth/device/verify", map[string]string{"user_code": d.UserCode}), http.StatusBadRequest, "DEVICE_CODE_EXPIRED",
			"expired_token", "Device code has expired")
		r := br.postForm(t, "/activate/login", form("csrf_token", csrfToken(t, verified), "user_code", d.UserCode, "email", "alice@acme.example", "password", goodPassword))
		requirePage(t, r, http.StatusBadRequest, "That code has expired")
		r = b.newBrowser(t).get(t, startPath("github", "org", acmeSlug, "service", webSlug, "user_code", d.UserCode))
		requireProblem(t, r, http.StatusBadRequest, "DEVICE_CODE_EXPIRED", "Device code has expired")
	})

	t.Run("ApprovalOnTheActivationPages", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)

		// Forms without the page's CSRF token are refused.
		requirePage(t, br.postForm(t, "/activate", form("user_code", d.UserCode)), http.StatusForbidden)
		page := br.get(t, "/activate")
		requirePage(t, br.postForm(t, "/activate", form("csrf_token", "x"+csrfToken(t, page)[1:], "user_code", d.UserCode)), http.StatusForbidden)
		requirePage(t, b.newBrowser(t).postForm(t, "/activate", form("csrf_token", csrfToken(t, page), "user_code", d.UserCode)), http.StatusForbidden,
			"The form expired")

		// Typos are reported on the page.
		requirePage(t, br.postForm(t, "/activate", form("csrf_token", csrfToken(t, page), "user_code", "ABCD-EFGH")), http.StatusBadRequest, "That code is not valid")

		verified := br.activate(t, strings.ToLower(d.UserCode))
		requirePage(t, verified, http.StatusOK, d.UserCode, "Service web-app", "Acme Corp")
		links := providerLinks(t, verified)
		require.Len(t, links, 2)
		require.Equal(t, startPath("github", "org", acmeSlug, "service", webSlug, "user_code", d.UserCode), links["github"])

		r := br.postForm(t, "/activate/login", form("csrf_token", csrfToken(t, verified), "user_code", d.UserCode, "email", "alice@acme.example", "password", otherPassword))
		requirePage(t, r, http.StatusUnauthorized, "Invalid email or password.")
		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))
		requirePage(t, br.postForm(t, "/activate/login", form("user_code", d.UserCode, "email", "alice@acme.example", "password", goodPassword)), http.StatusForbidden)

		r = br.postForm(t, "/activate/login", form("csrf_token", csrfToken(t, verified), "user_code", d.UserCode, "email", "alice@acme.example", "password", goodPassword))
		require.Equal(t, "/activate/success", location(t, r, http.StatusSeeOther).String())
		requirePage(t, br.get(t, "/activate/success"), http.StatusOK)
		b.afterInterval(5)
		require.Equal(t, alice.ID.String(), b.me(t, decodeDeviceToken(t, b.poll(t, b.webClient, d.DeviceCode)).AccessToken).ID)

		// An end user without access to the service cannot approve its devices.
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "bob@acme.example", "password": goodPassword,
			"org_slug": acmeSlug, "service_slug": noDeviceSlug}), msgRegistered)
		b.verifyEmail(t, "bob@acme.example")
		d2 := b.webDeviceCode(t)
		r = b.newBrowser(t).approveByPassword(t, d2.UserCode, "bob@acme.example", goodPassword)
		requirePage(t, r, http.StatusForbidden, "You do not have access to this service.")
		requirePending(t, b.poll(t, b.webClient, d2.DeviceCode))
	})

	t.Run("ApprovalBySocialLogin", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)
		links := providerLinks(t, br.activate(t, d.UserCode))

		// The code belongs to acme/web-app: another service cannot approve it.
		r := br.get(t, startPath("github", "org", globexSlug, "service", webSlug, "user_code", d.UserCode))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code")

		r = br.social(t, links["github"])
		require.Equal(t, "/activate/success", location(t, r, http.StatusFound).String())
		requireProblem(t, b.newBrowser(t).get(t, links["github"]), http.StatusBadRequest, httpapi.CodeBadRequest, "Device already authorized")

		tok := decodeDeviceToken(t, b.poll(t, b.webClient, d.DeviceCode))
		me := b.me(t, tok.AccessToken)
		require.Equal(t, octocatEmail, me.Email)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
		require.Equal(t, b.tenantUser(t, b.acme, octocatEmail).ID.String(), me.ID)
	})

	t.Run("PlatformCLI", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		admin := b.verifiedUser(t, "admin@example.test", goodPassword)
		d := b.deviceCode(t, cliClient, cliOrg, cliService)
		require.Equal(t, testDashboardURL+"/activate", d.VerificationURI)
		require.Equal(t, testDashboardURL+"/activate?user_code="+d.UserCode, d.VerificationURIComplete)
		v := b.post(t, "/auth/device/verify", map[string]string{"user_code": d.UserCode})
		require.Equal(t, http.StatusOK, v.status, string(v.body))
		require.JSONEq(t, `{"org_slug":"platform","service_slug":"admin-cli","available_providers":["github","google"]}`, string(v.body))

		// An end user of an organization is not a platform user.
		b.serviceUser(t, "alice@acme.example")
		br := b.newBrowser(t)
		requirePage(t, br.approveByPassword(t, d.UserCode, "alice@acme.example", goodPassword), http.StatusUnauthorized)
		// A platform user approves with a password; the platform session
		// has no org and no service.
		verified := br.activate(t, d.UserCode)
		links := providerLinks(t, verified)
		require.Equal(t, "/auth/admin/github?user_code="+url.QueryEscape(d.UserCode), links["github"])
		r := br.postForm(t, "/activate/login", form("csrf_token", csrfToken(t, verified), "user_code", d.UserCode, "email", "admin@example.test", "password", goodPassword))
		require.Equal(t, "/activate/success", location(t, r, http.StatusSeeOther).String())
		me := b.me(t, decodeDeviceToken(t, b.poll(t, cliClient, d.DeviceCode)).AccessToken)
		require.Equal(t, admin.ID.String(), me.ID)
		require.Empty(t, me.Org)
		require.Empty(t, me.Service)

		// The platform's GitHub app approves CLI codes for platform users,
		// through /auth/admin/:provider or the CLI's org/service pair.
		for _, start := range []func(code string) string{
			func(code string) string { return "/auth/admin/github?user_code=" + url.QueryEscape(code) },
			func(code string) string {
				return startPath("github", "org", cliOrg, "service", cliService, "user_code", code)
			},
		} {
			d := b.deviceCode(t, cliClient, cliOrg, cliService)
			r := b.newBrowser(t).social(t, start(d.UserCode))
			require.Equal(t, "/activate/success", location(t, r, http.StatusFound).String())
			me := b.me(t, decodeDeviceToken(t, b.poll(t, cliClient, d.DeviceCode)).AccessToken)
			require.Equal(t, octocatEmail, me.Email)
			require.Empty(t, me.Org)
			require.Equal(t, b.user(t, octocatEmail).ID.String(), me.ID, "a platform-level user")
		}
		// The CLI's pair never carries a redirect URI, and without a user
		// code it names no organization.
		d = b.deviceCode(t, cliClient, cliOrg, cliService)
		requireProblem(t, b.newBrowser(t).get(t, startPath("github", "org", cliOrg, "service", cliService, "user_code", d.UserCode, "redirect_uri", acmeRedirect)),
			http.StatusBadRequest, httpapi.CodeBadRequest, msgRedirectNotRegistered)
		requireProblem(t, b.newBrowser(t).get(t, startPath("github", "org", cliOrg, "service", cliService)), http.StatusNotFound, httpapi.CodeNotFound, "")
		// A CLI code is not an organization's, and vice versa.
		d = b.deviceCode(t, cliClient, cliOrg, cliService)
		requireProblem(t, b.newBrowser(t).get(t, startPath("github", "org", acmeSlug, "service", webSlug, "user_code", d.UserCode)),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code")
		w := b.webDeviceCode(t)
		requireProblem(t, b.newBrowser(t).get(t, "/auth/admin/github?user_code="+url.QueryEscape(w.UserCode)), http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code")
	})

	t.Run("GolangOAuth2Interop", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		rt := &pollingTransport{clock: b.testBundle, pending: make(chan struct{})}
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: rt, Timeout: 30 * time.Second})
		conf := &oauth2.Config{
			ClientID: b.webClient,
			Endpoint: oauth2.Endpoint{DeviceAuthURL: b.url + "/auth/device/code", TokenURL: b.url + "/auth/token", AuthStyle: oauth2.AuthStyleInParams},
		}
		scope := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("org", acmeSlug), oauth2.SetAuthURLParam("service", webSlug)}
		da, err := conf.DeviceAuth(ctx, scope...)
		require.NoError(t, err)
		require.Regexp(t, userCodePattern, da.UserCode)
		require.Equal(t, acmeActivate, da.VerificationURI)
		require.Equal(t, acmeActivate+"?user_code="+da.UserCode, da.VerificationURIComplete)
		require.EqualValues(t, 5, da.Interval)
		require.WithinDuration(t, time.Now().Add(15*time.Minute), da.Expiry, time.Minute)

		type result struct {
			tok *oauth2.Token
			err error
		}
		done := make(chan result, 1)
		go func() {
			tok, err := conf.DeviceAccessToken(ctx, da)
			done <- result{tok, err}
		}()
		select {
		case <-rt.pending:
		case res := <-done:
			t.Fatalf("the device got an answer before approval: %+v", res)
		case <-time.After(30 * time.Second):
			t.Fatal("the device never polled")
		}
		res := b.newBrowser(t).approveByPassword(t, da.UserCode, "alice@acme.example", goodPassword)
		require.Equal(t, "/activate/success", location(t, res, http.StatusSeeOther).String())

		var got result
		select {
		case got = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the device never got its token")
		}
		require.NoError(t, got.err)
		require.Equal(t, "Bearer", got.tok.TokenType)
		require.Empty(t, got.tok.RefreshToken)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), got.tok.Expiry, time.Minute)
		require.Equal(t, alice.ID.String(), b.me(t, got.tok.AccessToken).ID)
		require.Equal(t, []string{"authorization_pending", ""}, rt.answers())
	})
}

// pollingTransport is the device's HTTP client in the interop test: before
// each token request it moves the fake clock by the poll interval (the
// real time x/oauth2 waited), and it records the error code of every token
// answer, signalling the first authorization_pending.
type pollingTransport struct {
	clock   *testBundle
	pending chan struct{}

	mu    sync.Mutex
	codes []string
	once  sync.Once
}

func (p *pollingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	token := strings.HasSuffix(r.URL.Path, "/auth/token")
	if token {
		p.clock.clock.Advance(5 * time.Second)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !token {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	p.mu.Lock()
	p.codes = append(p.codes, e.Error)
	p.mu.Unlock()
	if e.Error == "authorization_pending" {
		p.once.Do(func() { close(p.pending) })
	}
	return resp, nil
}

func (p *pollingTransport) answers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.codes...)
}

// guess returns the i-th wrong (but well-formed) user code.
func guess(i int) string {
	return "ABCD-E" + string("23456789"[i%8]) + string("ABCDEFGH"[i/8%8]) + string("JKLMNPQR"[i/64%8])
}

// guessUntilLimited sends wrong codes with try until it answers 429, and
// returns how many were answered before. check asserts a non-429 answer.
func guessUntilLimited(t *testing.T, try func(code string) response, check func(response)) int {
	t.Helper()
	for i := range 30 {
		r := try(guess(i))
		if r.status == http.StatusTooManyRequests {
			return i
		}
		check(r)
	}
	t.Fatal("30 guesses and no limit")
	return 0
}

func TestDeviceUserCodeBruteForce(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t, func(c *identity.Config) { c.RateLimits = true })
	b.serviceUser(t, "alice@acme.example")
	d := b.webDeviceCode(t)
	burst := 10 // the device flow's burst (spec §1.8)

	t.Run("ActivationPage", func(t *testing.T) {
		t.Parallel()
		br := b.newBrowser(t)
		br.ip = "203.0.113.10"
		token := csrfToken(t, br.get(t, "/activate"))
		try := func(code string) response {
			return br.postForm(t, "/activate", form("csrf_token", token, "user_code", code))
		}
		n := guessUntilLimited(t, try, func(r response) { requirePage(t, r, http.StatusBadRequest, "That code is not valid") })
		require.GreaterOrEqual(t, n, burst)
		// Past the burst the right code gets the same answer: no success.
		r := try(d.UserCode)
		requirePage(t, r, http.StatusTooManyRequests, "Too many attempts")
		require.NotContains(t, string(r.body), `action="/activate/login"`)
	})

	t.Run("ActivationSignInForm", func(t *testing.T) {
		t.Parallel()
		// The sign-in form of the activation page takes a user code too:
		// it must not answer guesses past the limit either.
		br := b.newBrowser(t)
		br.ip = "203.0.113.11"
		token := csrfToken(t, br.get(t, "/activate"))
		try := func(code string) response {
			return br.postForm(t, "/activate/login", form("csrf_token", token, "user_code", code, "email", "alice@acme.example", "password", goodPassword))
		}
		n := guessUntilLimited(t, try, func(r response) { requirePage(t, r, http.StatusBadRequest, "That code is not valid") })
		require.GreaterOrEqual(t, n, burst)
		r := try(d.UserCode)
		requirePage(t, r, http.StatusTooManyRequests, "Too many attempts")
		require.Empty(t, r.header.Get("Location"))
	})

	t.Run("VerifyEndpoint", func(t *testing.T) {
		t.Parallel()
		try := func(code string) response {
			return b.post(t, "/auth/device/verify", map[string]string{"user_code": code}, fromIP("203.0.113.12"))
		}
		n := guessUntilLimited(t, try, func(r response) {
			requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code")
		})
		require.GreaterOrEqual(t, n, burst)
		r := try(d.UserCode)
		requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "")
		require.NotEmpty(t, r.header.Get("Retry-After"))
	})

	t.Run("OtherAddressesGetThrough", func(t *testing.T) {
		t.Parallel()
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)
		br.ip = "203.0.113.13"
		r := br.approveByPassword(t, d.UserCode, "alice@acme.example", goodPassword)
		require.Equal(t, "/activate/success", location(t, r, http.StatusSeeOther).String())
	})
}
