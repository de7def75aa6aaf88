package redis

import (
	"context"
	"fmt"
	"runtime"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Default client settings, applied by NewClient when the URL does not set
// them (go-redis reads dial_timeout, read_timeout, pool_size, ... from the
// URL query).
const (
	defaultDialTimeout  = 2 * time.Second
	defaultReadTimeout  = time.Second
	defaultWriteTimeout = time.Second
	defaultPoolTimeout  = 2 * time.Second
	// defaultDialerRetries and defaultMaxRetries keep a dead server from
	// costing each command many dial attempts: requests fail fast and the
	// limiter answers 503.
	defaultDialerRetries = 1
	defaultMaxRetries    = 1
	// poolSizePerCPU matches the go-redis default, made explicit.
	poolSizePerCPU = 10
)

// NewClient returns a client for url (redis://[user:pass@]host:port/db or
// rediss:// for TLS), parsed with go-redis ParseURL. Timeouts and pool sizes
// not given in the URL query default to: dial 2s, read 1s, write 1s, pool
// wait 2s, pool size 10 per CPU, one dial attempt and one retry per command
// (so an unreachable Redis fails a command within a few seconds at worst,
// and at once when the port is closed). Context deadlines are honoured.
//
// NewClient does not contact the server: Redis may start after the API, so a
// bad URL is the only error. Call Ping to check the connection. The caller
// closes the client. ctx is reserved for future use (for example credential
// providers) and is not retained.
func NewClient(ctx context.Context, url string) (*goredis.Client, error) {
	_ = ctx
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = defaultReadTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = defaultPoolTimeout
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = poolSizePerCPU * runtime.GOMAXPROCS(0)
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = defaultDialerRetries
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	opts.ContextTimeoutEnabled = true
	if opts.MaintNotificationsConfig == nil {
		// Maintenance notifications are a Redis Cloud feature; self-hosted
		// Redis 7 does not know the command, so do not probe for it.
		opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	return goredis.NewClient(opts), nil
}

// Ping checks that c can reach its server. Readiness probes use it.
func Ping(ctx context.Context, c goredis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
