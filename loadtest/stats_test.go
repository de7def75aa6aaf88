package main

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()

	t.Run("NearestRank", func(t *testing.T) {
		t.Parallel()
		samples := make([]time.Duration, 100)
		for i := range samples {
			samples[i] = time.Duration(i+1) * time.Millisecond
		}
		require.Equal(t, 50*time.Millisecond, percentile(samples, 50))
		require.Equal(t, 95*time.Millisecond, percentile(samples, 95))
		require.Equal(t, 99*time.Millisecond, percentile(samples, 99))
		require.Equal(t, 100*time.Millisecond, percentile(samples, 100))
		require.Equal(t, time.Millisecond, percentile(samples, 0.001))
	})

	t.Run("SmallSamples", func(t *testing.T) {
		t.Parallel()
		require.Zero(t, percentile(nil, 99))
		one := []time.Duration{7 * time.Microsecond}
		require.Equal(t, 7*time.Microsecond, percentile(one, 50))
		require.Equal(t, 7*time.Microsecond, percentile(one, 99))
		three := []time.Duration{1, 2, 3}
		require.Equal(t, time.Duration(2), percentile(three, 50))
		require.Equal(t, time.Duration(3), percentile(three, 99))
	})
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	base, err := url.Parse("http://127.0.0.1:8080")
	require.NoError(t, err)
	cfg := config{baseURL: base, scenario: scenarioRefresh, concurrency: 2, users: 2, rate: 100}

	a, b := newRecorder(4), newRecorder(4)
	a.record(result{}, 3*time.Millisecond, 0)
	a.record(result{}, 1500*time.Microsecond, 2*time.Millisecond)
	a.record(result{failure: "401"}, time.Millisecond, 0)
	b.record(result{}, 2*time.Millisecond, 0)
	b.record(result{failure: "transport"}, 10*time.Second, 5*time.Millisecond)
	b.record(result{failure: "401"}, time.Millisecond, 0)
	b.repairs = 1

	sum := summarize(cfg, phaseResult{recorders: []*recorder{a, b}, elapsed: 2 * time.Second})
	require.EqualValues(t, 6, sum.Requests)
	require.EqualValues(t, 3, sum.Succeeded)
	require.EqualValues(t, 3, sum.Errors)
	require.Equal(t, map[string]int64{"401": 2, "transport": 1}, sum.ErrorsByStatus)
	require.InDelta(t, 0.5, sum.ErrorRate, 1e-9)
	require.InDelta(t, 3.0, sum.Throughput, 1e-9)
	require.Equal(t, latencySummary{Min: 1.5, Mean: 2.167, P50: 2, P95: 3, P99: 3, Max: 3}, sum.Latency,
		"latency covers successful requests only")
	require.InDelta(t, 5.0, sum.MaxSendLagMS, 1e-9)
	require.EqualValues(t, 1, sum.Relogins)
	require.Equal(t, 2, sum.Users)
	require.ErrorIs(t, sum.verdict(), errThresholdExceeded)

	var text bytes.Buffer
	require.NoError(t, sum.writeText(&text))
	require.Contains(t, text.String(), "401: 2, transport: 1")
	require.Contains(t, text.String(), "p50 2.000ms  p95 3.000ms  p99 3.000ms  max 3.000ms")
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, summary{}.verdict(), errNoRequests)
	require.NoError(t, summary{Requests: 100, Errors: 1, ErrorRate: 0.01}.verdict())
	require.ErrorIs(t, summary{Requests: 100, Errors: 2, ErrorRate: 0.02}.verdict(), errThresholdExceeded)
}

func TestPartition(t *testing.T) {
	t.Parallel()

	t.Run("WorkersOwnDisjointSessions", func(t *testing.T) {
		t.Parallel()
		const users, workers = 7, 3
		p := newPartition(users, workers)
		owner := map[int]int{}
		for w := range workers {
			for range 10 {
				i := p.pick(w)
				require.GreaterOrEqual(t, i, 0)
				require.Less(t, i, users)
				if prev, ok := owner[i]; ok {
					require.Equal(t, prev, w, "session %d used by two workers", i)
				}
				owner[i] = w
			}
		}
		require.Len(t, owner, users, "every session is used")
	})

	t.Run("FewerSessionsAreShared", func(t *testing.T) {
		t.Parallel()
		p := newPartition(2, 5)
		for w := range 5 {
			require.Equal(t, w%2, p.pick(w))
		}
	})
}
