package redis

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Error codes and messages written by the middleware.
const (
	CodeTooManyRequests       = "TOO_MANY_REQUESTS"
	MessageTooManyRequests    = "Too many requests. Please try again later."
	CodeServiceUnavailable    = "SERVICE_UNAVAILABLE"
	MessageLimiterUnavailable = "Rate limiter unavailable"
)

// Response headers set by the middleware. The RateLimit-* headers follow the
// IETF draft "RateLimit header fields for HTTP".
const (
	HeaderRetryAfter         = "Retry-After"
	HeaderRateLimitLimit     = "RateLimit-Limit"
	HeaderRateLimitRemaining = "RateLimit-Remaining"
	HeaderRateLimitReset     = "RateLimit-Reset"
)

// WriteErrorFunc writes an error answer. platform/httpapi provides one that
// writes the RFC 9457 problem body with the AuthOS error_code member.
type WriteErrorFunc func(w http.ResponseWriter, r *http.Request, status int, code, message string)

// Rule applies a Rate to the requests of one route group.
type Rule struct {
	// Name separates this rule's buckets from other rules' (see RuleAuth).
	Name string
	// Rate is the bucket each key gets.
	Rate Rate
	// Key returns the bucket key of a request. Nil means ClientIPKey. A
	// Key that returns "" exempts the request from this rule, which lets a
	// per-account rule skip anonymous requests.
	Key func(r *http.Request) string
}

// ClientIPKey returns the client address of r as a bucket key: the host part
// of r.RemoteAddr, which the real-IP middleware earlier in the chain has
// set from trusted proxy headers. IPv6 clients are keyed by their /64,
// since a single host usually controls a whole /64. An unparsable
// RemoteAddr is used as it is, and an empty one as "unknown", so no request
// escapes the limit.
func ClientIPKey(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		return "unknown"
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}

// Middleware returns chi-style middleware that applies rule to each request.
//
// Every answer carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset. When the bucket is empty it sets Retry-After (whole
// seconds, at least 1) and calls write with 429 TOO_MANY_REQUESTS. When
// Redis cannot be asked it fails closed: write gets 503 SERVICE_UNAVAILABLE
// and next is not called. With l.Disabled every request goes to next. A nil
// write uses a plain JSON body.
func (l *Limiter) Middleware(rule Rule, write WriteErrorFunc) func(http.Handler) http.Handler {
	if write == nil {
		write = writePlainError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l.Disabled {
				next.ServeHTTP(w, r)
				return
			}
			if status, code, msg := l.check(r, rule, w.Header().Set); status != 0 {
				write(w, r, status, code, msg)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// HumaMiddleware is Middleware for a huma.API or huma.Group
// (group.UseMiddleware). With the humachi adapter (and the other adapters
// built on net/http, such as humatest's) write receives the underlying
// http.ResponseWriter and *http.Request, so answers match Middleware's; the
// request passed to rule.Key and write carries the Huma context's
// context.Context. With other adapters the error is written with
// huma.WriteErr(api, ...), which loses the code argument.
func (l *Limiter) HumaMiddleware(api huma.API, rule Rule, write WriteErrorFunc) func(ctx huma.Context, next func(huma.Context)) {
	if write == nil {
		write = writePlainError
	}
	return func(ctx huma.Context, next func(huma.Context)) {
		if l.Disabled {
			next(ctx)
			return
		}
		r, w, ok := unwrapHuma(ctx)
		if !ok {
			r = requestFromHuma(ctx)
		}
		status, code, msg := l.check(r, rule, ctx.SetHeader)
		switch {
		case status == 0:
			next(ctx)
		case ok:
			write(w, r, status, code, msg)
		default:
			_ = huma.WriteErr(api, ctx, status, msg)
		}
	}
}

// check applies rule to r, setting the rate limit headers with set. It
// returns status 0 when the request may go on, else the error to write.
func (l *Limiter) check(r *http.Request, rule Rule, set func(name, value string)) (status int, code, msg string) {
	keyFunc := rule.Key
	if keyFunc == nil {
		keyFunc = ClientIPKey
	}
	key := keyFunc(r)
	if key == "" {
		return 0, "", ""
	}
	res, err := l.Allow(r.Context(), rule.Name+":"+key, rule.Rate)
	if err != nil {
		if l.Logger != nil {
			l.Logger.ErrorContext(r.Context(), "rate limiter unavailable", "rule", rule.Name, "error", err)
		}
		return http.StatusServiceUnavailable, CodeServiceUnavailable, MessageLimiterUnavailable
	}
	set(HeaderRateLimitLimit, strconv.Itoa(rule.Rate.Burst))
	set(HeaderRateLimitRemaining, strconv.Itoa(res.Remaining))
	set(HeaderRateLimitReset, strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
	if res.Allowed {
		return 0, "", ""
	}
	set(HeaderRetryAfter, strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10))
	return http.StatusTooManyRequests, CodeTooManyRequests, MessageTooManyRequests
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// unwrapHuma returns the net/http request and writer behind ctx, the way
// humachi.Unwrap does, but for every adapter built on net/http (humachi,
// humaflow, humago, humamux) and without panicking on others. The request
// gets ctx's context so values set by earlier Huma middleware are visible.
func unwrapHuma(ctx huma.Context) (*http.Request, http.ResponseWriter, bool) {
	inner := ctx
	for {
		c, ok := inner.(interface{ Unwrap() huma.Context })
		if !ok {
			break
		}
		inner = c.Unwrap()
	}
	c, ok := inner.(interface {
		Unwrap() (*http.Request, http.ResponseWriter)
	})
	if !ok {
		return nil, nil, false
	}
	r, w := c.Unwrap()
	return r.WithContext(ctx.Context()), w, true
}

// requestFromHuma builds the request fields a Key function may read from a
// Huma context whose adapter is not built on net/http.
func requestFromHuma(ctx huma.Context) *http.Request {
	u := ctx.URL()
	r := (&http.Request{
		Method:     ctx.Method(),
		URL:        &u,
		Host:       ctx.Host(),
		RemoteAddr: ctx.RemoteAddr(),
		Header:     http.Header{},
	}).WithContext(ctx.Context())
	ctx.EachHeader(func(name, value string) { r.Header.Add(name, value) })
	return r
}

// writePlainError is the WriteErrorFunc used when none is given.
func writePlainError(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message, "error_code": code})
}
