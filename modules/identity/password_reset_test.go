package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

// requestReset posts forgot-password and works every identity.send_password_reset
// job enqueued so far that has not run yet.
func (b *testBundle) requestReset(t *testing.T, email string) {
	t.Helper()
	requireMessage(t, b.post(t, "/api/auth/forgot-password", map[string]string{"email": email}), msgResetSent)
	for _, job := range b.jobsOf(t, "identity.send_password_reset") {
		if job.State == rivertype.JobStateAvailable {
			workJob(t, b, b.mod.SendResetWorker(), job)
		}
	}
}

func TestForgotPassword(t *testing.T) {
	t.Parallel()

	t.Run("AnswersTheSameAndEnqueuesALookupForAnyEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		known := b.post(t, "/api/auth/forgot-password", map[string]string{"email": "ada@example.test"})
		unknown := b.post(t, "/api/auth/forgot-password", map[string]string{"email": "nobody@example.test"})
		requireMessage(t, known, msgResetSent)
		require.Equal(t, known.body, unknown.body)
		require.Equal(t, known.status, unknown.status)

		list := b.jobsOf(t, "identity.send_password_reset")
		require.Len(t, list, 2)
		emails := map[string]*identity.SendPasswordResetArgs{}
		for _, job := range list {
			var a identity.SendPasswordResetArgs
			require.NoError(t, json.Unmarshal(job.EncodedArgs, &a))
			require.Equal(t, jobs.QueueEmail, job.Queue)
			emails[a.Email] = &a
		}
		require.Contains(t, emails, "ada@example.test")
		require.Contains(t, emails, "nobody@example.test")
		require.Nil(t, emails["ada@example.test"].OrgID)
		// Nothing was looked up or mailed in the request itself.
		require.Len(t, b.emails(t, ""), 1) // the registration's

		for _, job := range list {
			workJob(t, b, b.mod.SendResetWorker(), job)
		}
		resets := b.emailsOf(t, "ada@example.test", "password_reset")
		require.Len(t, resets, 1)
		require.True(t, strings.HasPrefix(resets[0].link(), testDashboardURL+"/reset-password?token="), resets[0].link())
		require.Equal(t, "1 hour", resets[0].Data["ExpiresIn"])
		require.Empty(t, b.emails(t, "nobody@example.test"))
		var tokens int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM password_reset_tokens`).Scan(&tokens))
		require.Equal(t, 1, tokens)
	})

	t.Run("BurstsForOneAddressAreDeduplicated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 3 {
			requireMessage(t, b.post(t, "/api/auth/forgot-password", map[string]string{"email": "ada@example.test"}), msgResetSent)
		}
		require.Len(t, b.jobsOf(t, "identity.send_password_reset"), 1)
	})

	t.Run("PerEmailLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *identity.Config) { c.RateLimits = true })
		for _, path := range []string{"/api/auth/forgot-password", "/api/auth/resend-verification"} {
			for range 5 {
				r := b.post(t, path, map[string]string{"email": "ada@example.test"})
				require.Equal(t, http.StatusOK, r.status, string(r.body))
			}
			r := b.post(t, path, map[string]string{"email": "ada@example.test"})
			// The registration message would be wrong here (spec §1.8).
			requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many requests. Please try again later.")
			require.NotEmpty(t, r.header.Get("Retry-After"))
		}
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireFieldError(t, b.post(t, "/api/auth/forgot-password", map[string]string{"email": "nope"}), "body.email")
		require.Empty(t, b.jobsOf(t, "identity.send_password_reset"))
	})
}

func TestResetPassword(t *testing.T) {
	t.Parallel()

	reset := func(b *testBundle, t *testing.T, tok, password string) response {
		t.Helper()
		return b.post(t, "/api/auth/reset-password", map[string]string{"token": tok, "new_password": password})
	}

	t.Run("SetsThePasswordAndRevokesEverySession", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		s1 := b.login(t, "ada@example.test", goodPassword)
		s2 := b.login(t, "ada@example.test", goodPassword)
		b.requestReset(t, "ada@example.test")
		tok := b.mailToken(t, "ada@example.test", "password_reset")

		requireMessage(t, reset(b, t, tok, otherPassword), msgResetDone)
		for _, s := range []tokenPair{s1, s2} {
			b.requireTokenRejected(t, s.AccessToken)
			requireProblem(t, b.refresh(t, s.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
			require.Equal(t, "password_reset", b.revokedReason(t, sessionID(t, s.AccessToken)))
		}
		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		b.login(t, "ada@example.test", otherPassword)

		changed := b.events.ofType("security.password.changed")
		require.Len(t, changed, 1)
		require.Equal(t, u.ID, *changed[0].ActorID)
		require.Equal(t, map[string]any{"method": "reset"}, changed[0].Details)

		requireProblem(t, reset(b, t, tok, "yet-another-passphrase"), http.StatusBadRequest, httpapi.CodeBadRequest, "Reset token has already been used")
		b.login(t, "ada@example.test", otherPassword)
	})

	t.Run("OneResetInvalidatesOlderLinks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		b.requestReset(t, "ada@example.test")
		older := b.mailToken(t, "ada@example.test", "password_reset")
		// A second request within a minute is deduplicated; work the lookup
		// directly as a later request would.
		workArgs(t, b, b.mod.SendResetWorker(), identity.SendPasswordResetArgs{Email: "ada@example.test"})
		newer := b.mailToken(t, "ada@example.test", "password_reset")
		require.NotEqual(t, older, newer)

		requireMessage(t, reset(b, t, newer, otherPassword), msgResetDone)
		requireProblem(t, reset(b, t, older, "yet-another-passphrase"), http.StatusBadRequest, httpapi.CodeBadRequest, "Reset token has already been used")
		b.login(t, "ada@example.test", otherPassword)
	})

	t.Run("VerifiesAnUnverifiedAddress", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		b.requestReset(t, "ada@example.test")
		requireMessage(t, reset(b, t, b.mailToken(t, "ada@example.test", "password_reset"), otherPassword), msgResetDone)
		require.NotNil(t, b.user(t, "ada@example.test").EmailVerifiedAt)
		b.login(t, "ada@example.test", otherPassword)
	})

	t.Run("GivesAnOAuthAccountAPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.oauthUser(t, "ada@example.test")
		b.requestReset(t, "ada@example.test")
		requireMessage(t, reset(b, t, b.mailToken(t, "ada@example.test", "password_reset"), otherPassword), msgResetDone)
		b.login(t, "ada@example.test", otherPassword)
		var identities int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM identities WHERE user_id = $1 AND provider = 'password'`, u.ID).Scan(&identities))
		require.Equal(t, 1, identities)
	})

	t.Run("ExpiredToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		b.requestReset(t, "ada@example.test")
		tok := b.mailToken(t, "ada@example.test", "password_reset")
		b.clock.Advance(time.Hour)
		requireProblem(t, reset(b, t, tok, otherPassword), http.StatusBadRequest, httpapi.CodeBadRequest, "Reset token has expired")
		b.login(t, "ada@example.test", goodPassword)
	})

	for _, tc := range []struct {
		Name, Token, Password string
		WantStatus            int
		WantCode, WantMsg     string
		WantField             string
	}{
		{Name: "InvalidToken", Token: "garbage", Password: otherPassword, WantStatus: 400, WantCode: httpapi.CodeBadRequest, WantMsg: "Invalid reset token"},
		{Name: "EmptyToken", Token: "", Password: otherPassword, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantField: "body.token"},
		{Name: "OverlongToken", Token: strings.Repeat("a", 201), Password: otherPassword, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantField: "body.token"},
		{Name: "WeakPassword", Token: "garbage", Password: "short", WantStatus: 422, WantCode: httpapi.CodeValidationError, WantField: "body.new_password"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			p := requireProblem(t, reset(b, t, tc.Token, tc.Password), tc.WantStatus, tc.WantCode, tc.WantMsg)
			if tc.WantField != "" {
				require.Contains(t, p.locations(), tc.WantField)
			}
		})
	}
}

