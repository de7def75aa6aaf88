package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("Login", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "login", "-n", "60", "-c", "4", "-warmup", "0")
		require.NoError(t, err)
		require.Equal(t, "login", sum.Scenario)
		require.Equal(t, 4, sum.Concurrency)
		require.EqualValues(t, 60, sum.Requests)
		require.EqualValues(t, 60, sum.Succeeded)
		require.Zero(t, sum.Errors)
		require.Empty(t, sum.ErrorsByStatus)
		require.EqualValues(t, 60, fake.logins.Load())
		require.Positive(t, sum.Throughput)
		require.False(t, sum.Interrupted)
		requireOrderedLatency(t, sum.Latency)
	})

	t.Run("AuthenticatedReadLogsInOncePerSession", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "authenticated-read", "-n", "80", "-c", "4", "-users", "6", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 80, sum.Requests)
		require.Zero(t, sum.Errors)
		require.Equal(t, 6, sum.Users)
		require.EqualValues(t, 6, fake.logins.Load(), "setup logs in once per session")
		require.EqualValues(t, 80, fake.reads.Load())
		requireOrderedLatency(t, sum.Latency)
	})

	t.Run("AuthenticatedReadSharesTokensWhenFewerSessions", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "authenticated-read", "-n", "40", "-c", "4", "-users", "1", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 40, sum.Requests)
		require.Zero(t, sum.Errors)
		require.EqualValues(t, 1, fake.logins.Load())
	})

	t.Run("RefreshChainsNeverReuseATokenDefaultUsers", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "refresh", "-n", "120", "-c", "4", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 120, sum.Requests)
		require.Zero(t, sum.Errors, "the fake answers 401 to a reused refresh token")
		require.Zero(t, fake.rejected.Load())
		require.EqualValues(t, 4, fake.logins.Load(), "one login per worker by default")
		require.EqualValues(t, 120, fake.refreshes.Load())
		require.Zero(t, sum.Relogins)
		requireOrderedLatency(t, sum.Latency)
	})

	t.Run("RefreshChainsWithMoreSessionsThanWorkersAndWarmup", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "refresh", "-n", "100", "-c", "3", "-users", "7", "-warmup", "150ms")
		require.NoError(t, err)
		require.EqualValues(t, 100, sum.Requests, "warmup requests are not counted")
		require.Zero(t, sum.Errors)
		require.Zero(t, fake.rejected.Load())
		require.EqualValues(t, 7, fake.logins.Load())
		require.Greater(t, fake.refreshes.Load(), int64(100), "warmup refreshed too, continuing the same chains")
	})

	t.Run("RefreshReloginsAfterABrokenChain", func(t *testing.T) {
		t.Parallel()
		// Every 50th refresh rotates the token but answers 500: the chain is
		// dead, so the session must log in again instead of 401ing forever.
		fake, url := newFakeAuthOS(t, fakeOpts{lostRefreshEvery: 50})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "refresh", "-n", "200", "-c", "2", "-warmup", "0")
		require.ErrorIs(t, err, errThresholdExceeded, "4 failures in 200 is 2%")
		require.EqualValues(t, 200, sum.Requests)
		require.Equal(t, map[string]int64{"500": 4}, sum.ErrorsByStatus)
		require.EqualValues(t, 4, sum.Relogins)
		require.Zero(t, sum.ReloginFailures)
		require.Zero(t, fake.rejected.Load())
		require.EqualValues(t, 2+4, fake.logins.Load())
	})

	t.Run("ServiceAPIRead", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-n", "70", "-c", "5", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 70, sum.Requests)
		require.Zero(t, sum.Errors)
		require.Zero(t, sum.Users)
		require.EqualValues(t, 70, fake.serviceReads.Load())
		require.Zero(t, fake.logins.Load())
		requireOrderedLatency(t, sum.Latency)
	})

	t.Run("WarmupIsDiscarded", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-n", "20", "-c", "2", "-warmup", "100ms")
		require.NoError(t, err)
		require.EqualValues(t, 20, sum.Requests)
		require.Greater(t, fake.serviceReads.Load(), int64(20))
	})

	t.Run("DurationBoundsClosedLoop", func(t *testing.T) {
		t.Parallel()
		_, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-d", "300ms", "-c", "2", "-warmup", "0")
		require.NoError(t, err)
		require.Positive(t, sum.Requests)
		require.GreaterOrEqual(t, sum.DurationSeconds, 0.3)
		require.False(t, sum.Interrupted)
	})

	t.Run("RequestCountEndsRunBeforeDuration", func(t *testing.T) {
		t.Parallel()
		_, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-n", "10", "-d", "1m", "-c", "2", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 10, sum.Requests)
		require.Less(t, sum.DurationSeconds, 60.0)
	})

	t.Run("WrongCredentialsFailSetup", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{
			"-base-url", url, "-scenario", "authenticated-read", "-email", fakeEmail, "-password", "wrong",
			"-n", "10", "-c", "3", "-warmup", "0",
		}, &stdout, &stderr)
		require.ErrorContains(t, err, "status 401")
		require.ErrorContains(t, err, "Invalid email or password")
		require.Equal(t, 2, exitCode(err))
		require.Empty(t, stdout.String(), "no summary without a measured phase")
		require.Zero(t, fake.reads.Load())
	})
}

