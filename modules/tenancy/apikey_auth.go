package tenancy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/authos/authos/platform/httpapi"
)

// X-Api-Key verification (spec §8.2, §22.1 item 4).
//
// Verifying a key must not cost a PostgreSQL query per request, yet a
// deleted key, or a key of an organization that was suspended or deleted,
// must stop working on the next request on every replica. Each process
// therefore keeps an in-process cache of credentials by prefix, and every
// change that can invalidate one (key delete, organization status change,
// organization delete) drops the entries locally and PUBLISHes on
// APIKeyInvalidationChannel after its transaction commits; every replica's
// subscriber (Module.Run) drops the matching entries.
//
// How strict "next request" is:
//   - On the replica that made the change: always (the local drop happens
//     before the change's call returns).
//   - On other replicas: as soon as the message arrives, which over a live
//     subscription is well under a millisecond after the publish. The cache
//     is only used while the subscription is confirmed: when the connection
//     drops the cache is cleared and bypassed (every request queries
//     PostgreSQL) until the subscription is confirmed again, so a message
//     lost to a broken connection cannot leave a stale entry behind.
//   - Residual window: a PUBLISH that fails (Redis down at the moment of
//     the commit) is logged, and the other replicas keep their entry until
//     its TTL (apiKeyCacheTTL, 30 s) runs out. A per-request epoch check in
//     Redis would close that window but costs a Redis round trip per
//     request, which is what the cache exists to avoid.
//   - Only our code paths publish: a row changed directly in SQL is seen
//     within the TTL.
//
// Expiry needs no invalidation: the cached credential carries expires_at
// and it is checked against the clock on every request.
//
// Unknown prefixes are cached briefly (apiKeyNegativeTTL) so that a flood
// of made-up keys costs one query per prefix, not one per request; a
// brute force with fresh random prefixes still costs a query each, which
// the rate limiter in front of the API is for.
//
// last_used_at is recorded in memory and written by one batched UPDATE
// every apiKeyUsageFlushInterval (and when Run ends), never per request.

// APIKeyInvalidationChannel is the Redis pub/sub channel on which key
// invalidations are broadcast. A message is a key prefix (sk_<12 hex>) or
// "org:<organization id>".
const APIKeyInvalidationChannel = "authos:apikeys:invalidate"

// Cache and flush settings.
const (
	apiKeyCacheTTL           = 30 * time.Second
	apiKeyNegativeTTL        = 5 * time.Second
	apiKeyCacheMaxEntries    = 50_000
	apiKeyUsageFlushInterval = 10 * time.Second
	apiKeyFlushTimeout       = 5 * time.Second
	apiKeyResubscribeDelay   = 500 * time.Millisecond
	orgInvalidationPrefix    = "org:"
)

// Messages of the authenticator's problems.
const (
	msgInvalidAPIKey = "Invalid API key"
	msgAPIKeyExpired = "API key expired"
)

// apiKeyEntry is one cached lookup: a credential, or none (unknown prefix).
type apiKeyEntry struct {
	cred     *APIKeyCredential // nil: no key has this prefix
	loadedAt time.Time
}

// apiKeyCache is the process-local credential cache and the pending
// last_used_at writes. It is safe for concurrent use.
type apiKeyCache struct {
	lookupFunc func(ctx context.Context, prefix string) (APIKeyCredential, error)
	flushFunc  func(ctx context.Context, uses map[uuid.UUID]time.Time) error
	nowFunc    func() time.Time
	redis      goredis.UniversalClient // nil: no cache, no invalidation
	logger     *slog.Logger

	// active reports that the invalidation subscription is confirmed; the
	// cache is read and filled only then.
	active atomic.Bool
	group  singleflight.Group

	mu      sync.Mutex
	entries map[string]apiKeyEntry
	// gen counts invalidations; a lookup started before one must not fill
	// the cache with what it read.
	gen uint64

	usesMu sync.Mutex
	uses   map[uuid.UUID]time.Time
}

func newAPIKeyCache(s *Service, redis goredis.UniversalClient) *apiKeyCache {
	return &apiKeyCache{
		lookupFunc: s.store.APIKeyLookup,
		flushFunc:  s.store.APIKeyTouchBatch,
		nowFunc:    s.now,
		redis:      redis,
		logger:     s.logger,
		entries:    make(map[string]apiKeyEntry),
		uses:       make(map[uuid.UUID]time.Time),
	}
}

