package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestLimiter(t *testing.T) {
	t.Parallel()

	url := startRedis(t)
	client := newTestClient(t, url)

	type testBundle struct {
		client *goredis.Client
		prefix string
		lim    *Limiter
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		prefix := uniquePrefix()
		return &testBundle{client: client, prefix: prefix, lim: NewLimiter(client, prefix)}
	}
	ctx := context.Background()
	slow := Rate{Every: time.Hour, Burst: 3}

	t.Run("AllowsBurstThenRefuses", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := Rate{Every: 10 * time.Second, Burst: 3}
		for i := range 3 {
			res, err := b.lim.Allow(ctx, "k", r)
			require.NoError(t, err)
			require.True(t, res.Allowed, "request %d", i)
			require.Equal(t, 2-i, res.Remaining)
			require.Zero(t, res.RetryAfter)
			require.Greater(t, res.ResetAfter, time.Duration(i)*10*time.Second)
			require.LessOrEqual(t, res.ResetAfter, time.Duration(i+1)*10*time.Second)
		}
		res, err := b.lim.Allow(ctx, "k", r)
		require.NoError(t, err)
		require.False(t, res.Allowed)
		require.Zero(t, res.Remaining)
		require.Greater(t, res.RetryAfter, 5*time.Second)
		require.LessOrEqual(t, res.RetryAfter, 10*time.Second)
		require.Greater(t, res.ResetAfter, 20*time.Second)
		require.LessOrEqual(t, res.ResetAfter, 30*time.Second)
	})

	t.Run("ReplenishesAfterEvery", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := Rate{Every: 50 * time.Millisecond, Burst: 2}
		for range 2 {
			res, err := b.lim.Allow(ctx, "k", r)
			require.NoError(t, err)
			require.True(t, res.Allowed)
		}
		res, err := b.lim.Allow(ctx, "k", r)
		require.NoError(t, err)
		require.False(t, res.Allowed)

		time.Sleep(150 * time.Millisecond)
		res, err = b.lim.Allow(ctx, "k", r)
		require.NoError(t, err)
		require.True(t, res.Allowed)

		// After a long idle time the bucket is full again, not fuller.
		time.Sleep(300 * time.Millisecond)
		for range 2 {
			res, err = b.lim.Allow(ctx, "k", r)
			require.NoError(t, err)
			require.True(t, res.Allowed)
		}
		res, err = b.lim.Allow(ctx, "k", r)
		require.NoError(t, err)
		require.False(t, res.Allowed)
	})

	t.Run("ReplicasShareBucket", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := NewLimiter(newTestClient(t, url), b.prefix) // a second replica with its own connection pool
		for range 3 {
			res, err := b.lim.Allow(ctx, "k", slow)
			require.NoError(t, err)
			require.True(t, res.Allowed)
		}
		res, err := other.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.False(t, res.Allowed)

		require.NoError(t, other.Reset(ctx, "k"))
		res, err = b.lim.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	})

	t.Run("PrefixesSeparateBuckets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := NewLimiter(b.client, uniquePrefix())
		for range 3 {
			_, err := b.lim.Allow(ctx, "k", slow)
			require.NoError(t, err)
		}
		res, err := other.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	})

	t.Run("KeysSeparateBuckets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 3 {
			_, err := b.lim.Allow(ctx, "a", slow)
			require.NoError(t, err)
		}
		res, err := b.lim.Allow(ctx, "b", slow)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining)
	})

	t.Run("AllowN", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := Rate{Every: time.Hour, Burst: 5}

		res, err := b.lim.AllowN(ctx, "k", r, 3)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining)

		res, err = b.lim.AllowN(ctx, "k", r, 3)
		require.NoError(t, err)
		require.False(t, res.Allowed)
		require.Equal(t, 2, res.Remaining, "a refused request takes nothing")
		require.Greater(t, res.RetryAfter, 59*time.Minute)
		require.LessOrEqual(t, res.RetryAfter, time.Hour)

		res, err = b.lim.AllowN(ctx, "k", r, 0)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining, "n = 0 only looks")

		res, err = b.lim.AllowN(ctx, "k", r, 2)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Zero(t, res.Remaining)
	})

	t.Run("RejectsInvalidInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tests := []struct {
			Name string
			Rate Rate
			N    int
		}{
			{Name: "ZeroEvery", Rate: Rate{Burst: 1}, N: 1},
			{Name: "ZeroBurst", Rate: Rate{Every: time.Second}, N: 1},
			{Name: "NegativeN", Rate: Rate{Every: time.Second, Burst: 2}, N: -1},
			{Name: "NAboveBurst", Rate: Rate{Every: time.Second, Burst: 2}, N: 3},
		}
		for _, tc := range tests {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				_, err := b.lim.AllowN(ctx, "k", tc.Rate, tc.N)
				require.ErrorIs(t, err, ErrInvalidRate)
			})
		}
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 3 {
			_, err := b.lim.Allow(ctx, "k", slow)
			require.NoError(t, err)
		}
		res, err := b.lim.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.False(t, res.Allowed)

		require.NoError(t, b.lim.Reset(ctx, "k"))
		res, err = b.lim.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining)

		require.NoError(t, b.lim.Reset(ctx, "never-used"))
	})

	t.Run("KeyExpiresWhenFull", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := Rate{Every: 10 * time.Second, Burst: 5}
		_, err := b.lim.AllowN(ctx, "k", r, 2)
		require.NoError(t, err)

		key := b.prefix + ":k"
		ttl, err := b.client.PTTL(ctx, key).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, 15*time.Second)
		require.LessOrEqual(t, ttl, 20*time.Second)

		stored, err := b.client.Get(ctx, key).Int64()
		require.NoError(t, err, "the bucket is stored as integer microseconds")
		require.InDelta(t, time.Now().Add(20*time.Second).UnixMicro(), stored, float64(10*time.Second/time.Microsecond))

		r = Rate{Every: 20 * time.Millisecond, Burst: 1}
		_, err = b.lim.Allow(ctx, "short", r)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			n, err := b.client.Exists(ctx, b.prefix+":short").Result()
			return err == nil && n == 0
		}, 2*time.Second, 10*time.Millisecond)
	})

	t.Run("ConcurrentRequestsTakeExactlyBurst", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := Rate{Every: time.Hour, Burst: 10}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				res, err := b.lim.Allow(ctx, "k", r)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int64(10), allowed.Load())
	})

	t.Run("ReloadsScriptAfterFlush", func(t *testing.T) {
		t.Parallel()
		// SCRIPT FLUSH on the shared server only costs the other tests one
		// EVAL each, since they recover the same way.
		c := newTestClient(t, url)
		lim := NewLimiter(c, uniquePrefix())
		_, err := lim.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.NoError(t, c.ScriptFlush(ctx).Err())
		res, err := lim.Allow(ctx, "k", slow)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 1, res.Remaining)
	})
}

