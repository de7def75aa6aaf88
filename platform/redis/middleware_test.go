package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// writeCall records one call of a WriteErrorFunc.
type writeCall struct {
	Status  int
	Code    string
	Message string
}

// recordingWriter is a WriteErrorFunc that records its calls and writes a
// small problem body.
type recordingWriter struct {
	mu    sync.Mutex
	calls []writeCall
}

func (rw *recordingWriter) write(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	rw.mu.Lock()
	rw.calls = append(rw.calls, writeCall{Status: status, Code: code, Message: message})
	rw.mu.Unlock()
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "error_code": code, "error": message})
}

func (rw *recordingWriter) last(t *testing.T) writeCall {
	t.Helper()
	rw.mu.Lock()
	defer rw.mu.Unlock()
	require.NotEmpty(t, rw.calls, "write was not called")
	return rw.calls[len(rw.calls)-1]
}

func (rw *recordingWriter) count() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return len(rw.calls)
}

// doRequest sends GET path from remoteAddr to h.
func doRequest(h http.Handler, path, remoteAddr string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
	req.RemoteAddr = remoteAddr
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, startRedis(t))

	type testBundle struct {
		lim     *Limiter
		writer  *recordingWriter
		handler http.Handler
		calls   *int64
		mu      *sync.Mutex
	}
	setup := func(t *testing.T, rule Rule) *testBundle {
		t.Helper()
		b := &testBundle{lim: NewLimiter(client, uniquePrefix()), writer: &recordingWriter{}, calls: new(int64), mu: &sync.Mutex{}}
		next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			b.mu.Lock()
			*b.calls++
			b.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		})
		b.handler = b.lim.Middleware(rule, b.writer.write)(next)
		return b
	}
	nextCalls := func(b *testBundle) int64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return *b.calls
	}
	rule := Rule{Name: "auth", Rate: Rate{Every: time.Hour, Burst: 2}}

	t.Run("AnswersTooManyRequestsWhenExhausted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, rule)

		rec := doRequest(b.handler, "/login", "192.0.2.1:1234")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, "2", rec.Header().Get(HeaderRateLimitLimit))
		require.Equal(t, "1", rec.Header().Get(HeaderRateLimitRemaining))
		require.Equal(t, "3600", rec.Header().Get(HeaderRateLimitReset))
		require.Empty(t, rec.Header().Get(HeaderRetryAfter))

		rec = doRequest(b.handler, "/login", "192.0.2.1:1235")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, "0", rec.Header().Get(HeaderRateLimitRemaining))

		rec = doRequest(b.handler, "/login", "192.0.2.1:1236")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, writeCall{Status: http.StatusTooManyRequests, Code: "TOO_MANY_REQUESTS", Message: "Too many requests. Please try again later."}, b.writer.last(t))
		retryAfter, err := strconv.Atoi(rec.Header().Get(HeaderRetryAfter))
		require.NoError(t, err)
		require.GreaterOrEqual(t, retryAfter, 3599)
		require.LessOrEqual(t, retryAfter, 3600)
		require.Equal(t, "2", rec.Header().Get(HeaderRateLimitLimit))
		require.Equal(t, "0", rec.Header().Get(HeaderRateLimitRemaining))
		require.Equal(t, int64(2), nextCalls(b))
	})

	t.Run("RetryAfterIsAtLeastOneSecond", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Rule{Name: "fast", Rate: Rate{Every: 10 * time.Millisecond, Burst: 1}})
		require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/", "192.0.2.1:1").Code)
		rec := doRequest(b.handler, "/", "192.0.2.1:1")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, "1", rec.Header().Get(HeaderRetryAfter))
	})

	t.Run("SeparatesClientIPs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, rule)
		for range 2 {
			require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/", "192.0.2.1:1").Code)
		}
		require.Equal(t, http.StatusTooManyRequests, doRequest(b.handler, "/", "192.0.2.1:2").Code)
		require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/", "192.0.2.2:1").Code)
		require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/", "[2001:db8::1]:1").Code)
	})

	t.Run("SeparatesRules", func(t *testing.T) {
		t.Parallel()
		b := setup(t, rule)
		other := b.lim.Middleware(Rule{Name: "mfa", Rate: rule.Rate}, b.writer.write)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))
		for range 2 {
			require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/", "192.0.2.1:1").Code)
		}
		require.Equal(t, http.StatusNoContent, doRequest(other, "/", "192.0.2.1:1").Code)
	})

	t.Run("CustomKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Rule{Name: "account", Rate: Rate{Every: time.Hour, Burst: 1}, Key: func(r *http.Request) string {
			return r.URL.Query().Get("email")
		}})
		require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/?email=a@example.com", "192.0.2.1:1").Code)
		require.Equal(t, http.StatusTooManyRequests, doRequest(b.handler, "/?email=a@example.com", "192.0.2.2:1").Code, "same account from another IP")
		require.Equal(t, http.StatusNoContent, doRequest(b.handler, "/?email=b@example.com", "192.0.2.1:1").Code)
		for range 3 {
			rec := doRequest(b.handler, "/", "192.0.2.1:1")
			require.Equal(t, http.StatusNoContent, rec.Code, "an empty key is not limited")
			require.Empty(t, rec.Header().Get(HeaderRateLimitLimit))
		}
	})

	t.Run("FailsClosedWhenRedisDown", func(t *testing.T) {
		t.Parallel()
		down := newTestClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
		b := setup(t, rule)
		b.lim = NewLimiter(down, uniquePrefix())
		var logs bytes.Buffer
		b.lim.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		var called bool
		h := b.lim.Middleware(rule, b.writer.write)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))

		rec := doRequest(h, "/", "192.0.2.1:1")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.False(t, called, "next handler must not run")
		require.Empty(t, rec.Header().Get(HeaderRateLimitLimit))
		require.Contains(t, logs.String(), "rate limiter unavailable")
		require.Contains(t, logs.String(), "rule=auth")
		require.Equal(t, writeCall{Status: http.StatusServiceUnavailable, Code: "SERVICE_UNAVAILABLE", Message: "Rate limiter unavailable"}, b.writer.last(t))
	})

	t.Run("FailsClosedOnInvalidRate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Rule{Name: "bad", Rate: Rate{}})
		require.Equal(t, http.StatusServiceUnavailable, doRequest(b.handler, "/", "192.0.2.1:1").Code)
		require.Zero(t, nextCalls(b))
	})

	t.Run("DisabledPassesThrough", func(t *testing.T) {
		t.Parallel()
		down := newTestClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
		b := setup(t, rule)
		b.lim = NewLimiter(down, uniquePrefix()) // even without Redis
		b.lim.Disabled = true
		var called int
		h := b.lim.Middleware(Rule{Name: "auth", Rate: Rate{Every: time.Hour, Burst: 1}}, b.writer.write)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			called++
			w.WriteHeader(http.StatusNoContent)
		}))
		for range 5 {
			rec := doRequest(h, "/", "192.0.2.1:1")
			require.Equal(t, http.StatusNoContent, rec.Code)
			require.Empty(t, rec.Header().Get(HeaderRateLimitLimit))
		}
		require.Equal(t, 5, called)
		require.Zero(t, b.writer.count())
	})

	t.Run("NilWriteUsesPlainJSON", func(t *testing.T) {
		t.Parallel()
		lim := NewLimiter(client, uniquePrefix())
		h := lim.Middleware(Rule{Name: "x", Rate: Rate{Every: time.Hour, Burst: 1}}, nil)(http.NotFoundHandler())
		doRequest(h, "/", "192.0.2.1:1")
		rec := doRequest(h, "/", "192.0.2.1:1")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.JSONEq(t, `{"error":"Too many requests. Please try again later.","error_code":"TOO_MANY_REQUESTS"}`, rec.Body.String())
	})

	t.Run("WorksAsChiMiddleware", func(t *testing.T) {
		t.Parallel()
		lim := NewLimiter(client, uniquePrefix())
		w := &recordingWriter{}
		router := chi.NewRouter()
		router.Group(func(r chi.Router) {
			r.Use(lim.Middleware(Rule{Name: "auth", Rate: Rate{Every: time.Hour, Burst: 1}}, w.write))
			r.Get("/limited", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		})
		router.Get("/free", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

		require.Equal(t, http.StatusNoContent, doRequest(router, "/limited", "192.0.2.1:1").Code)
		require.Equal(t, http.StatusTooManyRequests, doRequest(router, "/limited", "192.0.2.1:1").Code)
		require.Equal(t, http.StatusNoContent, doRequest(router, "/free", "192.0.2.1:1").Code)
	})
}

func TestClientIPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		Name       string
		RemoteAddr string
		Want       string
	}{
		{Name: "IPv4WithPort", RemoteAddr: "192.0.2.7:5555", Want: "192.0.2.7"},
		{Name: "IPv4WithoutPort", RemoteAddr: "192.0.2.7", Want: "192.0.2.7"},
		{Name: "IPv4MappedIPv6", RemoteAddr: "[::ffff:192.0.2.7]:1", Want: "192.0.2.7"},
		{Name: "IPv6KeyedBySlash64", RemoteAddr: "[2001:db8:1:2:3:4:5:6]:443", Want: "2001:db8:1:2::/64"},
		{Name: "IPv6SameSlash64", RemoteAddr: "[2001:db8:1:2:ffff::1]:443", Want: "2001:db8:1:2::/64"},
		{Name: "IPv6WithZone", RemoteAddr: "[fe80::1%eth0]:1", Want: "fe80::/64"},
		{Name: "NotAnIP", RemoteAddr: "@pipe", Want: "@pipe"},
		{Name: "Empty", RemoteAddr: "", Want: "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
			r.RemoteAddr = tc.RemoteAddr
			require.Equal(t, tc.Want, ClientIPKey(r))
		})
	}
}

