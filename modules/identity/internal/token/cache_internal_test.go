package token

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

type cacheBundle struct {
	mu     sync.Mutex
	now    time.Time
	key    Key
	issuer *Issuer
}

func (b *cacheBundle) Now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *cacheBundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

func setupCache(t *testing.T, opts ...Option) *cacheBundle {
	t.Helper()
	b := &cacheBundle{now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	var err error
	b.key, err = GenerateKey(ES256)
	require.NoError(t, err)
	b.issuer, err = NewIssuer("https://auth.example.test", KeySet{Active: b.key},
		append([]Option{WithClock(b.Now), WithLeeway(0)}, opts...)...)
	require.NoError(t, err)
	return b
}

func (b *cacheBundle) sign(t *testing.T, ttl time.Duration) string {
	t.Helper()
	raw, err := b.issuer.Sign(TypeManagement, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "user-1",
			Audience:  jwt.ClaimStrings{Audience("org-1", "")},
			ExpiresAt: jwt.NewNumericDate(b.Now().Add(ttl)),
			ID:        fmt.Sprintf("jti-%d", time.Now().UnixNano()),
		},
		TokenUse: UseManagement,
		Org:      "org-1",
	})
	require.NoError(t, err)
	return raw
}

func (b *cacheBundle) verify(raw string) (*Claims, error) {
	return b.issuer.Verify(context.Background(), raw, TypeManagement, UseManagement)
}

func TestVerifyCache(t *testing.T) {
	t.Parallel()

	t.Run("HitSkipsSignatureCheck", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Hour)
		_, err := b.verify(raw)
		require.NoError(t, err)
		require.EqualValues(t, 1, b.issuer.sigChecks.Load())
		for range 5 {
			c, err := b.verify(raw)
			require.NoError(t, err)
			require.Equal(t, "user-1", c.Subject)
		}
		require.EqualValues(t, 1, b.issuer.sigChecks.Load())
		require.Equal(t, 1, b.issuer.cache.len())
	})

	t.Run("HitStillChecksArguments", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Hour)
		_, err := b.verify(raw)
		require.NoError(t, err)
		ctx := context.Background()

		_, err = b.issuer.Verify(ctx, raw, TypeMFAPreauth, UseManagement)
		require.ErrorIs(t, err, ErrInvalid)
		_, err = b.issuer.Verify(ctx, raw, TypeManagement, UseMFAPreauth)
		require.ErrorIs(t, err, ErrInvalid)
		_, err = b.issuer.Verify(ctx, raw, TypeManagement, UseManagement, "org:org-2")
		require.ErrorIs(t, err, ErrInvalid)
		_, err = b.issuer.Verify(ctx, raw, TypeManagement, UseManagement, "org:org-1")
		require.NoError(t, err)
		require.EqualValues(t, 1, b.issuer.sigChecks.Load())
	})

	t.Run("HitFailsAfterExpiry", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Minute)
		_, err := b.verify(raw)
		require.NoError(t, err)

		b.advance(time.Minute)
		_, err = b.verify(raw)
		require.ErrorIs(t, err, ErrExpired)
		require.NotErrorIs(t, err, ErrInvalid)
		require.EqualValues(t, 1, b.issuer.sigChecks.Load())
		require.Zero(t, b.issuer.cache.len())

		// Uncached now, it still reports expired after a full check.
		_, err = b.verify(raw)
		require.ErrorIs(t, err, ErrExpired)
		require.EqualValues(t, 2, b.issuer.sigChecks.Load())
		require.Zero(t, b.issuer.cache.len())
	})

	t.Run("HitFailsAfterKeyRemoved", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Hour)
		_, err := b.verify(raw)
		require.NoError(t, err)

		next, err := GenerateKey(ES256)
		require.NoError(t, err)
		require.NoError(t, b.issuer.SetKeys(KeySet{Active: next}))
		_, err = b.verify(raw)
		require.ErrorIs(t, err, ErrInvalid)
		require.Zero(t, b.issuer.cache.len())
		require.EqualValues(t, 1, b.issuer.sigChecks.Load())
	})

	t.Run("HitFailsWhenKIDNamesOtherKey", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Hour)
		_, err := b.verify(raw)
		require.NoError(t, err)

		// Same kid, different key material: the cached result is not trusted.
		other, err := GenerateKey(ES256)
		require.NoError(t, err)
		other.KID = b.key.KID
		require.NoError(t, b.issuer.SetKeys(KeySet{Active: other}))
		_, err = b.verify(raw)
		require.ErrorIs(t, err, ErrInvalid)
		_, err = b.verify(raw)
		require.ErrorIs(t, err, ErrInvalid)
		require.EqualValues(t, 2, b.issuer.sigChecks.Load())
	})

	t.Run("FailuresAreNotCached", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t)
		raw := b.sign(t, time.Hour)
		for n := range 3 {
			_, err := b.issuer.Verify(context.Background(), raw, TypeManagement, UseManagement, "org:other")
			require.ErrorIs(t, err, ErrInvalid)
			require.EqualValues(t, n+1, b.issuer.sigChecks.Load())
		}
		require.Zero(t, b.issuer.cache.len())
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t, WithCacheSize(0))
		require.Nil(t, b.issuer.cache)
		raw := b.sign(t, time.Hour)
		for n := range 3 {
			_, err := b.verify(raw)
			require.NoError(t, err)
			require.EqualValues(t, n+1, b.issuer.sigChecks.Load())
		}
	})

	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		b := setupCache(t, WithCacheSize(8))
		for range 50 {
			_, err := b.verify(b.sign(t, time.Hour))
			require.NoError(t, err)
			require.LessOrEqual(t, b.issuer.cache.len(), 8)
		}
		require.EqualValues(t, 50, b.issuer.sigChecks.Load())
	})
}

