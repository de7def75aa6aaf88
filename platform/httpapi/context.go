package httpapi

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/google/uuid"
)

// RequestIDHeader is the header that carries the request id in both
// directions. An incoming value is honoured only when it is a short, sane
// token (see [validRequestID]); otherwise a new id is generated.
const RequestIDHeader = "X-Request-Id"

// requestState is the per-request record shared by the middleware chain. It is
// created by the outermost middleware and only touched by the goroutine that
// serves the request.
type requestState struct {
	id        string
	logger    *slog.Logger
	clientIP  netip.Addr
	operation string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// RequestIDFrom returns the id of the request ctx belongs to, or "" outside a
// request served by the router built by [New].
func RequestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// ClientIPFrom returns the client address of the request ctx belongs to:
// the direct peer, or the address reported by a trusted proxy. ok is false
// outside a request or when the peer address could not be parsed.
func ClientIPFrom(ctx context.Context) (netip.Addr, bool) {
	st := stateFrom(ctx)
	if st == nil || !st.clientIP.IsValid() {
		return netip.Addr{}, false
	}
	return st.clientIP, true
}

// loggerFrom returns the request's logger with the request id attached, or
// slog's default logger outside a request.
func loggerFrom(ctx context.Context) *slog.Logger {
	st := stateFrom(ctx)
	if st == nil {
		return slog.Default()
	}
	return st.logger.With(slog.String("request_id", st.id))
}

// validRequestID reports whether an incoming request id may be reused: 1 to 64
// characters of [A-Za-z0-9._-], which covers the ids load balancers and
// clients usually send (UUIDs, hex, base64url) and nothing that could inject
// into logs or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// newRequestID returns a fresh random request id.
func newRequestID() string {
	return uuid.NewString()
}
