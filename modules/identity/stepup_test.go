package identity_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

const (
	msgInvalidPreauth = "Invalid pre-authentication token"
	msgPreauthUsed    = "Pre-authentication token already used"
	msgInvalidMFACode = "Invalid MFA code"
)

// preauthBody is a login answer that needs the second factor.
type preauthBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	MFARequired  bool   `json:"mfa_required"`
}

// requirePreauth checks a login answer that asks for the second factor and
// returns the pre-auth token.
func requirePreauth(t *testing.T, r response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var body preauthBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.True(t, body.MFARequired)
	require.Empty(t, body.RefreshToken)
	require.Equal(t, int(identity.PreauthLifetime.Seconds()), body.ExpiresIn)
	require.NotEmpty(t, body.AccessToken)
	header, claims := decodeJWT(t, body.AccessToken)
	require.Equal(t, "authos-mfa-preauth+jwt", header["typ"])
	require.Equal(t, "mfa_preauth", claims["token_use"])
	require.Equal(t, true, claims["mfa_required"])
	require.NotContains(t, claims, "sid", "a pre-auth token is no session")
	return body.AccessToken
}

// mfaVerify is POST /api/auth/mfa/verify.
func (a *app) mfaVerify(t *testing.T, preauth, code, deviceCodeID string) response {
	t.Helper()
	body := map[string]string{"preauth_token": preauth, "code": code}
	if deviceCodeID != "" {
		body["device_code_id"] = deviceCodeID
	}
	return a.post(t, "/api/auth/mfa/verify", body)
}