func TestVerifyCacheEviction(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	key := func(n int) cacheKey { return sha256.Sum256(fmt.Appendf(nil, "token-%d", n)) }

	t.Run("ExpiredGoFirst", func(t *testing.T) {
		t.Parallel()
		c := newVerifyCache(16)
		require.Len(t, c.shards, 1)
		for n := range 16 {
			exp := now.Add(time.Hour)
			if n%2 == 0 {
				exp = now.Add(-time.Second)
			}
			c.put(key(n), &cacheEntry{expires: exp}, now)
		}
		require.Equal(t, 16, c.len())
		c.put(key(100), &cacheEntry{expires: now.Add(time.Hour)}, now)
		require.Equal(t, 9, c.len())
		for n := 1; n < 16; n += 2 {
			_, ok := c.get(key(n))
			require.True(t, ok, "live entry %d was evicted", n)
		}
	})

	t.Run("RandomWhenAllLive", func(t *testing.T) {
		t.Parallel()
		c := newVerifyCache(32)
		for n := range 1000 {
			c.put(key(n), &cacheEntry{expires: now.Add(time.Hour)}, now)
			require.LessOrEqual(t, c.len(), 32)
		}
		_, ok := c.get(key(999))
		require.True(t, ok)
	})

	t.Run("Sharded", func(t *testing.T) {
		t.Parallel()
		c := newVerifyCache(DefaultCacheSize)
		require.Len(t, c.shards, cacheShards)
		for n := range 5000 {
			c.put(key(n), &cacheEntry{expires: now.Add(time.Hour)}, now)
		}
		require.Equal(t, 5000, c.len())
		used := 0
		for i := range c.shards {
			if len(c.shards[i].m) > 0 {
				used++
			}
		}
		require.Equal(t, cacheShards, used)
	})

	t.Run("RemoveOnlySameEntry", func(t *testing.T) {
		t.Parallel()
		c := newVerifyCache(4)
		old := &cacheEntry{expires: now.Add(time.Hour)}
		c.put(key(1), old, now)
		fresh := &cacheEntry{expires: now.Add(time.Hour)}
		c.put(key(1), fresh, now)
		c.remove(key(1), old)
		got, ok := c.get(key(1))
		require.True(t, ok)
		require.Same(t, fresh, got)
	})
}
