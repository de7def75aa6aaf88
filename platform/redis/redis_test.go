package redis

import (
	"context"
	"net"
	"testing"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/testenv"
)

// startRedis returns the URL of the test Redis server (REDIS_URL, or a
// redis-server that platform/testenv starts once for the test binary). The
// server is shared, so every test namespaces its keys with uniquePrefix.
func startRedis(t testing.TB) string {
	t.Helper()
	return testenv.RedisURL(t)
}

// freePort returns a TCP port that was free a moment ago: a client pointed
// at it sees Redis down.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// newTestClient returns a client built by NewClient for url, closed when t
// ends.
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
