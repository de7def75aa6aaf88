package identity_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsTokensWithManagementClaims", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)

		r := b.loginResponse(t, "ada@example.test", goodPassword)
		tp := decodeTokens(t, r)
		require.Equal(t, 86400, tp.ExpiresIn)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		require.Equal(t, "no-cache", r.header.Get("Pragma"))
		var body map[string]any
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Len(t, body, 3, string(r.body))

		header, claims := decodeJWT(t, tp.AccessToken)
		require.Equal(t, "authos-management+jwt", header["typ"])
		require.Equal(t, "ES256", header["alg"])
		require.Equal(t, b.activeKey(t).KID, header["kid"])
		require.Equal(t, "management_access", claims["token_use"])
		require.Equal(t, testBaseURL, claims["iss"])
		require.Equal(t, []any{"platform"}, claims["aud"])
		require.Equal(t, u.ID.String(), claims["sub"])
		require.Equal(t, "ada@example.test", claims["email"])
		require.Equal(t, false, claims["is_platform_owner"])
		require.NotEmpty(t, claims["jti"])
		require.NotContains(t, claims, "org")
		require.NotContains(t, claims, "service")
		iat, err := claims["iat"].(json.Number).Int64()
		require.NoError(t, err)
		exp, err := claims["exp"].(json.Number).Int64()
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Unix(), iat)
		require.Equal(t, int64(86400), exp-iat)

		sid := sessionID(t, tp.AccessToken)
		x := b.session(t, sid)
		require.Equal(t, u.ID, x.UserID)
		require.Equal(t, "platform", x.Audience)
		require.Equal(t, "password", x.AuthMethod)
		require.Equal(t, claims["jti"], x.AccessJTI)
		require.Equal(t, "127.0.0.1", x.IP)
		require.Equal(t, "identity-test", x.UserAgent)
		require.Nil(t, x.RevokedAt)

		var provider, ip string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT provider, ip_address FROM login_events WHERE user_id = $1`, u.ID).Scan(&provider, &ip))
		require.Equal(t, "password", provider)
		require.Equal(t, "127.0.0.1", ip)

		ok := b.events.ofType("user.login.success")
		require.Len(t, ok, 1)
		require.Equal(t, u.ID, *ok[0].ActorID)
		require.Equal(t, map[string]any{"auth_method": "password"}, ok[0].Details)
		require.True(t, ok[0].Succeeded())

		b.requireTokenWorks(t, tp.AccessToken)
	})

	t.Run("EmailIsCaseInsensitive", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		b.login(t, "  ADA@Example.TEST ", goodPassword)
	})

	t.Run("WrongPasswordAndUnknownEmailAnswerIdentically", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)

		wrong := requireProblem(t, b.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		unknown := requireProblem(t, b.loginResponse(t, "nobody@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		require.Equal(t, wrong.comparable(), unknown.comparable())

		failed := b.events.ofType("user.login.failed")
		require.Len(t, failed, 2)
		require.Equal(t, u.ID, *failed[0].ActorID)
		require.Equal(t, u.ID.String(), failed[0].TargetID)
		require.Equal(t, map[string]any{"auth_method": "password", "reason": "bad_password"}, failed[0].Details)
		require.False(t, failed[0].Succeeded())
		require.Nil(t, failed[1].ActorID)
		require.Equal(t, map[string]any{"auth_method": "password", "reason": "unknown_user"}, failed[1].Details)
		require.False(t, failed[1].Succeeded())
		require.Empty(t, b.events.ofType("user.login.success"))

		var sessions int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions`).Scan(&sessions))
		require.Zero(t, sessions)
	})

	t.Run("UnverifiedEmailIsOnlyRevealedWithTheRightPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgVerifyFirst)
		requireProblem(t, b.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
	})

	t.Run("AccountWithoutPasswordAnswersGeneric", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.oauthUser(t, "ada@example.test")
		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		failed := b.events.ofType("user.login.failed")
		require.Len(t, failed, 1)
		require.Equal(t, u.ID, *failed[0].ActorID)
		require.Equal(t, "no_password", failed[0].Details["reason"])
	})

	for _, tc := range []struct {
		Name       string
		Body       any
		WantStatus int
		WantCode   string
		WantMsg    string
	}{
		{Name: "MissingPassword", Body: map[string]string{"email": "ada@example.test"}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMsg: "Validation failed"},
		{Name: "MalformedJSON", Body: `{"email":`, WantStatus: 400, WantCode: httpapi.CodeBadRequest},
		{Name: "OrgWithoutTenancy", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "org_slug": "acme"}, WantStatus: 404, WantCode: httpapi.CodeNotFound, WantMsg: "Organization or service not found"},
		{Name: "ServiceWithoutOrg", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "service_slug": "web"}, WantStatus: 400, WantCode: httpapi.CodeBadRequest, WantMsg: "service_slug requires org_slug"},
		{Name: "RedirectWithoutScope", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "redirect_uri": "https://app.test/cb"}, WantStatus: 400, WantCode: httpapi.CodeBadRequest, WantMsg: "redirect_uri requires org_slug and service_slug"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			requireProblem(t, b.post(t, "/api/auth/login", tc.Body), tc.WantStatus, tc.WantCode, tc.WantMsg)
		})
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()

	t.Run("TenFailuresLockKnownAndUnknownEmailsAlike", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.RateLimits = true })
		b.verifiedUser(t, "ada@example.test", goodPassword)
		ip := 0
		nextIP := func() reqOpt { ip++; return fromIP(fmt.Sprintf("192.0.2.%d", ip)) }

		for _, email := range []string{"ada@example.test", "nobody@example.test"} {
			for range 10 {
				requireProblem(t, b.loginResponse(t, email, otherPassword, nextIP()), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
			}
		}
		known := b.loginResponse(t, "ada@example.test", goodPassword, nextIP())
		unknown := b.loginResponse(t, "nobody@example.test", goodPassword, nextIP())
		knownP := requireProblem(t, known, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msgLocked)
		unknownP := requireProblem(t, unknown, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msgLocked)
		require.Equal(t, knownP.comparable(), unknownP.comparable())
		require.NotEmpty(t, known.header.Get("Retry-After"))
		require.Equal(t, known.header.Get("Retry-After"), unknown.header.Get("Retry-After"))

		// The lock is per email: another account still logs in.
		b.verifiedUser(t, "bob@example.test", goodPassword)
		b.login(t, "bob@example.test", goodPassword)
		require.Len(t, b.events.ofType("user.login.failed"), 20)
	})

	t.Run("RetryAfterMatchesTheLockWindow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) {
			c.RateLimits = true
			c.LockoutAttempts = 2
			c.LockoutDuration = time.Minute
		})
		for range 2 {
			requireProblem(t, b.loginResponse(t, "nobody@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		}
		r := b.loginResponse(t, "nobody@example.test", otherPassword)
		requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msgLocked)
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err)
		require.Positive(t, secs)
		require.LessOrEqual(t, secs, 60, "Retry-After must not exceed the configured lockout window")
	})

	t.Run("LoginWorksAfterTheLockWindow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) {
			c.RateLimits = true
			c.LockoutAttempts = 3
			c.LockoutDuration = 2 * time.Second
		})
		b.verifiedUser(t, "ada@example.test", goodPassword)
		for range 3 {
			requireProblem(t, b.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		}
		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msgLocked)

		deadline := time.Now().Add(10 * time.Second)
		for {
			r := b.loginResponse(t, "ada@example.test", goodPassword)
			if r.status == http.StatusOK {
				break
			}
			requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msgLocked)
			require.True(t, time.Now().Before(deadline), "still locked after the lock window")
			time.Sleep(250 * time.Millisecond)
		}
		// A success resets the failure count: two more failures do not lock.
		for range 2 {
			requireProblem(t, b.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		}
		b.login(t, "ada@example.test", goodPassword)
	})

	t.Run("NoLockoutWhenRateLimitsDisabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.LockoutAttempts = 2 })
		b.verifiedUser(t, "ada@example.test", goodPassword)
		for range 3 {
			requireProblem(t, b.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		}
		b.login(t, "ada@example.test", goodPassword)
	})
}

func TestLoginRehash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedUser(t, "ada@example.test", goodPassword)
	before := b.user(t, "ada@example.test").PasswordHash
	require.Contains(t, before, "m=8192,t=1,")

	stronger := b.newApp(t, func(c *identity.Config) { c.Argon2MemoryKiB, c.Argon2Iterations = 9216, 2 })
	stronger.login(t, "ada@example.test", goodPassword)
	after := b.user(t, "ada@example.test").PasswordHash
	require.NotEqual(t, before, after)
	require.True(t, strings.HasPrefix(after, "$argon2id$"), after)
	require.Contains(t, after, "m=9216,t=2,")

	// The new hash verifies, in both apps, and is not rehashed again.
	stronger.login(t, "ada@example.test", goodPassword)
	require.Equal(t, after, b.user(t, "ada@example.test").PasswordHash)
	b.login(t, "ada@example.test", goodPassword)
	requireProblem(t, stronger.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
}
