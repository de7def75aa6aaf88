package identity_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

func TestRegister(t *testing.T) {
	t.Parallel()

	t.Run("CreatesUnverifiedUserAndMailsVerificationLink", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "ada@example.test", "password": goodPassword}), msgRegistered)

		u := b.user(t, "ada@example.test")
		require.Nil(t, u.EmailVerifiedAt)
		require.False(t, u.IsPlatformOwner)
		require.Nil(t, u.OrgID)
		require.True(t, u.HasPassword())
		require.NotContains(t, u.PasswordHash, goodPassword)
		var identities int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM identities WHERE user_id = $1 AND provider = 'password'`, u.ID).Scan(&identities))
		require.Equal(t, 1, identities)

		mails := b.emails(t, "ada@example.test")
		require.Len(t, mails, 1)
		require.Equal(t, "verify_email", mails[0].Template)
		require.Nil(t, mails[0].OrgID)
		require.True(t, strings.HasPrefix(mails[0].link(), testBaseURL+"/auth/verify-email?token="), mails[0].link())
		require.Equal(t, "24 hours", mails[0].Data["ExpiresIn"])

		signups := b.events.ofType("user.signup.success")
		require.Len(t, signups, 1)
		require.Equal(t, u.ID, *signups[0].ActorID)
		require.Equal(t, u.ID.String(), signups[0].TargetID)
		require.Equal(t, map[string]any{"provider": "password"}, signups[0].Details)
		require.Equal(t, "identity-test", signups[0].UserAgent)
		require.Equal(t, "127.0.0.1", signups[0].IP)
	})

	t.Run("DuplicateEmailAnswersTheSameAndMailsAccountExists", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		// Another password and another case: same answer, no second account.
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "Ada@Example.test", "password": otherPassword}), msgRegistered)

		require.Equal(t, 1, b.countUsers(t, "ada@example.test"))
		exists := b.emailsOf(t, "ada@example.test", "account_exists")
		require.Len(t, exists, 1)
		require.Equal(t, testDashboardURL+"/forgot-password", exists[0].link())
		require.Len(t, b.emailsOf(t, "ada@example.test", "verify_email"), 1)
		require.Len(t, b.events.ofType("user.signup.success"), 1)
	})

	t.Run("OwnerEmailRegistersThePlatformOwner", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.OwnerEmail = "owner@example.test" })
		b.register(t, "OWNER@example.test", goodPassword)
		require.True(t, b.user(t, "owner@example.test").IsPlatformOwner)
	})

	longPassword := strings.Repeat("x", 129)
	for _, tc := range []struct {
		Name        string
		Body        any
		WantStatus  int
		WantCode    string
		WantMsg     string
		WantFields  []string // locations of field errors
		WantMissing []string // required properties reported missing
	}{
		{Name: "InvalidEmail", Body: map[string]string{"email": "not-an-email", "password": goodPassword}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantFields: []string{"body.email"}},
		{Name: "EmailWithoutDomain", Body: map[string]string{"email": "ada@", "password": goodPassword}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantFields: []string{"body.email"}},
		{Name: "EmailWithDisplayName", Body: map[string]string{"email": "Ada <ada@example.test>", "password": goodPassword}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantFields: []string{"body.email"}},
		{Name: "EmailTooLong", Body: map[string]string{"email": strings.Repeat("a", 250) + "@x.test", "password": goodPassword}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantFields: []string{"body.email"}},
		{Name: "ShortPassword", Body: map[string]string{"email": "ada@example.test", "password": "short"}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMsg: "Password must be at least 8 characters", WantFields: []string{"body.password"}},
		{Name: "LongPassword", Body: map[string]string{"email": "ada@example.test", "password": longPassword}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMsg: "Password must be at most 128 characters", WantFields: []string{"body.password"}},
		{Name: "CommonPassword", Body: map[string]string{"email": "ada@example.test", "password": "Password123"}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMsg: "This password is too common. Please choose a different one.", WantFields: []string{"body.password"}},
		{Name: "MissingFields", Body: map[string]string{}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMissing: []string{"email", "password"}},
		{Name: "MissingPassword", Body: map[string]string{"email": "ada@example.test"}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantMissing: []string{"password"}},
		{Name: "MalformedJSON", Body: `{"email": "ada@example.test",`, WantStatus: 400, WantCode: httpapi.CodeBadRequest},
		{Name: "BodyOverLimit", Body: `{"email": "` + strings.Repeat("a", int(httpapi.DefaultMaxBodyBytes)) + `"}`, WantStatus: 413, WantCode: httpapi.CodePayloadTooLarge, WantMsg: "Request body too large"},
		{Name: "OrgWithoutTenancy", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "org_slug": "acme"}, WantStatus: 404, WantCode: httpapi.CodeNotFound, WantMsg: "Organization or service not found"},
		{Name: "ServiceWithoutOrg", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "service_slug": "web"}, WantStatus: 400, WantCode: httpapi.CodeBadRequest, WantMsg: "service_slug requires org_slug"},
		{Name: "UnregisteredRedirect", Body: map[string]string{"email": "ada@example.test", "password": goodPassword, "redirect_uri": "https://evil.test/cb"}, WantStatus: 400, WantCode: httpapi.CodeBadRequest, WantMsg: "redirect_uri is not registered for this service"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.post(t, "/api/auth/register", tc.Body)
			p := requireProblem(t, r, tc.WantStatus, tc.WantCode, "")
			for _, loc := range tc.WantFields {
				require.Contains(t, p.locations(), loc, string(r.body))
			}
			for _, prop := range tc.WantMissing {
				require.Contains(t, p.Errors, problemDetail{Location: "body", Message: "expected required property " + prop + " to be present"}, string(r.body))
			}
			if tc.WantMsg != "" {
				if len(tc.WantFields) > 0 {
					require.Equal(t, tc.WantMsg, p.message(tc.WantFields[0]), string(r.body))
				} else {
					require.Equal(t, tc.WantMsg, p.Error)
				}
			}
			var users int
			require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&users))
			require.Zero(t, users)
			require.Empty(t, b.emails(t, ""))
		})
	}

	t.Run("FieldErrorsUseTheValidationEnvelope", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Huma's own schema errors and the module's field errors must read
		// the same to clients.
		schema := requireProblem(t, b.post(t, "/api/auth/register", map[string]string{}), http.StatusUnprocessableEntity, httpapi.CodeValidationError, "")
		module := requireFieldError(t, b.post(t, "/api/auth/register", map[string]string{"email": "nope", "password": goodPassword}), "body.email")
		require.Equal(t, "Validation failed", schema.Error)
		require.Equal(t, schema.Error, module.Error)
	})

	t.Run("EmailDeliveryNotConfigured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.EmailEnabled = false })
		r := b.post(t, "/api/auth/register", map[string]string{"email": "ada@example.test", "password": goodPassword})
		requireProblem(t, r, http.StatusServiceUnavailable, httpapi.CodeServiceUnavailable, "")
		require.Equal(t, 0, b.countUsers(t, "ada@example.test"))
	})

	t.Run("PerEmailLimitAnswers429WithRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.RateLimits = true })
		body := map[string]string{"email": "ada@example.test", "password": goodPassword}
		for i := range 5 {
			// Distinct client addresses: only the per-email bucket fills.
			requireMessage(t, b.post(t, "/api/auth/register", body, fromIP("198.51.100."+strconv.Itoa(i+1))), msgRegistered)
		}
		r := b.post(t, "/api/auth/register", body, fromIP("198.51.100.99"))
		requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many registration attempts. Please try again later.")
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err, r.header.Get("Retry-After"))
		require.Positive(t, secs)
		require.LessOrEqual(t, secs, int((12*time.Minute).Seconds())+1)

		// Other addresses are not affected.
		requireMessage(t, b.post(t, "/api/auth/register", map[string]string{"email": "bob@example.test", "password": goodPassword}, fromIP("198.51.100.99")), msgRegistered)
	})

	t.Run("PerEmailLimitOffWhenRateLimitsDisabled", func(t *testing.T) {
		t.Parallel()
		// RateLimits false is DISABLE_RATE_LIMITING (load tests): no Redis
		// rate limit should answer 429.
		b := setup(t)
		body := map[string]string{"email": "ada@example.test", "password": goodPassword}
		for range 6 {
			requireMessage(t, b.post(t, "/api/auth/register", body), msgRegistered)
		}
	})

	t.Run("AuthRoutesAreLimitedPerClientIP", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.RateLimits = true })
		body := map[string]string{"refresh_token": "not-a-token"}
		// Burst 20, one more per second: a slow machine may earn a few more.
		start := time.Now()
		allowed := 0
		var limited response
		for range 60 {
			r := b.post(t, "/api/auth/refresh", body, fromIP("203.0.113.7"))
			if r.status == http.StatusTooManyRequests {
				limited = r
				break
			}
			requireProblem(t, r, http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
			allowed++
		}
		requireProblem(t, limited, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "")
		require.GreaterOrEqual(t, allowed, 20)
		require.LessOrEqual(t, allowed, 21+int(time.Since(start).Seconds()))
		require.NotEmpty(t, limited.header.Get("Retry-After"))
		requireProblem(t, b.post(t, "/api/auth/refresh", body, fromIP("203.0.113.8")), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
	})
}

func TestVerifyEmailPage(t *testing.T) {
	t.Parallel()

	requirePage := func(t *testing.T, r response, status int, title string) {
		t.Helper()
		require.Equal(t, status, r.status, string(r.body))
		require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Contains(t, string(r.body), "<h1")
		require.Contains(t, string(r.body), title)
	}

	t.Run("ValidTokenVerifiesOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		tok := b.mailToken(t, "ada@example.test", "verify_email")

		requirePage(t, b.get(t, "/auth/verify-email?token="+tok), http.StatusOK, "Email Verified!")
		u := b.user(t, "ada@example.test")
		require.NotNil(t, u.EmailVerifiedAt)
		require.True(t, u.EmailVerifiedAt.Equal(b.clock.Now()))
		b.login(t, "ada@example.test", goodPassword)

		requirePage(t, b.get(t, "/auth/verify-email?token="+tok), http.StatusBadRequest, "Link already used")
	})

	t.Run("ExpiredToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		tok := b.mailToken(t, "ada@example.test", "verify_email")
		b.clock.Advance(24 * time.Hour)
		requirePage(t, b.get(t, "/auth/verify-email?token="+tok), http.StatusBadRequest, "Link expired")
		require.Nil(t, b.user(t, "ada@example.test").EmailVerifiedAt)
	})

	t.Run("JustBeforeExpiryStillWorks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		b.clock.Advance(24*time.Hour - time.Second)
		requirePage(t, b.get(t, "/auth/verify-email?token="+b.mailToken(t, "ada@example.test", "verify_email")), http.StatusOK, "Email Verified!")
	})

	for _, tc := range []struct{ Name, Query string }{
		{Name: "GarbageToken", Query: "?token=garbage"},
		{Name: "NoToken", Query: ""},
		{Name: "OverlongToken", Query: "?token=" + strings.Repeat("a", 201)},
		{Name: "MarkupInToken", Query: "?token=%3Cscript%3Ealert(1)%3C/script%3E"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.get(t, "/auth/verify-email"+tc.Query)
			requirePage(t, r, http.StatusBadRequest, "Invalid link")
			require.NotContains(t, string(r.body), "<script>")
		})
	}
}
