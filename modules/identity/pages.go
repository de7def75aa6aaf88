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
	b := p.orgBranding(r)
	switch {
	case err == nil:
		p.message(w, http.StatusOK, b, true, "Email Verified!", "Your email address is verified. You can close this page and sign in.")
	case errors.Is(err, ErrTokenUsed):
		p.message(w, http.StatusBadRequest, b, false, "Link already used", "This verification link was already used. If your email is verified you can sign in.")
	case errors.Is(err, ErrTokenExpired):
		p.message(w, http.StatusBadRequest, b, false, "Link expired", "This verification link has expired. Request a new one from the sign-in page.")
	case errors.Is(err, ErrEmailTaken):
		p.message(w, http.StatusBadRequest, b, false, "Email already in use", "This email address now belongs to another account. Your email address was not changed.")
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUserNotFound):
		p.message(w, http.StatusBadRequest, b, false, "Invalid link", "This verification link is not valid.")
	default:
		p.s.logger.ErrorContext(r.Context(), "verify email", "error", err)
		p.message(w, http.StatusInternalServerError, b, false, "Something went wrong", "Please try again later.")
	}
}

// orgBranding is the look of a page reached from an organization's email
// (?org=slug): its name, logo and colour; AuthOS's for anything else.
func (p *pages) orgBranding(r *http.Request) hosted.Branding {
	slug := r.URL.Query().Get("org")
	if slug == "" || len(slug) > 100 {
		return hosted.Branding{}
	}
	sc, err := p.s.resolveScope(r.Context(), slug, "", "")
	if err != nil {
		return hosted.Branding{}
	}
	return brandingOf(sc)
}