// APIKeyAuthenticator verifies X-Api-Key credentials. It implements
// httpapi.Authenticator for httpapi.SchemeAPIKey.
type APIKeyAuthenticator struct {
	cache *apiKeyCache
}

var _ httpapi.Authenticator = (*APIKeyAuthenticator)(nil)

// Authenticate verifies an API key and returns its principal: Kind
// api_key, APIKeyID, OrgID, ServiceID and Permissions. A malformed,
// unknown, wrong, revoked or deleted key answers 401 UNAUTHORIZED "Invalid
// API key", an expired one 401 "API key expired", a key of an organization
// that is not active 403 ORGANIZATION_NOT_ACTIVE; a database failure
// answers 503. A successful use is recorded for the next last_used_at
// flush.
func (a *APIKeyAuthenticator) Authenticate(ctx context.Context, credential string) (*httpapi.Principal, error) {
	prefix, ok := ParseAPIKey(credential)
	if !ok {
		return nil, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidAPIKey)
	}
	cred, err := a.cache.get(ctx, prefix)
	if err != nil {
		return nil, httpapi.NewError(http.StatusServiceUnavailable, httpapi.CodeServiceUnavailable,
			"API key verification is unavailable").WithCause(err)
	}
	if cred == nil || !cred.Matches(credential) || cred.RevokedAt != nil {
		return nil, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidAPIKey)
	}
	now := a.cache.nowFunc()
	if cred.ExpiresAt != nil && !now.Before(*cred.ExpiresAt) {
		return nil, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, msgAPIKeyExpired)
	}
	if cred.OrgStatus != StatusActive {
		return nil, httpapi.NewError(http.StatusForbidden, CodeOrganizationNotActive,
			"Organization is not active. Current status: "+string(cred.OrgStatus))
	}
	a.cache.recordUse(cred.ID, now)
	orgID, serviceID := cred.OrgID, cred.ServiceID
	perms := make([]string, len(cred.Permissions))
	copy(perms, cred.Permissions)
	return &httpapi.Principal{
		Kind: httpapi.PrincipalAPIKey, APIKeyID: cred.ID, OrgID: &orgID, ServiceID: &serviceID, Permissions: perms,
	}, nil
}

// FlushUsage writes the recorded uses to last_used_at with one UPDATE.
// Run calls it periodically and when it ends; on failure the uses are
// kept for the next flush.
func (a *APIKeyAuthenticator) FlushUsage(ctx context.Context) error {
	return a.cache.flush(ctx)
}

// CacheActive reports whether verified keys are being cached, which needs
// Redis and a confirmed invalidation subscription (Run). Without it every
// request queries PostgreSQL.
func (a *APIKeyAuthenticator) CacheActive() bool { return a.cache.active.Load() }

// get returns the credential of prefix (nil when there is none), from the
// cache while it is active, else from PostgreSQL.
func (c *apiKeyCache) get(ctx context.Context, prefix string) (*APIKeyCredential, error) {
	if !c.active.Load() {
		return c.load(ctx, prefix)
	}
	now := c.nowFunc()
	c.mu.Lock()
	e, ok := c.entries[prefix]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.loadedAt) < entryTTL(e) {
		return e.cred, nil
	}
	v, err, _ := c.group.Do(prefix, func() (any, error) {
		cred, err := c.load(ctx, prefix)
		if err != nil {
			return nil, err
		}
		c.store(prefix, apiKeyEntry{cred: cred, loadedAt: now}, gen)
		return cred, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*APIKeyCredential), nil
}

func entryTTL(e apiKeyEntry) time.Duration {
	if e.cred == nil {
		return apiKeyNegativeTTL
	}
	return apiKeyCacheTTL
}

// load queries PostgreSQL; an unknown prefix is (nil, nil).
func (c *apiKeyCache) load(ctx context.Context, prefix string) (*APIKeyCredential, error) {
	cred, err := c.lookupFunc(ctx, prefix)
	if errors.Is(err, ErrAPIKeyNotFound) {
		return nil, nil //nolint:nilnil // an unknown prefix is an answer, not a failure
	}
	if err != nil {
		return nil, err
	}
	return &cred, nil
}

// store caches e unless an invalidation happened since gen was read (the
// lookup may have read the row before the change committed) or the cache
// is not active. A full cache first drops its stale entries, then
// arbitrary ones.
func (c *apiKeyCache) store(prefix string, e apiKeyEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.active.Load() {
		return
	}
	if len(c.entries) >= apiKeyCacheMaxEntries {
		now := c.nowFunc()
		for p, old := range c.entries {
			if now.Sub(old.loadedAt) >= entryTTL(old) {
				delete(c.entries, p)
			}
		}
		for p := range c.entries {
			if len(c.entries) < apiKeyCacheMaxEntries {
				break
			}
			delete(c.entries, p)
		}
	}
	c.entries[prefix] = e
}

