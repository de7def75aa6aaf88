package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// Security headers sent on every response. /docs replaces the CSP with
// [docsCSP]; server-rendered pages set their own.
const (
	hstsValue = "max-age=31536000; includeSubDomains"
	apiCSP    = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// requestIDMiddleware opens the per-request state: it adopts a sane incoming
// X-Request-Id or generates one, and echoes it in the response.
func requestIDMiddleware(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID(id) {
				id = newRequestID()
			}
			st := &requestState{id: id, logger: logger}
			w.Header().Set(RequestIDHeader, id)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
		})
	}
}

// recoverMiddleware turns a panic into a logged stack trace and a generic 500
// problem. http.ErrAbortHandler keeps its meaning and is re-panicked.
func recoverMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			loggerFrom(r.Context()).ErrorContext(r.Context(), "panic serving request",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if ww.Status() != 0 {
				return // headers already sent; nothing sane left to write
			}
			writeProblem(ww, r, NewError(http.StatusInternalServerError, CodeInternalServerError, "panic recovered"))
		}()
		next.ServeHTTP(ww, r)
	})
}

// securityHeadersMiddleware sets HSTS, nosniff, frame and referrer policies
// and a locked-down CSP suitable for JSON responses.
func securityHeadersMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", hstsValue)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", apiCSP)
		next.ServeHTTP(w, r)
	})
}

// bodyLimitMiddleware refuses bodies over limit bytes with 413: at once when
// Content-Length says so, and while reading when the body streams past it
// (the reader then fails with *http.MaxBytesError, which Huma and
// [WriteError] render as 413).
func bodyLimitMiddleware(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				writeProblem(w, r, payloadTooLarge())
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// timeoutMiddleware bounds the request's context. Handlers observe it through
// ctx; a handler failing with the deadline answers 503.
func timeoutMiddleware(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