// wrongCode returns a 6-digit code that is not the current one.
func (b *testBundle) wrongCode(t *testing.T, secret string) string {
	t.Helper()
	step := stepOf(b.clock.Now())
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != codeFor(t, secret, step-1) && c != codeFor(t, secret, step) && c != codeFor(t, secret, step+1) {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// hiddenPattern finds the hidden inputs of a hosted form.
var hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a page's first form (the CSRF
// token and carried parameters), as a browser would submit them.
func hiddenFields(t *testing.T, r response) url.Values {
	t.Helper()
	out := url.Values{}
	for _, m := range hiddenPattern.FindAllSubmatch(r.body, -1) {
		name := string(m[1])
		if out.Has(name) {
			continue
		}
		out.Set(name, html.UnescapeString(string(m[2])))
	}
	require.NotEmpty(t, out.Get("csrf_token"), "no csrf token in page:\n%s", r.body)
	return out
}

func TestMFAStepUp(t *testing.T) {
	t.Parallel()

	t.Run("PasswordLoginNeedsTheSecondFactor", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		first := b.login(t, "ada@example.test", goodPassword)
		secret, _ := b.enableMFA(t, first.AccessToken)
		sessions := b.sessionCount(t, u.ID)
		logins := len(b.eventsFor("user.login.success", u.ID))

		preauth := requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))
		require.Equal(t, sessions, b.sessionCount(t, u.ID), "no session before the second factor")
		require.Len(t, b.eventsFor("user.login.success", u.ID), logins)
		_, claims := decodeJWT(t, preauth)
		require.Equal(t, u.ID.String(), claims["sub"])
		require.Equal(t, []any{"authos:mfa"}, claims["aud"])

		// The pre-auth token is not an access token.
		r := b.get(t, "/api/user", bearer(preauth))
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))

		// A wrong code is refused and leaves the token usable.
		requireProblem(t, b.mfaVerify(t, preauth, b.wrongCode(t, secret), ""), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidMFACode)
		require.Equal(t, sessions, b.sessionCount(t, u.ID))

		r = b.mfaVerify(t, preauth, b.nextCode(t, secret), "")
		tp := decodeTokens(t, r)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		var raw map[string]any
		require.NoError(t, json.Unmarshal(r.body, &raw))
		require.ElementsMatch(t, []string{"access_token", "refresh_token", "expires_in"}, keysOf(raw))
		me := b.me(t, tp.AccessToken)
		require.Equal(t, u.ID.String(), me.ID)
		require.Empty(t, me.Org)
		require.Empty(t, me.Service)
		require.Equal(t, "mfa", b.session(t, sessionID(t, tp.AccessToken)).AuthMethod)
		decodeTokens(t, b.refresh(t, tp.RefreshToken))
		ev := b.eventsFor("user.login.success", u.ID)
		require.Len(t, ev, logins+1)
		require.Equal(t, "mfa", ev[len(ev)-1].Details["auth_method"])
		require.NotEmpty(t, b.mfaAuditOf(t, u.ID, "mfa_verify_success"))
		require.NotEmpty(t, b.mfaAuditOf(t, u.ID, "mfa_verify_failed"))

		// The token completes once.
		requireProblem(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), ""), http.StatusBadRequest, httpapi.CodeBadRequest, msgPreauthUsed)
		require.Equal(t, sessions+1, b.sessionCount(t, u.ID))
	})

	t.Run("BackupCodesCompleteTheLoginOnce", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		_, backup := b.enableMFA(t, b.login(t, "ada@example.test", goodPassword).AccessToken)
		require.NotEmpty(t, backup)
		preauth := requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))
		decodeTokens(t, b.mfaVerify(t, preauth, backup[0], ""))
		preauth = requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))
		requireProblem(t, b.mfaVerify(t, preauth, backup[0], ""), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidMFACode)
		decodeTokens(t, b.mfaVerify(t, preauth, backup[1], ""))
	})

	t.Run("KeepsTheServiceContext", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		secret, _ := b.enableMFA(t, b.serviceLogin(t, "alice@acme.example").AccessToken)
		preauth := requirePreauth(t, b.post(t, "/api/auth/login",
			map[string]string{"email": "alice@acme.example", "password": goodPassword, "org_slug": acmeSlug, "service_slug": webSlug}))
		_, claims := decodeJWT(t, preauth)
		require.Equal(t, acmeSlug, claims["org"])
		require.Equal(t, webSlug, claims["service"])

		tp := decodeTokens(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), ""))
		me := b.me(t, tp.AccessToken)
		require.Equal(t, alice.ID.String(), me.ID)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
		x := b.session(t, sessionID(t, tp.AccessToken))
		require.Equal(t, &b.acme, x.OrgID)
		require.Equal(t, &b.web, x.ServiceID)

		// The context is re-checked: a suspended organization's login
		// does not complete.
		preauth = requirePreauth(t, b.post(t, "/api/auth/login",
			map[string]string{"email": "alice@acme.example", "password": goodPassword, "org_slug": acmeSlug, "service_slug": webSlug}))
		b.scopes.update(acmeSlug+"/"+webSlug, func(s *identity.Scope) { s.OrgStatus = "suspended" })
		requireProblem(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), ""), http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE", "")
	})

	t.Run("RefusesInvalidTokens", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		session := b.login(t, "ada@example.test", goodPassword)
		secret, _ := b.enableMFA(t, session.AccessToken)
		preauth := requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))

		for name, tok := range map[string]string{
			"Empty":        "",
			"Garbage":      "not-a-jwt",
			"AccessToken":  session.AccessToken,
			"Tampered":     preauth[:len(preauth)-4] + "AAAA",
			"RefreshToken": session.RefreshToken,
		} {
			t.Run(name, func(t *testing.T) {
				requireProblem(t, b.mfaVerify(t, tok, b.nextCode(t, secret), ""), http.StatusBadRequest, httpapi.CodeBadRequest, msgInvalidPreauth)
			})
		}
		// A device code id the token does not carry.
		requireProblem(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), "0190b7a0-0000-7000-8000-000000000000"), http.StatusBadRequest,
			httpapi.CodeBadRequest, msgInvalidPreauth)
		// None of that spent the genuine token.
		decodeTokens(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), ""))

		// A pre-auth token lives 5 minutes.
		expired := requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))
		b.clock.Advance(identity.PreauthLifetime)
		requireProblem(t, b.mfaVerify(t, expired, b.nextCode(t, secret), ""), http.StatusBadRequest, httpapi.CodeBadRequest, msgInvalidPreauth)
	})

	t.Run("ConcurrentSubmissionsCompleteOnce", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		secret, _ := b.enableMFA(t, b.login(t, "ada@example.test", goodPassword).AccessToken)
		preauth := requirePreauth(t, b.loginResponse(t, "ada@example.test", goodPassword))
		sessions := b.sessionCount(t, u.ID)
		code := b.nextCode(t, secret)

		body, err := json.Marshal(map[string]string{"preauth_token": preauth, "code": code})
		require.NoError(t, err)
		statuses := make([]int, 6)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/api/auth/mfa/verify", bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				_ = resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized}, s)
			if s == http.StatusOK {
				ok++
			}
		}
		require.Equal(t, 1, ok, "statuses %v", statuses)
		require.Equal(t, sessions+1, b.sessionCount(t, u.ID))
	})

	t.Run("SocialLoginHandsOffToMFA", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		first := fragment(t, b.newBrowser(t).social(t, acmeStart("a")), http.StatusFound, acmeRedirect)
		secret, _ := b.enableMFA(t, first.Get("access_token"))
		u := b.tenantUser(t, b.acme, octocatEmail)
		sessions := b.sessionCount(t, u.ID)

		frag := fragment(t, b.newBrowser(t).social(t, acmeStart("b")), http.StatusFound, acmeRedirect)
		require.Equal(t, "true", frag.Get("mfa_required"))
		require.Equal(t, "b", frag.Get("state"))
		require.Empty(t, frag.Get("access_token"))
		require.Empty(t, frag.Get("refresh_token"))
		preauth := frag.Get("preauth_token")
		require.NotEmpty(t, preauth)
		require.Equal(t, sessions, b.sessionCount(t, u.ID))
		requireProblem(t, b.get(t, "/api/user", bearer(preauth)), http.StatusUnauthorized, "JWT_ERROR", "")

		tp := decodeTokens(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), ""))
		me := b.me(t, tp.AccessToken)
		require.Equal(t, u.ID.String(), me.ID)
		require.Equal(t, acmeSlug, me.Org)
		require.Equal(t, webSlug, me.Service)
	})

	t.Run("DeviceApprovalWaitsForMFA", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		alice := b.serviceUser(t, "alice@acme.example")
		secret, _ := b.enableMFA(t, b.serviceLogin(t, "alice@acme.example").AccessToken)
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)

		challenge := br.approveByPassword(t, d.UserCode, "alice@acme.example", goodPassword)
		requirePage(t, challenge, http.StatusOK, `action="/activate/mfa"`, `name="code"`)
		c := setCookie(challenge, "authos_preauth")
		require.NotNil(t, c)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.NotContains(t, string(challenge.body), c.Value, "the pre-auth token stays out of the page")
		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))

		fields := hiddenFields(t, challenge)
		fields.Set("code", b.wrongCode(t, secret))
		requirePage(t, br.postForm(t, "/activate/mfa", fields), http.StatusOK, "Invalid code. Try again.", `action="/activate/mfa"`)
		b.afterInterval(5)
		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))

		fields.Set("code", b.nextCode(t, secret))
		r := br.postForm(t, "/activate/mfa", fields)
		require.Equal(t, "/activate/success", location(t, r, http.StatusSeeOther).String())
		require.Nil(t, br.cookie(t, "/", "authos_preauth"))
		tok := decodeDeviceToken(t, b.poll(t, b.webClient, d.DeviceCode))
		me := b.me(t, tok.AccessToken)
		require.Equal(t, alice.ID.String(), me.ID)
		require.Equal(t, webSlug, me.Service)

		// The JSON step-up approves a device too, with the code id the
		// pre-auth token carries.
		d2 := b.webDeviceCode(t)
		br2 := b.newBrowser(t)
		requirePage(t, br2.approveByPassword(t, d2.UserCode, "alice@acme.example", goodPassword), http.StatusOK, `action="/activate/mfa"`)
		preauth := br2.cookie(t, "/", "authos_preauth").Value
		_, claims := decodeJWT(t, preauth)
		codeID, _ := claims["device_code_id"].(string)
		require.NotEmpty(t, codeID)
		requireProblem(t, b.mfaVerify(t, preauth, b.nextCode(t, secret), "0190b7a0-0000-7000-8000-000000000000"), http.StatusBadRequest,
			httpapi.CodeBadRequest, msgInvalidPreauth)
		b.afterInterval(5)
		requirePending(t, b.poll(t, b.webClient, d2.DeviceCode))
		r = b.mfaVerify(t, preauth, b.nextCode(t, secret), codeID)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var out struct {
			AccessToken    string `json:"access_token"`
			RefreshToken   string `json:"refresh_token"`
			DeviceApproved bool   `json:"device_approved"`
		}
		require.NoError(t, json.Unmarshal(r.body, &out))
		require.True(t, out.DeviceApproved)
		require.Empty(t, out.AccessToken, "the device, not the browser, gets the session")
		require.Empty(t, out.RefreshToken)
		b.afterInterval(5)
		require.Equal(t, alice.ID.String(), b.me(t, decodeDeviceToken(t, b.poll(t, b.webClient, d2.DeviceCode)).AccessToken).ID)
	})

	t.Run("SocialDeviceApprovalWaitsForMFA", func(t *testing.T) {
		t.Parallel()
		b := setupOAuth(t)
		first := fragment(t, b.newBrowser(t).social(t, acmeStart("a")), http.StatusFound, acmeRedirect)
		secret, _ := b.enableMFA(t, first.Get("access_token"))
		d := b.webDeviceCode(t)
		br := b.newBrowser(t)
		challenge := br.social(t, startPath("github", "org", acmeSlug, "service", webSlug, "user_code", d.UserCode))
		requirePage(t, challenge, http.StatusOK, `action="/activate/mfa"`)
		requirePending(t, b.poll(t, b.webClient, d.DeviceCode))
		fields := hiddenFields(t, challenge)
		fields.Set("code", b.nextCode(t, secret))
		require.Equal(t, "/activate/success", location(t, br.postForm(t, "/activate/mfa", fields), http.StatusSeeOther).String())
		require.Equal(t, octocatEmail, b.me(t, decodeDeviceToken(t, b.poll(t, b.webClient, d.DeviceCode)).AccessToken).Email)
	})
}

