package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewClient(t *testing.T) {
	t.Parallel()

	t.Run("AppliesDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(context.Background(), "redis://127.0.0.1:1/2")
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		opts := c.Options()
		require.Equal(t, "127.0.0.1:1", opts.Addr)
		require.Equal(t, 2, opts.DB)
		require.Equal(t, 2*time.Second, opts.DialTimeout)
		require.Equal(t, time.Second, opts.ReadTimeout)
		require.Equal(t, time.Second, opts.WriteTimeout)
		require.Equal(t, 2*time.Second, opts.PoolTimeout)
		require.Positive(t, opts.PoolSize)
		require.Equal(t, 1, opts.MaxRetries)
		require.True(t, opts.ContextTimeoutEnabled)
	})

	t.Run("KeepsURLSettings", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(context.Background(), "redis://127.0.0.1:1/0?dial_timeout=7s&read_timeout=3s&pool_size=4")
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		opts := c.Options()
		require.Equal(t, 7*time.Second, opts.DialTimeout)
		require.Equal(t, 3*time.Second, opts.ReadTimeout)
		require.Equal(t, 4, opts.PoolSize)
	})

	t.Run("RejectsBadURL", func(t *testing.T) {
		t.Parallel()
		_, err := NewClient(context.Background(), "http://example.com")
		require.ErrorContains(t, err, "parse redis url")
	})

	t.Run("DoesNotNeedServer", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(context.Background(), fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		err = Ping(context.Background(), c)
		require.ErrorContains(t, err, "ping redis")
	})
}

func TestPing(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, startRedis(t))
	require.NoError(t, Ping(context.Background(), c))
}