func TestLimiterRedisDown(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
	lim := NewLimiter(c, uniquePrefix())
	_, err := lim.Allow(context.Background(), "k", Rate{Every: time.Second, Burst: 1})
	require.Error(t, err)
	require.Error(t, lim.Reset(context.Background(), "k"))
}

func TestSpecRules(t *testing.T) {
	t.Parallel()
	rules := SpecRules()
	require.Equal(t, map[string]Rate{
		RuleAuth:           {Every: time.Second, Burst: 20},
		RuleDeviceFlow:     {Every: 5 * time.Second, Burst: 10},
		RuleSelfServiceMFA: {Every: 300 * time.Millisecond, Burst: 5},
		RuleMFAVerify:      {Every: time.Second, Burst: 3},
	}, rules)
	for name, r := range rules {
		require.NoError(t, r.Validate(), name)
	}
	rules[RuleAuth] = Rate{}
	require.Equal(t, AuthRate(), SpecRules()[RuleAuth], "callers cannot change the presets")
}

func BenchmarkAllow(b *testing.B) {
	lim := NewLimiter(newTestClient(b, startRedis(b)), uniquePrefix())
	ctx := context.Background()
	r := Rate{Every: time.Microsecond, Burst: 1000}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := lim.Allow(ctx, "bench", r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