func TestHostedAuthorizeMFA(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	alice := b.serviceUser(t, "alice@acme.example")
	secret, _ := b.enableMFA(t, b.serviceLogin(t, "alice@acme.example").AccessToken)
	sessions := b.sessionCount(t, alice.ID)
	br := b.newBrowser(t)

	page := br.get(t, "/authorize?"+form("org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect, "state", "st").Encode())
	fields := hiddenFields(t, page)
	fields.Set("email", "alice@acme.example")
	fields.Set("password", goodPassword)
	challenge := br.postForm(t, "/authorize", fields)
	requirePage(t, challenge, http.StatusOK, `action="/authorize/mfa"`, `name="code"`)
	require.Empty(t, challenge.header.Get("Location"))
	require.Equal(t, sessions, b.sessionCount(t, alice.ID))
	preauth := br.cookie(t, "/", "authos_preauth")
	require.NotNil(t, preauth)
	require.NotContains(t, string(challenge.body), preauth.Value)

	mfa := hiddenFields(t, challenge)
	require.Equal(t, acmeSlug, mfa.Get("org"))
	require.Equal(t, webSlug, mfa.Get("service"))
	require.Equal(t, acmeRedirect, mfa.Get("redirect_uri"))
	require.Equal(t, "st", mfa.Get("state"))

	mfa.Set("code", b.wrongCode(t, secret))
	requirePage(t, br.postForm(t, "/authorize/mfa", mfa), http.StatusOK, "Invalid code. Try again.")
	// The challenge needs the page's CSRF token.
	noCSRF := url.Values{"code": {b.nextCode(t, secret)}, "org": {acmeSlug}, "service": {webSlug}, "redirect_uri": {acmeRedirect}}
	requirePage(t, br.postForm(t, "/authorize/mfa", noCSRF), http.StatusForbidden)

	mfa.Set("code", b.nextCode(t, secret))
	r := br.postForm(t, "/authorize/mfa", mfa)
	frag := fragment(t, r, http.StatusSeeOther, acmeRedirect)
	require.Equal(t, "st", frag.Get("state"))
	require.NotEmpty(t, frag.Get("refresh_token"))
	me := b.me(t, frag.Get("access_token"))
	require.Equal(t, alice.ID.String(), me.ID)
	require.Equal(t, webSlug, me.Service)
	require.Nil(t, br.cookie(t, "/", "authos_preauth"), "the pre-auth cookie is cleared")

	// Replaying the pre-auth cookie fails.
	mfa.Set("code", b.nextCode(t, secret))
	r = br.do(t, http.MethodPost, "/authorize/mfa", mfa, withCookie("authos_preauth", preauth.Value))
	requirePage(t, r, http.StatusBadRequest, "This sign-in expired")
	require.Empty(t, r.header.Get("Location"))
	require.Equal(t, sessions+1, b.sessionCount(t, alice.ID))
}
