package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrInvalidRate is returned by Limiter.AllowN (and so by the middleware,
// which then fails closed) when a Rate or a cost cannot be used: Every below
// one microsecond, Burst below 1, or n outside 0..Burst.
var ErrInvalidRate = errors.New("invalid rate")

// Rate is a token bucket: it holds at most Burst tokens and gains one token
// per Every. A request costs one token (AllowN: n tokens).
type Rate struct {
	// Every is the time to replenish one token. It has microsecond
	// resolution.
	Every time.Duration
	// Burst is the bucket size: how many requests may arrive at once.
	Burst int
}

// Validate reports ErrInvalidRate when r cannot be used by a Limiter.
func (r Rate) Validate() error {
	if r.Every < time.Microsecond {
		return fmt.Errorf("%w: every %s is below 1µs", ErrInvalidRate, r.Every)
	}
	if r.Burst < 1 {
		return fmt.Errorf("%w: burst %d is below 1", ErrInvalidRate, r.Burst)
	}
	return nil
}

// Result is the outcome of one limiter decision.
type Result struct {
	// Allowed reports whether the tokens were taken.
	Allowed bool
	// Remaining is the number of whole tokens left after this decision.
	Remaining int
	// RetryAfter is how long to wait before the same request can be
	// allowed. It is zero when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// gcraScript takes n tokens from the bucket KEYS[1], or refuses, atomically.
//
// It stores the bucket's theoretical arrival time (TAT, microseconds since
// the epoch): the moment the bucket would be full. A request of cost n is
// allowed when TAT + n*interval - burst*interval <= now. Time comes from the
// Redis server so that all replicas share one clock.
//
// ARGV: interval (µs per token), burst, cost.
// Returns {allowed 0|1, remaining, retry_after µs, reset_after µs}.
const gcraScript = `
-- Redis < 5 needs effects replication to write after TIME; Redis 5+ does it always.
if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tolerance = interval * burst

local tat = tonumber(redis.call('GET', key))
if not tat or tat < now then
  tat = now
end

local new_tat = tat + interval * cost
local diff = now - (new_tat - tolerance)

if diff < 0 then
  local remaining = math.floor((now - (tat - tolerance)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, -diff, tat - now}
end

if cost > 0 then
  redis.call('SET', key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return {1, math.floor(diff / interval), 0, new_tat - now}
`

// Limiter is a GCRA rate limiter whose state lives in Redis, so every
// replica that shares the Redis and the prefix shares the buckets.
//
// Set the exported fields before first use; they are read without locking.
type Limiter struct {
	client goredis.UniversalClient
	prefix string
	script *goredis.Script

	// Disabled makes Middleware and HumaMiddleware pass every request
	// through without asking Redis (DISABLE_RATE_LIMITING). Allow is not
	// affected.
	Disabled bool
	// Logger, when set, receives the errors behind 503 answers of the
	// middleware. A nil Logger logs nothing.
	Logger *slog.Logger
}

// NewLimiter returns a Limiter storing buckets in c under keys
// "<prefix>:<key>" (or just "<key>" when prefix is empty). Replicas must use
// the same prefix to share buckets; tests use a unique one.
func NewLimiter(c goredis.UniversalClient, prefix string) *Limiter {
	return &Limiter{
		client: c,
		prefix: prefix,
		script: goredis.NewScript(gcraScript),
	}
}

// Allow takes one token from the bucket key. It is AllowN with n = 1.
func (l *Limiter) Allow(ctx context.Context, key string, r Rate) (Result, error) {
	return l.AllowN(ctx, key, r, 1)
}

// AllowN takes n tokens from the bucket key when they are all there, or none
// when they are not (Result.Allowed false, RetryAfter says when they will
// be). n = 0 reports the bucket state without changing it.
//
// The decision is atomic across replicas. Errors are ErrInvalidRate for a
// bad r or n, or a wrapped Redis error: callers that guard security-relevant
// routes should treat an error as "refuse".
func (l *Limiter) AllowN(ctx context.Context, key string, r Rate, n int) (Result, error) {
	if err := r.Validate(); err != nil {
		return Result{}, err
	}
	if n < 0 || n > r.Burst {
		return Result{}, fmt.Errorf("%w: cost %d outside 0..%d", ErrInvalidRate, n, r.Burst)
	}
	if l.client == nil {
		return Result{}, errors.New("rate limit: no redis client")
	}
	// Script.Run tries EVALSHA and falls back to EVAL when the server does
	// not have the script cached (first call, restart, SCRIPT FLUSH).
	vals, err := l.script.Run(ctx, l.client, []string{l.key(key)}, r.Every.Microseconds(), r.Burst, n).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("rate limit %q: %w", key, err)
	}
	if len(vals) != 4 {
		return Result{}, fmt.Errorf("rate limit %q: script returned %d values", key, len(vals))
	}
	return Result{
		Allowed:    vals[0] == 1,
		Remaining:  int(vals[1]),
		RetryAfter: time.Duration(vals[2]) * time.Microsecond,
		ResetAfter: time.Duration(vals[3]) * time.Microsecond,
	}, nil
}

// Reset empties the record of bucket key, so it is full again.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if l.client == nil {
		return errors.New("reset rate limit: no redis client")
	}
	if err := l.client.Del(ctx, l.key(key)).Err(); err != nil {
		return fmt.Errorf("reset rate limit %q: %w", key, err)
	}
	return nil
}

// key is the Redis key of bucket k.
func (l *Limiter) key(k string) string {
	if l.prefix == "" {
		return k
	}
	return l.prefix + ":" + k
}
