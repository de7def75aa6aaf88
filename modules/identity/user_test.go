package identity_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/httpapi"
)

// userBody is GET /api/user.
type userBody struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	IsPlatformOwner bool       `json:"is_platform_owner"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	CreatedAt       time.Time  `json:"created_at"`
	Org             string     `json:"org"`
	Service         string     `json:"service"`
	Permissions     []string   `json:"permissions"`
	PendingEmail    string     `json:"pending_email"`
}

func decodeUser(t *testing.T, r response) (userBody, map[string]any) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var u userBody
	require.NoError(t, json.Unmarshal(r.body, &u))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	return u, raw
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.test", goodPassword)
	tp := b.login(t, "ada@example.test", goodPassword)

	r := b.get(t, "/api/user", bearer(tp.AccessToken))
	got, raw := decodeUser(t, r)
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.NotNil(t, got.EmailVerifiedAt)
	require.True(t, u.EmailVerifiedAt.Equal(*got.EmailVerifiedAt))
	require.True(t, u.CreatedAt.Equal(got.CreatedAt))
	got.EmailVerifiedAt, got.CreatedAt = nil, time.Time{}
	require.Equal(t, userBody{ID: u.ID.String(), Email: "ada@example.test", Permissions: []string{}}, got)
	// Platform sessions have empty org and service, present in the body;
	// permissions is an array, never null.
	require.Equal(t, "", raw["org"])
	require.Equal(t, "", raw["service"])
	require.Equal(t, []any{}, raw["permissions"])
	require.NotContains(t, raw, "pending_email")
	require.NotContains(t, raw, "password_hash")
}

func TestPatchUser(t *testing.T) {
	t.Parallel()

	t.Run("EmailChangeIsVerifiedBeforeItApplies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)

		got, _ := decodeUser(t, b.do(t, http.MethodPatch, "/api/user", map[string]string{"email": "ada.new@example.test"}, bearer(tp.AccessToken)))
		require.Equal(t, "ada@example.test", got.Email)
		require.Equal(t, "ada.new@example.test", got.PendingEmail)
		require.Equal(t, u.ID.String(), got.ID)

		// Nothing changed yet: the old address still logs in.
		require.Equal(t, "ada@example.test", b.user(t, "ada@example.test").Email)
		b.login(t, "ada@example.test", goodPassword)
		mails := b.emailsOf(t, "ada.new@example.test", "verify_email")
		require.Len(t, mails, 1)
		settings := b.events.ofType("settings.updated")
		require.Len(t, settings, 1)
		require.Equal(t, map[string]any{"field": "email", "pending": true}, settings[0].Details)

		b.verifyEmail(t, "ada.new@example.test")
		me, _ := decodeUser(t, b.get(t, "/api/user", bearer(tp.AccessToken)))
		require.Equal(t, "ada.new@example.test", me.Email)
		b.login(t, "ada.new@example.test", goodPassword)
		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
	})

	t.Run("SameEmailOrNoChangeAnswersTheProfile", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		for _, body := range []any{map[string]string{"email": "ADA@example.test"}, map[string]string{}} {
			got, raw := decodeUser(t, b.do(t, http.MethodPatch, "/api/user", body, bearer(tp.AccessToken)))
			require.Equal(t, "ada@example.test", got.Email)
			require.NotContains(t, raw, "pending_email")
			require.Equal(t, "", raw["org"])
		}
		require.Len(t, b.emails(t, ""), 1) // the registration's only
	})

	t.Run("TakenEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		b.verifiedUser(t, "bob@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		r := b.do(t, http.MethodPatch, "/api/user", map[string]string{"email": "BOB@example.test"}, bearer(tp.AccessToken))
		requireProblem(t, r, http.StatusConflict, httpapi.CodeDuplicateConstraint, "Email already in use")
		require.Len(t, b.emails(t, "bob@example.test"), 1) // Bob's own verification only
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		for _, email := range []string{"nope", "a@", "ada@example.test\r\nBcc: x@y.test"} {
			requireFieldError(t, b.do(t, http.MethodPatch, "/api/user", map[string]string{"email": email}, bearer(tp.AccessToken)), "body.email")
		}
	})

	t.Run("AddressTakenBeforeTheLinkIsFollowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		decodeUser(t, b.do(t, http.MethodPatch, "/api/user", map[string]string{"email": "shared@example.test"}, bearer(tp.AccessToken)))
		link := b.mailToken(t, "shared@example.test", "verify_email")
		// Someone else registers the address before Ada follows her link.
		b.register(t, "shared@example.test", otherPassword)

		r := b.get(t, "/auth/verify-email?token="+link)
		require.Equal(t, http.StatusBadRequest, r.status, "a lost race for an address is the visitor's problem, not a 500: %s", r.body)
		require.Equal(t, "ada@example.test", b.user(t, "ada@example.test").Email)
	})

	t.Run("RequiresAToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireProblem(t, b.do(t, http.MethodPatch, "/api/user", map[string]string{"email": "x@example.test"}), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()

	change := func(b *testBundle, t *testing.T, access, current, next string) response {
		t.Helper()
		return b.post(t, "/api/user/change-password", map[string]string{"current_password": current, "new_password": next}, bearer(access))
	}

	t.Run("ChangesAndRevokesOtherSessions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		mine := b.login(t, "ada@example.test", goodPassword)
		other := b.login(t, "ada@example.test", goodPassword)

		requireMessage(t, change(b, t, mine.AccessToken, goodPassword, otherPassword), "Password changed successfully")
		b.requireTokenWorks(t, mine.AccessToken)
		decodeTokens(t, b.refresh(t, mine.RefreshToken))
		b.requireTokenRejected(t, other.AccessToken)
		requireProblem(t, b.refresh(t, other.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
		require.Equal(t, "password_changed", b.revokedReason(t, sessionID(t, other.AccessToken)))

		requireProblem(t, b.loginResponse(t, "ada@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		b.login(t, "ada@example.test", otherPassword)

		changed := b.events.ofType("security.password.changed")
		require.Len(t, changed, 1)
		require.Equal(t, u.ID, *changed[0].ActorID)
		require.Equal(t, map[string]any{"method": "change"}, changed[0].Details)
	})

	t.Run("WrongCurrentPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		requireProblem(t, change(b, t, tp.AccessToken, "not-my-password", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Current password is incorrect")
		b.login(t, "ada@example.test", goodPassword)
		b.requireTokenWorks(t, tp.AccessToken)
	})

	t.Run("AccountWithoutPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.oauthUser(t, "ada@example.test")
		tp, err := b.mod.IssueSession(t.Context(), u.ID, "github")
		require.NoError(t, err)
		requireProblem(t, change(b, t, tp.AccessToken, "anything-at-all", otherPassword), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Cannot change password for OAuth-only accounts. Please set a password first.")
	})

	for _, tc := range []struct{ Name, Password, WantMsg string }{
		{Name: "ShortNewPassword", Password: "short", WantMsg: "Password must be at least 8 characters"},
		{Name: "CommonNewPassword", Password: "password123", WantMsg: "This password is too common. Please choose a different one."},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.verifiedUser(t, "ada@example.test", goodPassword)
			tp := b.login(t, "ada@example.test", goodPassword)
			p := requireFieldError(t, change(b, t, tp.AccessToken, goodPassword, tc.Password), "body.new_password")
			require.Equal(t, tc.WantMsg, p.message("body.new_password"))
			b.login(t, "ada@example.test", goodPassword)
		})
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()

	t.Run("OAuthAccountGetsAPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.oauthUser(t, "ada@example.test")
		mine, err := b.mod.IssueSession(t.Context(), u.ID, "github")
		require.NoError(t, err)
		other, err := b.mod.IssueSession(t.Context(), u.ID, "google")
		require.NoError(t, err)

		r := b.post(t, "/api/user/set-password", map[string]string{"new_password": goodPassword}, bearer(mine.AccessToken))
		requireMessage(t, r, "Password set successfully")
		b.login(t, "ada@example.test", goodPassword)
		b.requireTokenWorks(t, mine.AccessToken)
		b.requireTokenRejected(t, other.AccessToken)
		var identities int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM identities WHERE user_id = $1 AND provider = 'password'`, u.ID).Scan(&identities))
		require.Equal(t, 1, identities)
		set := b.events.ofType("security.password.changed")
		require.Len(t, set, 1)
		require.Equal(t, map[string]any{"method": "set"}, set[0].Details)

		r = b.post(t, "/api/user/set-password", map[string]string{"new_password": otherPassword}, bearer(mine.AccessToken))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Password is already set. Use the change password endpoint instead.")
		b.login(t, "ada@example.test", goodPassword)
	})

	t.Run("AccountWithPasswordIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		r := b.post(t, "/api/user/set-password", map[string]string{"new_password": otherPassword}, bearer(tp.AccessToken))
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Password is already set. Use the change password endpoint instead.")
	})

	t.Run("WeakPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.oauthUser(t, "ada@example.test")
		tp, err := b.mod.IssueSession(t.Context(), u.ID, "github")
		require.NoError(t, err)
		requireFieldError(t, b.post(t, "/api/user/set-password", map[string]string{"new_password": "short"}, bearer(tp.AccessToken)), "body.new_password")
		require.False(t, b.user(t, "ada@example.test").HasPassword())
	})
}
