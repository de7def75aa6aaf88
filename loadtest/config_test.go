package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	creds := []string{"-email", "a@example.com", "-password", "pw"}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(append([]string{"-scenario", "login"}, creds...), io.Discard)
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:8080", cfg.baseURL.String())
		require.Equal(t, 32, cfg.concurrency)
		require.Equal(t, 10*time.Second, cfg.duration)
		require.EqualValues(t, maxRequests, cfg.requests)
		require.Equal(t, 32, cfg.users, "-users defaults to -c")
		require.Equal(t, 2*time.Second, cfg.warmup)
		require.Zero(t, cfg.rate)
		require.False(t, cfg.json)
	})

	t.Run("RequestCountAloneLiftsDefaultDuration", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(append([]string{"-scenario", "login", "-n", "500", "-c", "8"}, creds...), io.Discard)
		require.NoError(t, err)
		require.EqualValues(t, 500, cfg.requests)
		require.Equal(t, maxDuration, cfg.duration)
		require.Equal(t, 8, cfg.users)
	})

	t.Run("RequestCountAndDurationBothKept", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(append([]string{"-scenario", "login", "-n", "500", "-d", "3s"}, creds...), io.Discard)
		require.NoError(t, err)
		require.EqualValues(t, 500, cfg.requests)
		require.Equal(t, 3*time.Second, cfg.duration)
	})

	t.Run("TrailingSlashTrimmed", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig([]string{"-scenario", "service-api-read", "-api-key", "k", "-user-id", "u", "-base-url", "http://localhost:9000/prefix/"}, io.Discard)
		require.NoError(t, err)
		require.Equal(t, "http://localhost:9000/prefix", cfg.baseURL.String())
	})

	t.Run("HelpIsNotAFailure", func(t *testing.T) {
		t.Parallel()
		_, err := parseConfig([]string{"-h"}, io.Discard)
		require.ErrorIs(t, err, flag.ErrHelp)
		require.Equal(t, 0, exitCode(err))
	})

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"UnknownScenario", append([]string{"-scenario", "write"}, creds...), "-scenario must be one of"},
		{"MissingScenario", creds, "-scenario must be one of"},
		{"DurationAboveCap", append([]string{"-scenario", "login", "-d", "11m"}, creds...), "-d must be"},
		{"ZeroDuration", append([]string{"-scenario", "login", "-d", "0"}, creds...), "-d must be"},
		{"RequestsAboveCap", append([]string{"-scenario", "login", "-n", "10000001"}, creds...), "-n must be"},
		{"NegativeRequests", append([]string{"-scenario", "login", "-n", "-1"}, creds...), "-n must be"},
		{"ZeroConcurrency", append([]string{"-scenario", "login", "-c", "0"}, creds...), "-c must be"},
		{"NegativeRate", append([]string{"-scenario", "login", "-rate", "-5"}, creds...), "-rate must be"},
		{"WarmupAboveCap", append([]string{"-scenario", "login", "-warmup", "2m"}, creds...), "-warmup must be"},
		{"ZeroUsers", append([]string{"-scenario", "authenticated-read", "-users", "0"}, creds...), "-users must be"},
		{"LoginWithoutPassword", []string{"-scenario", "login", "-email", "a@example.com"}, "-email and -password are required"},
		{"RefreshWithoutEmail", []string{"-scenario", "refresh", "-password", "pw"}, "-email and -password are required"},
		{"ServiceReadWithoutKey", []string{"-scenario", "service-api-read", "-user-id", "u"}, "-api-key and -user-id are required"},
		{"RefreshWithFewerSessionsThanWorkers", append([]string{"-scenario", "refresh", "-c", "8", "-users", "4"}, creds...), "-users must be at least -c"},
		{"NonLoopbackHost", append([]string{"-scenario", "login", "-base-url", "http://10.0.0.1"}, creds...), "is not loopback"},
		{"StrayArguments", append([]string{"-scenario", "login", "extra"}, creds...), "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(tc.args, io.Discard)
			require.ErrorContains(t, err, tc.wantErr)
			require.Equal(t, 2, exitCode(err))
		})
	}

	t.Run("ReportsEveryProblem", func(t *testing.T) {
		t.Parallel()
		_, err := parseConfig([]string{"-scenario", "login", "-c", "0", "-d", "1h", "-base-url", "http://example.com"}, io.Discard)
		require.ErrorContains(t, err, "-c must be")
		require.ErrorContains(t, err, "-d must be")
		require.ErrorContains(t, err, "is not loopback")
		require.ErrorContains(t, err, "-email and -password are required")
	})
}

func TestCheckLoopbackURL(t *testing.T) {
	t.Parallel()

	for _, raw := range []string{
		"http://127.0.0.1:8080",
		"http://127.0.0.1",
		"http://127.1.2.3:9000",
		"http://localhost:8080",
		"http://LOCALHOST",
		"https://localhost:8443/base",
		"http://[::1]:8080",
		"http://[::ffff:127.0.0.1]:8080",
	} {
		t.Run("Accepts"+raw, func(t *testing.T) {
			t.Parallel()
			u, err := checkLoopbackURL(raw)
			require.NoError(t, err)
			require.NotNil(t, u)
		})
	}

	for _, raw := range []string{
		"http://10.0.0.1",
		"http://example.com",
		"http://0.0.0.0:8080",
		"http://[::]:8080",
		"http://128.0.0.1",
		"http://127.0.0.1.nip.io",
		"http://localhost.example.com",
		"http://[::ffff:10.0.0.1]",
		"http://169.254.169.254",
		"ftp://127.0.0.1",
		"127.0.0.1:8080",
		"http://127.0.0.1:8080/?x=1",
		"http://",
	} {
		t.Run("Refuses"+raw, func(t *testing.T) {
			t.Parallel()
			_, err := checkLoopbackURL(raw)
			require.Error(t, err)
		})
	}
}

func TestLoopbackOnlyControl(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:80", "127.9.9.9:8080", "[::1]:443", "[::ffff:127.0.0.1]:80"} {
		require.NoError(t, loopbackOnlyControl("tcp", addr, nil), addr)
	}
	for _, addr := range []string{"10.0.0.1:80", "93.184.216.34:443", "[2001:db8::1]:80", "0.0.0.0:80", "not-an-address"} {
		require.Error(t, loopbackOnlyControl("tcp", addr, nil), addr)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, exitCode(nil))
	require.Equal(t, 0, exitCode(flag.ErrHelp))
	require.Equal(t, 1, exitCode(fmt.Errorf("%w: 5%%", errThresholdExceeded)))
	require.Equal(t, 1, exitCode(errNoRequests))
	require.Equal(t, 2, exitCode(errors.New("setup refresh: log in session 0: status 401")))
}