func TestRunRateMode(t *testing.T) {
	t.Parallel()

	t.Run("IssuesRateTimesDuration", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-rate", "200", "-d", "1s", "-c", "8", "-warmup", "0")
		require.NoError(t, err)
		// Request k is due at k*5ms; those due before 1s are sent: k = 0..199.
		require.EqualValues(t, 200, sum.Requests)
		require.EqualValues(t, 200, fake.serviceReads.Load())
		require.InDelta(t, 200.0, sum.TargetRate, 0)
		require.GreaterOrEqual(t, sum.DurationSeconds, 0.99, "requests are paced, not sent in a burst")
		require.GreaterOrEqual(t, sum.MaxSendLagMS, 0.0)
		requireOrderedLatency(t, sum.Latency)
	})

	t.Run("StopsAtRequestCount", func(t *testing.T) {
		t.Parallel()
		_, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "authenticated-read", "-rate", "100", "-n", "30", "-c", "4", "-warmup", "0")
		require.NoError(t, err)
		require.EqualValues(t, 30, sum.Requests)
		require.GreaterOrEqual(t, sum.DurationSeconds, 0.29, "the 30th request is due at 290ms")
	})

	t.Run("WarmupRunsAtTheSameRate", func(t *testing.T) {
		t.Parallel()
		fake, url := newFakeAuthOS(t, fakeOpts{})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-rate", "100", "-d", "200ms", "-c", "4", "-warmup", "300ms")
		require.NoError(t, err)
		require.EqualValues(t, 20, sum.Requests)
		require.EqualValues(t, 30+20, fake.serviceReads.Load())
	})
}

func TestRunErrorRateExit(t *testing.T) {
	t.Parallel()

	t.Run("AboveOnePercentFails", func(t *testing.T) {
		t.Parallel()
		_, url := newFakeAuthOS(t, fakeOpts{failEvery: 10})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "service-api-read", "-n", "50", "-c", "2", "-warmup", "0")
		require.ErrorIs(t, err, errThresholdExceeded)
		require.Equal(t, 1, exitCode(err))
		require.EqualValues(t, 50, sum.Requests, "the summary is still printed")
		require.EqualValues(t, 5, sum.Errors)
		require.EqualValues(t, 45, sum.Succeeded)
		require.Equal(t, map[string]int64{"500": 5}, sum.ErrorsByStatus)
		require.InDelta(t, 0.1, sum.ErrorRate, 1e-9)
	})

	t.Run("AtMostOnePercentPasses", func(t *testing.T) {
		t.Parallel()
		_, url := newFakeAuthOS(t, fakeOpts{failEvery: 100})
		sum, err := runJSON(t.Context(), t, url, "-scenario", "authenticated-read", "-n", "200", "-c", "2", "-warmup", "0")
		require.NoError(t, err)
		require.Equal(t, 0, exitCode(err))
		require.Equal(t, map[string]int64{"500": 2}, sum.ErrorsByStatus)
		require.InDelta(t, 0.01, sum.ErrorRate, 1e-9)
	})

	t.Run("UnreachableServerCountsTransportErrors", func(t *testing.T) {
		t.Parallel()
		// Port 1 on loopback: nothing listens, connections are refused.
		sum, err := runJSON(t.Context(), t, "http://127.0.0.1:1", "-scenario", "service-api-read", "-n", "5", "-c", "1", "-warmup", "0")
		require.ErrorIs(t, err, errThresholdExceeded)
		require.Equal(t, map[string]int64{"transport": 5}, sum.ErrorsByStatus)
		require.Contains(t, sum.SampleError, "connection refused")
	})
}

func TestRunInterrupt(t *testing.T) {
	t.Parallel()
	_, url := newFakeAuthOS(t, fakeOpts{})
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	sum, err := runJSON(ctx, t, url, "-scenario", "service-api-read", "-d", "1m", "-c", "2", "-warmup", "100ms")
	require.NoError(t, err)
	require.Less(t, time.Since(start), 30*time.Second, "cancelling stops the run early")
	require.True(t, sum.Interrupted)
	require.Positive(t, sum.Requests)
	require.Zero(t, sum.Errors, "requests cut short by the interrupt are not counted as errors")
}

func TestRunInterruptBeforeMeasuring(t *testing.T) {
	t.Parallel()
	_, url := newFakeAuthOS(t, fakeOpts{})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	sum, err := runJSON(ctx, t, url, "-scenario", "service-api-read", "-d", "1m", "-c", "2", "-warmup", "1m")
	require.ErrorIs(t, err, errNoRequests)
	require.Equal(t, 1, exitCode(err))
	require.True(t, sum.Interrupted)
	require.Zero(t, sum.Requests)
}

func TestRunRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, base := range []string{
		"http://10.0.0.1",
		"http://example.com",
		"https://example.com:8443/api",
		"http://192.168.1.10:8080",
		"http://0.0.0.0:8080",
		"http://127.0.0.1.nip.io",
		"http://localhost.example.com",
		"http://[::ffff:10.0.0.1]:8080",
		"http://[2001:db8::1]",
	} {
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"-base-url", base, "-scenario", "service-api-read", "-api-key", "k", "-user-id", "u", "-n", "1", "-warmup", "0"}, &stdout, &stderr)
			require.ErrorContains(t, err, "is not loopback")
			require.Equal(t, 2, exitCode(err))
			require.Empty(t, stdout.String())
		})
	}
}
