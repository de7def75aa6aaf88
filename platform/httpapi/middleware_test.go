package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, path := range []string{"/request-info", "/missing"} {
		rec := b.do(t, httptest.NewRequest(http.MethodGet, path, nil))
		h := rec.Header()
		require.Equal(t, "max-age=31536000; includeSubDomains", h.Get("Strict-Transport-Security"), path)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
		require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'", path)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()

	t.Run("GeneratedAndVisibleToHandler", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/request-info", nil))
		id := rec.Header().Get(RequestIDHeader)
		require.Len(t, id, 36)
		require.Contains(t, rec.Body.String(), id)
	})

	t.Run("SaneIncomingEchoed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		req := httptest.NewRequest(http.MethodGet, "/request-info", nil)
		req.Header.Set(RequestIDHeader, "lb-7f3a.91_x")
		rec := b.do(t, req)
		require.Equal(t, "lb-7f3a.91_x", rec.Header().Get(RequestIDHeader))
	})

	t.Run("InsaneIncomingReplaced", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		for _, bad := range []string{"a b", "x\"}{", strings.Repeat("a", 65), "id\u00e9"} {
			req := httptest.NewRequest(http.MethodGet, "/request-info", nil)
			req.Header.Set(RequestIDHeader, bad)
			rec := b.do(t, req)
			require.NotEqual(t, bad, rec.Header().Get(RequestIDHeader))
			require.Len(t, rec.Header().Get(RequestIDHeader), 36)
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()

	opts := Options{
		CORSOrigins: []string{"https://app.example.com"},
		ExtraOriginAllowedFunc: func(_ context.Context, origin string) bool {
			return origin == "https://login.customer.example"
		},
	}
	withOrigin := func(method, origin string) *http.Request {
		req := httptest.NewRequest(method, "/request-info", nil)
		req.Header.Set("Origin", origin)
		return req
	}

	t.Run("AllowedOrigin", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts)
		for _, origin := range []string{"https://app.example.com", "https://login.customer.example"} {
			rec := b.do(t, withOrigin(http.MethodGet, origin))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, origin, rec.Header().Get("Access-Control-Allow-Origin"))
			require.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
			require.Contains(t, rec.Header().Values("Vary"), "Origin")
			require.Contains(t, rec.Header().Get("Access-Control-Expose-Headers"), RequestIDHeader)
		}
	})

	t.Run("DisallowedOrigin", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts)
		for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "null"} {
			rec := b.do(t, withOrigin(http.MethodGet, origin))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
			require.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))
			require.Contains(t, rec.Header().Values("Vary"), "Origin")
		}
	})

	t.Run("PreflightAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts)
		req := withOrigin(http.MethodOptions, "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		rec := b.do(t, req)
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, "https://app.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), http.MethodPost)
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "X-Api-Key")
		require.NotEmpty(t, rec.Header().Get("Access-Control-Max-Age"))
	})

	t.Run("PreflightDisallowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts)
		req := withOrigin(http.MethodOptions, "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		rec := b.do(t, req)
		requireProblem(t, rec, http.StatusForbidden, "FORBIDDEN")
		require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
		require.Empty(t, rec.Header().Get("Access-Control-Allow-Methods"))
	})
}

func TestClientIP(t *testing.T) {
	t.Parallel()

	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	ipOf := func(t *testing.T, b *testBundle, peer string, headers map[string]string) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/request-info", nil)
		req.RemoteAddr = peer
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := b.do(t, req)
		require.Equal(t, http.StatusOK, rec.Code)
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return body["ip"].(string)
	}

	t.Run("ForwardedHonouredFromTrustedProxy", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{TrustProxyHeaders: true, TrustedProxies: proxies})
		xff := map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.2"}
		require.Equal(t, "203.0.113.9", ipOf(t, b, "10.0.0.1:41000", xff))
		require.Equal(t, "203.0.113.7", ipOf(t, b, "[fd00::1]:41000",
			map[string]string{"X-Real-IP": "203.0.113.7"}))
		require.Equal(t, "10.0.0.9", ipOf(t, b, "10.0.0.1:41000",
			map[string]string{"X-Forwarded-For": "10.0.0.9, 10.0.0.2"}))
		require.Equal(t, "10.0.0.1", ipOf(t, b, "10.0.0.1:41000",
			map[string]string{"X-Forwarded-For": "not-an-ip"}))
	})

	t.Run("SpoofFromUntrustedPeerIgnored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{TrustProxyHeaders: true, TrustedProxies: proxies})
		headers := map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "1.2.3.4"}
		require.Equal(t, "198.51.100.7", ipOf(t, b, "198.51.100.7:5555", headers))
	})

	t.Run("HeadersIgnoredUnlessEnabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{TrustProxyHeaders: false, TrustedProxies: proxies})
		require.Equal(t, "10.0.0.1", ipOf(t, b, "10.0.0.1:41000",
			map[string]string{"X-Forwarded-For": "203.0.113.9"}))
	})

	t.Run("RemoteAddrRewritten", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{TrustProxyHeaders: true, TrustedProxies: proxies})
		var seen string
		b.mux.Get("/remote", func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })
		req := httptest.NewRequest(http.MethodGet, "/remote", nil)
		req.RemoteAddr = "10.0.0.1:41000"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		b.do(t, req)
		require.Equal(t, "203.0.113.9", seen)
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()

	big := `{"name": "abc", "count": 2, "pad": "` + strings.Repeat("x", 200) + `"}`

	t.Run("WithContentLength", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{MaxBodyBytes: 64})
		rec := b.do(t, newJSONRequest(http.MethodPost, "/widgets", big))
		requireProblem(t, rec, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	})

	t.Run("StreamingWithoutContentLength", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{MaxBodyBytes: 64})
		req := httptest.NewRequest(http.MethodPost, "/widgets", unknownLength(big))
		req.Header.Set("Content-Type", "application/json")
		require.EqualValues(t, -1, req.ContentLength)
		rec := b.do(t, req)
		requireProblem(t, rec, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	})

	t.Run("WithinLimitAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{MaxBodyBytes: 64})
		body := `{"name": "abc", "count": 2}`
		req := httptest.NewRequest(http.MethodPost, "/widgets", unknownLength(body))
		req.Header.Set("Content-Type", "application/json")
		rec := b.do(t, req)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	})

	t.Run("RouterLimitAboveHumaDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{MaxBodyBytes: 4 << 20})
		body := `{"data": "` + strings.Repeat("x", 2<<20) + `"}`
		rec := b.do(t, newJSONRequest(http.MethodPost, "/blobs", body))
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"size": 2097152}`, rec.Body.String())
	})
}
