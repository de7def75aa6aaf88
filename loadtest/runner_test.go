package main

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stubScenario answers every request after delay, without any network.
type stubScenario struct {
	delay time.Duration
	calls atomic.Int64
}

func (s *stubScenario) setup(context.Context) error { return nil }

func (s *stubScenario) do(ctx context.Context, _ int) result {
	s.calls.Add(1)
	select {
	case <-ctx.Done():
		return result{cancelled: true}
	case <-time.After(s.delay):
		return result{}
	}
}

func TestRunPhase(t *testing.T) {
	t.Parallel()

	t.Run("ClosedLoopStopsAtLimit", func(t *testing.T) {
		t.Parallel()
		sc := &stubScenario{}
		res := runPhase(t.Context(), sc, phase{concurrency: 3, duration: time.Minute, limit: 25})
		require.EqualValues(t, 25, sc.calls.Load())
		sum := summarize(config{baseURL: mustLoopbackURL(t), concurrency: 3}, res)
		require.EqualValues(t, 25, sum.Requests)
		require.Zero(t, res.dropped)
	})

	t.Run("OpenModelLatencyCountsTheWaitForAFreeWorker", func(t *testing.T) {
		t.Parallel()
		// One worker, 10ms per request, 200 req/s due: requests queue up
		// behind each other, and their latency must include that queueing,
		// not just the 10ms service time.
		sc := &stubScenario{delay: 10 * time.Millisecond}
		res := runPhase(t.Context(), sc, phase{concurrency: 1, duration: 100 * time.Millisecond, limit: maxRequests, rate: 200, lateGrace: time.Minute})
		sum := summarize(config{baseURL: mustLoopbackURL(t), concurrency: 1, rate: 200}, res)
		require.EqualValues(t, 20, sum.Requests)
		require.Zero(t, sum.Dropped)
		// Request 19 is due at 95ms but cannot start before 19*10ms = 190ms.
		require.GreaterOrEqual(t, sum.Latency.Max, 100.0)
		require.GreaterOrEqual(t, sum.MaxSendLagMS, 90.0)
	})

	t.Run("OpenModelDropsWhatCannotBeSentInTime", func(t *testing.T) {
		t.Parallel()
		sc := &stubScenario{delay: 20 * time.Millisecond}
		start := time.Now()
		res := runPhase(t.Context(), sc, phase{concurrency: 1, duration: 100 * time.Millisecond, limit: maxRequests, rate: 1000, lateGrace: 50 * time.Millisecond})
		require.Less(t, time.Since(start), 5*time.Second, "the run is bounded even when the server cannot keep up")
		sum := summarize(config{baseURL: mustLoopbackURL(t), concurrency: 1, rate: 1000}, res)
		require.Positive(t, sum.Dropped)
		require.EqualValues(t, 100, sum.Requests+sum.Dropped, "every due request is either sent or dropped")
		require.EqualValues(t, sc.calls.Load(), sum.Requests)
		require.ErrorIs(t, sum.verdict(), errThresholdExceeded)
	})

	t.Run("CancelledContextReturnsPromptly", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		sc := &stubScenario{delay: time.Hour}
		done := make(chan phaseResult)
		go func() { done <- runPhase(ctx, sc, phase{concurrency: 4, duration: time.Hour, limit: maxRequests}) }()
		require.Eventually(t, func() bool { return sc.calls.Load() == 4 }, 5*time.Second, time.Millisecond)
		cancel()
		res := <-done
		sum := summarize(config{baseURL: mustLoopbackURL(t), concurrency: 4}, res)
		require.Zero(t, sum.Requests, "requests cut short are not counted")
		require.Zero(t, sum.Dropped)
	})
}

// mustLoopbackURL returns the default base URL, parsed.
func mustLoopbackURL(t *testing.T) *url.URL {
	t.Helper()
	u, err := checkLoopbackURL("http://127.0.0.1:8080")
	require.NoError(t, err)
	return u
}