// invalidate drops the entries a message names: a prefix, or every key
// of "org:<id>".
func (c *apiKeyCache) invalidate(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	orgID, isOrg := strings.CutPrefix(msg, orgInvalidationPrefix)
	if !isOrg {
		delete(c.entries, msg)
		return
	}
	id, err := uuid.Parse(orgID)
	if err != nil {
		clear(c.entries) // unknown form: be safe
		return
	}
	for p, e := range c.entries {
		if e.cred != nil && e.cred.OrgID == id {
			delete(c.entries, p)
		}
	}
}

// reset empties the cache and turns it on or off.
func (c *apiKeyCache) reset(active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.active.Store(active)
}

// forget drops the named entries locally and broadcasts them to the other
// replicas. It runs after the change committed, so it never fails the
// change: a failed publish is logged, and other replicas then see the
// change within apiKeyCacheTTL.
func (c *apiKeyCache) forget(ctx context.Context, msgs ...string) {
	if c == nil {
		return
	}
	for _, m := range msgs {
		c.invalidate(m)
		if c.redis == nil {
			continue
		}
		if err := c.redis.Publish(context.WithoutCancel(ctx), APIKeyInvalidationChannel, m).Err(); err != nil {
			c.logger.ErrorContext(ctx, "publish api key invalidation", "message", m, "error", err.Error())
		}
	}
}

// recordUse notes a use of key id for the next flush.
func (c *apiKeyCache) recordUse(id uuid.UUID, at time.Time) {
	c.usesMu.Lock()
	defer c.usesMu.Unlock()
	if prev, ok := c.uses[id]; !ok || at.After(prev) {
		c.uses[id] = at
	}
}

// flush writes the pending uses in one statement; on failure they are
// merged back for the next attempt.
func (c *apiKeyCache) flush(ctx context.Context) error {
	c.usesMu.Lock()
	pending := c.uses
	c.uses = make(map[uuid.UUID]time.Time, len(pending))
	c.usesMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := c.flushFunc(ctx, pending); err != nil {
		for id, at := range pending {
			c.recordUse(id, at)
		}
		return err
	}
	return nil
}

// run listens for invalidations and flushes last_used_at until ctx ends,
// then flushes once more.
func (c *apiKeyCache) run(ctx context.Context) {
	var wg sync.WaitGroup
	if c.redis != nil {
		wg.Go(func() { c.listen(ctx) })
	}
	t := time.NewTicker(apiKeyUsageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.flushLogged(ctx)
		case <-ctx.Done():
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiKeyFlushTimeout)
			c.flushLogged(fctx)
			cancel()
			return
		}
	}
}

func (c *apiKeyCache) flushLogged(ctx context.Context) {
	if err := c.flush(ctx); err != nil {
		c.logger.ErrorContext(ctx, "flush api key last_used_at", "error", err.Error())
	}
}

// listen keeps the invalidation subscription. The cache is active only
// between a confirmed (re)subscription and the next receive error; each
// transition clears it, since messages may have been missed meanwhile.
func (c *apiKeyCache) listen(ctx context.Context) {
	ps := c.redis.Subscribe(ctx, APIKeyInvalidationChannel)
	// Receive does not return when ctx is cancelled while it waits for a
	// message; closing the subscription does.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		c.reset(false)
		_ = ps.Close()
	}()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			c.reset(false)
			if ctx.Err() != nil {
				return
			}
			c.logger.WarnContext(ctx, "api key invalidation subscription", "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(apiKeyResubscribeDelay):
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && m.Channel == APIKeyInvalidationChannel {
				c.reset(true)
			}
		case *goredis.Message:
			c.invalidate(m.Payload)
		case *goredis.Pong:
		}
	}
}

// forgetAPIKeys makes keys stop verifying on every replica: msgs are key
// prefixes or "org:<id>". Call it after the change committed.
func (s *Service) forgetAPIKeys(ctx context.Context, msgs ...string) {
	s.apiKeys.forget(ctx, msgs...)
}

// orgKeys is the invalidation message naming every key of an organization.
func orgKeys(id uuid.UUID) string { return orgInvalidationPrefix + id.String() }
