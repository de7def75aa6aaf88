package identity_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostedPasswordReset drives the emailed reset link through the hosted
// form: the token moves from the link into a cookie (out of the address bar
// and the page source), the form needs its CSRF token, the new password
// works and the link cannot be used twice.
func TestHostedPasswordReset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const newPassword = "a-brand-new-passphrase-42"

	t.Run("ResetThroughTheForm", func(t *testing.T) {
		t.Parallel()
		a := b.newApp(t)
		a.verifiedUser(t, "reset-form@example.test", goodPassword)
		old := a.login(t, "reset-form@example.test", goodPassword)
		b.requestReset(t, "reset-form@example.test")
		tok := b.mailToken(t, "reset-form@example.test", "password_reset")
		br := a.newBrowser(t)

		r := br.get(t, "/reset-password?token="+url.QueryEscape(tok))
		require.Equal(t, "/reset-password", location(t, r, http.StatusSeeOther).Path)
		page := br.get(t, "/reset-password")
		requirePage(t, page, http.StatusOK, `name="password"`, `name="password_confirm"`)
		require.NotContains(t, string(page.body), tok, "the reset token is not in the page source")

		// Without the CSRF token nothing happens.
		r = br.postForm(t, "/reset-password", form("password", newPassword, "password_confirm", newPassword))
		require.Equal(t, http.StatusForbidden, r.status)
		a.requireTokenWorks(t, old.AccessToken)

		// Mismatched confirmation re-renders the form.
		r = br.postForm(t, "/reset-password", form("csrf_token", csrfToken(t, page), "password", newPassword, "password_confirm", "other"))
		requirePage(t, r, http.StatusBadRequest, "do not match")

		// A policy violation is shown on the form.
		r = br.postForm(t, "/reset-password", form("csrf_token", csrfToken(t, page), "password", "short", "password_confirm", "short"))
		requirePage(t, r, http.StatusBadRequest, "at least 8 characters")

		r = br.postForm(t, "/reset-password", form("csrf_token", csrfToken(t, page), "password", newPassword, "password_confirm", newPassword))
		requirePage(t, r, http.StatusOK, "Password changed")
		a.login(t, "reset-form@example.test", newPassword)
		a.requireTokenRejected(t, old.AccessToken) // a reset revokes every session
		require.Nil(t, br.cookie(t, "/reset-password", "authos_reset"), "the token cookie is cleared")

		// The same link again: used.
		r = br.get(t, "/reset-password?token="+url.QueryEscape(tok))
		location(t, r, http.StatusSeeOther)
		page = br.get(t, "/reset-password")
		r = br.postForm(t, "/reset-password", form("csrf_token", csrfToken(t, page), "password", "yet-another-passphrase-7", "password_confirm", "yet-another-passphrase-7"))
		requirePage(t, r, http.StatusBadRequest, "already used")
	})

	t.Run("WithoutALink", func(t *testing.T) {
		t.Parallel()
		a := b.newApp(t)
		br := a.newBrowser(t)
		requirePage(t, br.get(t, "/reset-password"), http.StatusBadRequest, "Open the reset link from your email")
		r := br.get(t, "/reset-password?token=not-a-real-token")
		location(t, r, http.StatusSeeOther)
		page := br.get(t, "/reset-password")
		r = br.postForm(t, "/reset-password", form("csrf_token", csrfToken(t, page), "password", newPassword, "password_confirm", newPassword))
		requirePage(t, r, http.StatusBadRequest, "not valid")
	})
}