func TestResendVerification(t *testing.T) {
	t.Parallel()

	t.Run("AnswersTheSameForAnyEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		b.verifiedUser(t, "bob@example.test", goodPassword)
		var bodies [][]byte
		for _, email := range []string{"ada@example.test", "bob@example.test", "nobody@example.test"} {
			r := b.post(t, "/api/auth/resend-verification", map[string]string{"email": email})
			requireMessage(t, r, msgResendSent)
			bodies = append(bodies, r.body)
		}
		require.Equal(t, bodies[0], bodies[1])
		require.Equal(t, bodies[0], bodies[2])
		require.Len(t, b.jobsOf(t, "identity.resend_verification"), 3)

		for _, job := range b.jobsOf(t, "identity.resend_verification") {
			workJob(t, b, b.mod.ResendVerificationWorker(), job)
		}
		// Only the unverified account gets a new link.
		require.Len(t, b.emailsOf(t, "ada@example.test", "verify_email"), 2)
		require.Len(t, b.emailsOf(t, "bob@example.test", "verify_email"), 1)
		require.Empty(t, b.emails(t, "nobody@example.test"))
		b.verifyEmail(t, "ada@example.test")
		b.login(t, "ada@example.test", goodPassword)
	})

	// RegisteredWorkersRunOnARealClient runs the jobs the way cmd/worker
	// does: workers from RegisterWorkers on a started River client.
	t.Run("RegisteredWorkersRunOnARealClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.register(t, "ada@example.test", goodPassword)
		b.verifiedUser(t, "bob@example.test", goodPassword)

		workers := river.NewWorkers()
		b.mod.RegisterWorkers(workers)
		river.AddWorker(workers, river.WorkFunc(func(_ context.Context, _ *river.Job[jobs.EmailSendArgs]) error { return nil }))
		client, err := jobs.NewWorkerClient(b.pool, workers, jobs.WorkerOptions{
			Limits:            jobs.QueueLimits{Default: 1, Email: 2, Webhooks: 1, Exports: 1, Analytics: 1},
			FetchPollInterval: 100 * time.Millisecond,
		})
		require.NoError(t, err)
		// Not t.Context(): it ends before the cleanup that stops the client.
		require.NoError(t, client.Start(context.WithoutCancel(t.Context())))
		t.Cleanup(func() { require.NoError(t, jobs.Stop(client, 5*time.Second, 5*time.Second)) })

		requireMessage(t, b.post(t, "/api/auth/resend-verification", map[string]string{"email": "ada@example.test"}), msgResendSent)
		requireMessage(t, b.post(t, "/api/auth/forgot-password", map[string]string{"email": "bob@example.test"}), msgResetSent)

		require.Eventually(t, func() bool {
			return len(b.emailsOf(t, "ada@example.test", "verify_email")) == 2 && len(b.emailsOf(t, "bob@example.test", "password_reset")) == 1
		}, 20*time.Second, 50*time.Millisecond)
		b.verifyEmail(t, "ada@example.test")
		b.login(t, "ada@example.test", goodPassword)
		requireMessage(t, b.post(t, "/api/auth/reset-password", map[string]string{
			"token": b.mailToken(t, "bob@example.test", "password_reset"), "new_password": otherPassword,
		}), msgResetDone)
		b.login(t, "bob@example.test", otherPassword)
	})
}
