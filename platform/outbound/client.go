package outbound

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout is the overall request timeout used by [NewHTTPClient] when
// it is given a non-positive timeout (spec §22.1 item 14: 10 s for webhooks).
const DefaultTimeout = 10 * time.Second

// ErrBodyTooLarge is returned by [ReadLimited] when the input exceeds the limit.
var ErrBodyTooLarge = errors.New("body exceeds size limit")

// NewHTTPClient returns an HTTP client whose every connection goes through
// [Policy.DialContext]. It ignores HTTP(S)_PROXY from the environment, bounds
// the TLS handshake and the wait for response headers, limits each request to
// timeout (DefaultTimeout when timeout <= 0), and does not follow redirects:
// a 3xx answer is returned to the caller as is.
func NewHTTPClient(p Policy, timeout time.Duration) *http.Client {
	return NewHTTPClientWithResolver(p, timeout, nil)
}

// NewHTTPClientWithResolver is [NewHTTPClient] resolving host names with r
// instead of the default resolver (nil means the default): for a configured
// DNS server, or a test's. Every resolved address is still checked against
// the policy.
func NewHTTPClientWithResolver(p Policy, timeout time.Duration, r *net.Resolver) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: r}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext(dialer),
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ReadLimited reads r to the end, up to limit bytes. When r holds more than
// limit bytes it returns the first limit bytes together with an error wrapping
// [ErrBodyTooLarge], so callers may still store a truncated body.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit < 0 {
		return nil, fmt.Errorf("read limit %d is negative", limit)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return data, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("more than %d bytes: %w", limit, ErrBodyTooLarge)
	}
	return data, nil
}