// pingOutput is the body of the test Huma operation.
type pingOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// registerPing registers GET /limited/ping in a group using mw, and GET
// /free outside it.
func registerPing(api huma.API, mw func(huma.Context, func(huma.Context))) {
	handler := func(_ context.Context, _ *struct{}) (*pingOutput, error) {
		out := &pingOutput{}
		out.Body.OK = true
		return out, nil
	}
	g := huma.NewGroup(api, "/limited")
	g.UseMiddleware(mw)
	huma.Register(g, huma.Operation{OperationID: "limited-ping", Method: http.MethodGet, Path: "/ping"}, handler)
	huma.Register(api, huma.Operation{OperationID: "free-ping", Method: http.MethodGet, Path: "/free"}, handler)
}

func TestHumaMiddleware(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, startRedis(t))
	rule := Rule{Name: "mfa_verify", Rate: Rate{Every: time.Hour, Burst: 2}}

	t.Run("HumaChi", func(t *testing.T) {
		t.Parallel()
		lim := NewLimiter(client, uniquePrefix())
		w := &recordingWriter{}
		router := chi.NewMux()
		api := humachi.New(router, huma.DefaultConfig("Test", "1.0.0"))
		registerPing(api, lim.HumaMiddleware(api, rule, w.write))

		for i := range 2 {
			rec := doRequest(router, "/limited/ping", "192.0.2.1:1")
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Body.String(), `"ok":true`)
			require.Equal(t, "2", rec.Header().Get(HeaderRateLimitLimit))
			require.Equal(t, strconv.Itoa(1-i), rec.Header().Get(HeaderRateLimitRemaining))
		}
		rec := doRequest(router, "/limited/ping", "192.0.2.1:1")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		require.JSONEq(t, `{"status":429,"error_code":"TOO_MANY_REQUESTS","error":"Too many requests. Please try again later."}`, rec.Body.String())
		retryAfter, err := strconv.Atoi(rec.Header().Get(HeaderRetryAfter))
		require.NoError(t, err)
		require.GreaterOrEqual(t, retryAfter, 1)
		require.Equal(t, writeCall{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: MessageTooManyRequests}, w.last(t))

		require.Equal(t, http.StatusOK, doRequest(router, "/limited/ping", "192.0.2.2:1").Code, "another client IP")
		require.Equal(t, http.StatusOK, doRequest(router, "/free", "192.0.2.1:1").Code, "routes outside the group")
	})

	t.Run("KeySeesHumaContextValues", func(t *testing.T) {
		t.Parallel()
		type ctxKey struct{}
		lim := NewLimiter(client, uniquePrefix())
		w := &recordingWriter{}
		router := chi.NewMux()
		api := humachi.New(router, huma.DefaultConfig("Test", "1.0.0"))
		api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
			next(huma.WithValue(ctx, ctxKey{}, ctx.Header("X-Account")))
		})
		keyed := Rule{Name: "account", Rate: Rate{Every: time.Hour, Burst: 1}, Key: func(r *http.Request) string {
			account, _ := r.Context().Value(ctxKey{}).(string)
			return account
		}}
		registerPing(api, lim.HumaMiddleware(api, keyed, w.write))

		send := func(account, ip string) int {
			req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/limited/ping", nil)
			req.RemoteAddr = ip
			req.Header.Set("X-Account", account)
			rec := httptest.NewRecorder()
			router.ServeHTTP(rec, req)
			return rec.Code
		}
		require.Equal(t, http.StatusOK, send("alice", "192.0.2.1:1"))
		require.Equal(t, http.StatusTooManyRequests, send("alice", "192.0.2.2:1"))
		require.Equal(t, http.StatusOK, send("bob", "192.0.2.1:1"))
	})

	t.Run("HumaTest", func(t *testing.T) {
		t.Parallel()
		lim := NewLimiter(client, uniquePrefix())
		w := &recordingWriter{}
		_, api := humatest.New(t)
		registerPing(api, lim.HumaMiddleware(api, rule, w.write))

		for range 2 {
			require.Equal(t, http.StatusOK, api.Get("/limited/ping").Code)
		}
		rec := api.Get("/limited/ping")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.NotEmpty(t, rec.Header().Get(HeaderRetryAfter))
		require.Equal(t, CodeTooManyRequests, w.last(t).Code)
	})

	t.Run("FailsClosedWhenRedisDown", func(t *testing.T) {
		t.Parallel()
		down := newTestClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
		lim := NewLimiter(down, uniquePrefix())
		w := &recordingWriter{}
		router := chi.NewMux()
		api := humachi.New(router, huma.DefaultConfig("Test", "1.0.0"))
		var called bool
		g := huma.NewGroup(api, "/limited")
		g.UseMiddleware(lim.HumaMiddleware(api, rule, w.write))
		huma.Register(g, huma.Operation{OperationID: "limited-ping", Method: http.MethodGet, Path: "/ping"}, func(context.Context, *struct{}) (*pingOutput, error) {
			called = true
			return &pingOutput{}, nil
		})

		rec := doRequest(router, "/limited/ping", "192.0.2.1:1")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.False(t, called)
		require.Equal(t, writeCall{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable, Message: MessageLimiterUnavailable}, w.last(t))
	})

	t.Run("DisabledPassesThrough", func(t *testing.T) {
		t.Parallel()
		down := newTestClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
		lim := NewLimiter(down, uniquePrefix())
		lim.Disabled = true
		w := &recordingWriter{}
		router := chi.NewMux()
		api := humachi.New(router, huma.DefaultConfig("Test", "1.0.0"))
		registerPing(api, lim.HumaMiddleware(api, rule, w.write))
		for range 5 {
			require.Equal(t, http.StatusOK, doRequest(router, "/limited/ping", "192.0.2.1:1").Code)
		}
		require.Zero(t, w.count())
	})
}
