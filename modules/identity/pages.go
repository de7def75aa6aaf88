package identity

import (
	"errors"
	"net/http"

	"github.com/authos/authos/platform/hosted"
)

// verifyEmail consumes a verification token and renders the result on the
// hosted result page.
func (p *pages) verifyEmail(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	err := p.s.VerifyEmail(r.Context(), r.URL.Query().Get("token"))
	switch {
	case err == nil:
		p.message(w, http.StatusOK, hosted.Branding{}, true, "Email Verified!", "Your email address is verified. You can close this page and sign in.")
	case errors.Is(err, ErrTokenUsed):
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Link already used", "This verification link was already used. If your email is verified you can sign in.")
	case errors.Is(err, ErrTokenExpired):
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Link expired", "This verification link has expired. Request a new one from the sign-in page.")
	case errors.Is(err, ErrEmailTaken):
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Email already in use", "This email address now belongs to another account. Your email address was not changed.")
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUserNotFound):
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Invalid link", "This verification link is not valid.")
	default:
		p.s.logger.ErrorContext(r.Context(), "verify email", "error", err)
		p.message(w, http.StatusInternalServerError, hosted.Branding{}, false, "Something went wrong", "Please try again later.")
	}
}
