// Package app is the composition root shared by the AuthOS commands: it
// builds configuration, logger, pools, clients, modules and servers in the
// order of the style guide (config → logger → pgxpool → redis → river →
// modules → routes) and runs the api, worker, migrate, dev and openapi
// commands. Nothing here holds package-level state.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/redis"
)

// Version is the build version, set with -ldflags "-X .../app.Version=...".
var Version = "dev" //nolint:gochecknoglobals // link-time constant

// Env is how commands read the environment (os.Getenv, or a map in tests).
type Env func(string) string

// newLogger builds the process logger from configuration.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// loadConfig parses and validates configuration, logging every problem.
func loadConfig(getenv Env, stderr io.Writer) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return cfg, err
	}
	return cfg, nil
}

// startProcess loads the configuration of a long-running process, builds
// its logger and logs the effective configuration.
func startProcess(getenv Env, stdout, stderr io.Writer, process string) (config.Config, *slog.Logger, error) {
	cfg, err := loadConfig(getenv, stderr)
	if err != nil {
		return cfg, nil, err
	}
	logger := newLogger(cfg, stdout)
	logConfig(logger, process, cfg)
	return cfg, logger, nil
}

// logConfig logs the effective configuration with secrets masked.
func logConfig(logger *slog.Logger, process string, cfg config.Config) {
	masked := cfg.Masked()
	attrs := make([]any, 0, 2*len(masked)+2)
	attrs = append(attrs, "process", process)
	for _, k := range slices.Sorted(maps.Keys(masked)) {
		if masked[k] == "" {
			continue
		}
		attrs = append(attrs, k, masked[k])
	}
	logger.Info("effective configuration", attrs...)
}

func openPool(ctx context.Context, cfg config.Config, app string) (*pgxpool.Pool, error) {
	return db.NewPool(ctx, cfg.Database.URL, db.PoolOptions{
		MaxConns:        int32(cfg.Database.MaxConns),
		MinConns:        int32(cfg.Database.MinConns),
		MaxConnIdleTime: cfg.Database.IdleTimeout,
		MaxConnLifetime: cfg.Database.MaxLifetime,
		ApplicationName: "authos-" + app,
	})
}

// openStores opens the pool and the Redis client of a long-running process
// and refuses a database whose schema is behind this binary. close releases both.
func openStores(ctx context.Context, cfg config.Config, process string, logger *slog.Logger) (pool *pgxpool.Pool, rdb *goredis.Client, closeFunc func(), err error) {
	if pool, err = openPool(ctx, cfg, process); err != nil {
		return nil, nil, nil, err
	}
	if err = requireSchema(ctx, pool, logger); err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	if rdb, err = redis.NewClient(ctx, cfg.Redis.URL); err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return pool, rdb, func() { _ = rdb.Close(); pool.Close() }, nil
}

func keyRing(cfg config.Config) (*crypto.KeyRing, error) {
	ring, err := crypto.ParseKeyRing(cfg.Security.EncryptionKeyID, cfg.EffectiveEncryptionKey(), cfg.Security.PreviousEncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("load encryption keys: %w", err)
	}
	return ring, nil
}

// ExitError carries a process exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps a command error to a process exit code.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return 1
	}
	return 0
}

// redact hides the password of a URL for printing.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	return u.Redacted()
}
