package httpapi

import (
	"context"
	"net/http"
	"strings"
)

// CORS response values. Credentials are allowed, so origins are always
// echoed exactly and never "*".
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Accept, Accept-Language, Authorization, Content-Type, If-Match, If-None-Match, X-Api-Key, X-Request-Id"
	corsExposeHeaders = "Location, Retry-After, X-Request-Id, WWW-Authenticate"
	corsMaxAge        = "600"
)

// corsPolicy decides which browser origins may call the API with
// credentials: the configured origins (exact match) plus whatever the
// optional hook accepts (verified custom domains, later).
type corsPolicy struct {
	origins    map[string]struct{}
	extraFunc  func(ctx context.Context, origin string) bool
	allowedAny bool
}

func newCORSPolicy(origins []string, extraFunc func(ctx context.Context, origin string) bool) *corsPolicy {
	p := &corsPolicy{origins: make(map[string]struct{}, len(origins)), extraFunc: extraFunc}
	for _, o := range origins {
		if o = strings.TrimSpace(o); o != "" {
			p.origins[o] = struct{}{}
		}
	}
	p.allowedAny = len(p.origins) > 0 || extraFunc != nil
	return p
}

func (p *corsPolicy) allowed(ctx context.Context, origin string) bool {
	if origin == "" || !p.allowedAny {
		return false
	}
	if _, ok := p.origins[origin]; ok {
		return true
	}
	return p.extraFunc != nil && p.extraFunc(ctx, origin)
}

// middleware adds CORS headers for allowed origins and answers preflight
// requests itself: 204 for an allowed origin, 403 problem otherwise.
func (p *corsPolicy) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		ok := p.allowed(r.Context(), origin)
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			if ok {
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
			next.ServeHTTP(w, r)
			return
		}
		if !ok {
			WriteProblem(w, r, http.StatusForbidden, CodeForbidden, "Origin not allowed")
			return
		}
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
