package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Cache sizing. Small caches use one shard so the bound stays exact; large
// ones spread entries over cacheShards shards to keep lock contention low.
const (
	// DefaultCacheSize is the default number of verified tokens kept.
	DefaultCacheSize = 100_000
	cacheShards      = 64
	minShardedSize   = 1024
)

// cacheKey is the SHA-256 of a raw token. A collision-resistant hash keeps an
// attacker from presenting a different token that maps to a cached entry.
type cacheKey [sha256.Size]byte

// cacheEntry is one successful verification. It is immutable once stored.
type cacheEntry struct {
	claims *Claims
	// typ is the header typ the token was signed with.
	typ string
	// kid and thumb identify the key that verified the signature; the entry
	// is only honoured while the current key set holds that exact key.
	kid   string
	thumb string
	// expires is exp plus the leeway: from then on the token is expired.
	expires time.Time
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]*cacheEntry
}

// verifyCache is a bounded, sharded map of verified tokens. When a shard is
// full it first drops expired entries, then random ones.
type verifyCache struct {
	shards   []cacheShard
	perShard int
}

// newVerifyCache returns a cache for about size entries, or nil (no caching)
// when size is zero.
func newVerifyCache(size int) *verifyCache {
	if size <= 0 {
		return nil
	}
	n := 1
	if size >= minShardedSize {
		n = cacheShards
	}
	c := &verifyCache{shards: make([]cacheShard, n), perShard: (size + n - 1) / n}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
	}
	return c
}

func (c *verifyCache) shard(k cacheKey) *cacheShard {
	// The key is a SHA-256 digest, so its first byte is uniform.
	return &c.shards[int(k[0])%len(c.shards)]
}

func (c *verifyCache) get(k cacheKey) (*cacheEntry, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	return e, ok
}

// put stores e under k, making room first when the shard is full.
func (c *verifyCache) put(k cacheKey, e *cacheEntry, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		for key, old := range s.m {
			if !now.Before(old.expires) {
				delete(s.m, key)
			}
		}
		// Still full of live tokens: drop a slice of random ones (map
		// iteration order is randomised) so the next inserts do not sweep
		// again. They are simply verified again on their next use.
		if len(s.m) >= c.perShard {
			target := c.perShard - max(1, c.perShard/16)
			for key := range s.m {
				if len(s.m) <= target {
					break
				}
				delete(s.m, key)
			}
		}
	}
	s.m[k] = e
}

// remove deletes k if it still maps to e.
func (c *verifyCache) remove(k cacheKey, e *cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	if s.m[k] == e {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

// len returns the number of entries, expired ones included.
func (c *verifyCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
