package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// startRedis returns the URL of a Redis server for t: REDIS_URL when set,
// else a redis-server started on a free local port and stopped when t ends.
// It fails t, saying how to get Redis, when neither works.
// platform/testenv.RedisURL(t) can replace it once that package exists.
func startRedis(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("REDIS_URL"); url != "" {
		return url
	}
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "no REDIS_URL and no redis-server on PATH: set REDIS_URL or install redis-server (apt-get install redis-server)")

	var lastErr error
	for range 3 { // another process may take the free port before redis binds it
		url, err := tryStartRedis(t, bin)
		if err == nil {
			return url
		}
		lastErr = err
	}
	require.NoError(t, lastErr, "start redis-server")
	return ""
}

// tryStartRedis starts redis-server on a free port and waits until it
// answers PING.
func tryStartRedis(t testing.TB, bin string) (string, error) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
	)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	c := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return "", fmt.Errorf("redis-server exited (%v): %s", err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			t.Cleanup(stop)
			return url, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server did not answer PING: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// newTestClient returns a client for url, closed when t ends.
func newTestClient(t testing.TB, url string) *goredis.Client {
	t.Helper()
	c, err := NewClient(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniquePrefix returns a key prefix no other test uses.
func uniquePrefix() string {
	return "test:" + uuid.NewString()
}
