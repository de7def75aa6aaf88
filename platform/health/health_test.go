package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/health"
)

func okCheck(name string) health.Check {
	return health.Check{Name: name, OK: "connected", Failed: "disconnected", Probe: func(context.Context) error { return nil }}
}

func failingCheck(name string, err error) health.Check {
	return health.Check{Name: name, OK: "connected", Failed: "disconnected", Probe: func(context.Context) error { return err }}
}

// readyWithin runs Ready and fails the test if it has not returned by limit.
func readyWithin(t *testing.T, c *health.Checker, ctx context.Context, limit time.Duration) health.Result {
	t.Helper()
	done := make(chan health.Result, 1)
	go func() { done <- c.Ready(ctx) }()
	select {
	case res := <-done:
		return res
	case <-time.After(limit):
		require.FailNow(t, "Ready did not return", "still running after %s", limit)
		return health.Result{}
	}
}

func TestChecker_Ready(t *testing.T) {
	t.Parallel()

	t.Run("AllOK", func(t *testing.T) {
		t.Parallel()
		c := health.NewChecker("1.2.3", time.Second,
			okCheck("database"), okCheck("redis"),
			health.Check{Name: "schema", OK: "current", Failed: "behind", Probe: func(context.Context) error { return nil }},
		)
		res := c.Ready(t.Context())
		require.True(t, res.Ready)
		require.Equal(t, map[string]string{"database": "connected", "redis": "connected", "schema": "current"}, res.Components)
		require.Empty(t, res.Errors)
		require.Equal(t, "1.2.3", c.Version())
	})

	t.Run("NoChecksIsReady", func(t *testing.T) {
		t.Parallel()
		res := health.NewChecker("v", 0).Ready(t.Context())
		require.True(t, res.Ready)
		require.Empty(t, res.Components)
	})

	t.Run("OneFailingCheckMarksUnhealthy", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("dial tcp: connection refused")
		c := health.NewChecker("v", time.Second, okCheck("database"), failingCheck("redis", boom))
		res := c.Ready(t.Context())
		require.False(t, res.Ready)
		require.Equal(t, map[string]string{"database": "connected", "redis": "disconnected"}, res.Components)
		require.Len(t, res.Errors, 1)
		require.ErrorIs(t, res.Errors["redis"], boom)
	})

	t.Run("ProbesRunConcurrently", func(t *testing.T) {
		t.Parallel()
		// Each probe waits until both have started: run one after the other,
		// the first would time out.
		var arrived atomic.Int32
		both := make(chan struct{})
		mk := func(name string) health.Check {
			return health.Check{Name: name, OK: "up", Failed: "down", Probe: func(ctx context.Context) error {
				if arrived.Add(1) == 2 {
					close(both)
				}
				select {
				case <-both:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
		}
		res := health.NewChecker("v", 2*time.Second, mk("a"), mk("b")).Ready(t.Context())
		require.True(t, res.Ready, "errors: %v", res.Errors)
	})

	t.Run("ProbeIgnoringContextIsBoundedByTimeout", func(t *testing.T) {
		t.Parallel()
		block := make(chan struct{})
		t.Cleanup(func() { close(block) })
		const timeout = 200 * time.Millisecond
		c := health.NewChecker("v", timeout,
			okCheck("redis"),
			health.Check{Name: "database", OK: "connected", Failed: "disconnected", Probe: func(context.Context) error {
				<-block // a driver call that never returns and ignores ctx
				return nil
			}},
		)
		res := readyWithin(t, c, t.Context(), 3*timeout+time.Second)
		require.False(t, res.Ready)
		require.Equal(t, "disconnected", res.Components["database"])
		require.Equal(t, "connected", res.Components["redis"])
		require.ErrorIs(t, res.Errors["database"], context.DeadlineExceeded)
	})

	t.Run("ProbeHonouringContextIsBoundedByTimeout", func(t *testing.T) {
		t.Parallel()
		const timeout = 150 * time.Millisecond
		c := health.NewChecker("v", timeout, health.Check{Name: "database", OK: "connected", Failed: "disconnected", Probe: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}})
		res := readyWithin(t, c, t.Context(), 3*timeout+time.Second)
		require.False(t, res.Ready)
		require.ErrorIs(t, res.Errors["database"], context.DeadlineExceeded)
	})

	t.Run("CancelledRequestEndsProbes", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		block := make(chan struct{})
		t.Cleanup(func() { close(block) })
		c := health.NewChecker("v", time.Hour, health.Check{Name: "database", OK: "connected", Failed: "disconnected", Probe: func(context.Context) error {
			<-block
			return nil
		}})
		res := readyWithin(t, c, ctx, 5*time.Second)
		require.False(t, res.Ready)
		require.ErrorIs(t, res.Errors["database"], context.Canceled)
	})

	t.Run("PanickingProbeFails", func(t *testing.T) {
		t.Parallel()
		c := health.NewChecker("v", time.Second, okCheck("redis"), health.Check{Name: "database", OK: "connected", Failed: "disconnected", Probe: func(context.Context) error {
			panic("nil pool")
		}})
		res := readyWithin(t, c, t.Context(), 5*time.Second)
		require.False(t, res.Ready)
		require.Equal(t, "disconnected", res.Components["database"])
		require.ErrorContains(t, res.Errors["database"], "nil pool")
	})
}

func TestChecker_Body(t *testing.T) {
	t.Parallel()
	c := health.NewChecker("9.9.9", time.Second)
	require.Equal(t, map[string]any{"version": "9.9.9", "status": "ready", "database": "connected"},
		c.Body(health.Result{Ready: true, Components: map[string]string{"database": "connected"}}))
	require.Equal(t, map[string]any{"version": "9.9.9", "status": "unhealthy", "database": "disconnected"},
		c.Body(health.Result{Ready: false, Components: map[string]string{"database": "disconnected"}}))
}

func TestReadyHandler(t *testing.T) {
	t.Parallel()

	serve := func(t *testing.T, c *health.Checker) (*httptest.ResponseRecorder, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/health/ready", nil)
		c.ReadyHandler().ServeHTTP(rec, req)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return rec, body
	}

	t.Run("Ready", func(t *testing.T) {
		t.Parallel()
		rec, body := serve(t, health.NewChecker("1.0.0", time.Second, okCheck("database"), okCheck("redis")))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, map[string]any{"status": "ready", "version": "1.0.0", "database": "connected", "redis": "connected"}, body)
	})

	t.Run("Unhealthy", func(t *testing.T) {
		t.Parallel()
		secret := errors.New("password authentication failed for user authos")
		rec, body := serve(t, health.NewChecker("1.0.0", time.Second, okCheck("redis"), failingCheck("database", secret)))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, map[string]any{"status": "unhealthy", "version": "1.0.0", "database": "disconnected", "redis": "connected"}, body)
		require.NotContains(t, rec.Body.String(), "password", "probe errors are not exposed")
	})
}

func TestLiveHandler(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	health.LiveHandler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/health/live", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Body.String())
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}
