package identity

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/authos/authos/platform/hosted"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/redis"
)

// newPages builds the hosted pages. The CSRF key is derived from the
// configured page key (the same on every replica).
func newPages(s *Service) (*pages, error) {
	r, err := hosted.New(hosted.Options{Logger: s.logger})
	if err != nil {
		return nil, err
	}
	key := s.cfg.PageKey
	if len(key) < 32 {
		sum := sha256.Sum256(append([]byte("authos-hosted-pages:"), key...))
		key = sum[:]
	}
	secure := strings.HasPrefix(s.cfg.BaseURL, "https://")
	csrf, err := hosted.NewCSRF(key, secure)
	if err != nil {
		return nil, err
	}
	return &pages{s: s, r: r, csrf: csrf, secure: secure}, nil
}

// limitUserCode rate-limits user-code guesses per client address (the
// device flow's rate, spec §1.8).
func (s *Service) limitUserCode(r *http.Request) error {
	if s.limiter == nil || s.limiter.Disabled {
		return nil
	}
	res, err := s.limiter.Allow(r.Context(), "usercode:"+redis.ClientIPKey(r), redis.DeviceFlowRate())
	if err != nil {
		return ErrLimiterUnavailable
	}
	if !res.Allowed {
		return ErrTooManyAttempts
	}
	return nil
}

// BrowserPrincipal resolves the platform user signed in on this browser
// through the hosted platform login (the session cookie), if any.
func (m *Module) BrowserPrincipal(r *http.Request) (*httpapi.Principal, bool) {
	c, err := r.Cookie(AdminCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	p, err := m.Authenticator().Authenticate(r.Context(), c.Value)
	if err != nil || p == nil {
		return nil, false
	}
	return p, true
}

// AdminGuard protects the administrators' browser pages (/admin/*, the job
// dashboard): it needs the admin session cookie set by the hosted platform
// login, backed by a live session of a platform owner. Without a valid
// session the browser is sent to the login page; a signed-in user who is not
// a platform owner gets 403.
func (m *Module) AdminGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := m.BrowserPrincipal(r); ok {
			if !p.IsPlatformOwner || p.OrgID != nil {
				m.pages.message(w, http.StatusForbidden, hosted.Branding{}, false, "Access denied", "Platform owner access required.")
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet {
			m.pages.message(w, http.StatusUnauthorized, hosted.Branding{}, false, "Sign in required", "Please sign in again.")
			return
		}
		http.Redirect(w, r, "/authorize?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// ErrTooManyAttempts is a rate limit reached on a hosted page.
var ErrTooManyAttempts = errors.New("too many attempts")
