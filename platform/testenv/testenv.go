// Package testenv gives integration tests real PostgreSQL and Redis.
//
// It uses TEST_DATABASE_URL (or DATABASE_URL) and TEST_REDIS_URL (or
// REDIS_URL) when set — `go tool task test` and CI start the servers once
// and set them — and otherwise starts private servers from the local
// binaries for the test process. Each call to Postgres gets a fresh database
// cloned from a template that was migrated once with the same embedded
// migrations production uses, so tests run in parallel without sharing rows.
// When no database can be had, tests fail with a message saying how to get
// one: they never skip.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/authos/authos/migrations"
	"github.com/authos/authos/platform/localenv"
)

// process-wide servers: started at most once per test binary.
type servers struct {
	pgOnce    sync.Once
	adminURL  string
	template  string
	pgErr     error
	redisOnce sync.Once
	redisURL  string
	redisErr  error
}

var shared servers //nolint:gochecknoglobals // one set of servers per test process is the point

const howTo = "integration tests need PostgreSQL and Redis: run `go tool task test`, or set TEST_DATABASE_URL/TEST_REDIS_URL, or install postgresql and redis-server (apt-get install postgresql redis-server) so the tests can start their own"

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func startPostgres() (string, error) {
	if u := firstEnv("TEST_DATABASE_URL", "DATABASE_URL"); u != "" {
		return withDatabase(u, "postgres")
	}
	dir, err := os.MkdirTemp("", "authos-testenv-pg-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dir, "data")})
	if err != nil {
		return "", err
	}
	// The server dies with the test process (parent-death signal); its data
	// folder is throwaway.
	return pg.URL("postgres"), nil
}

func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// templateName is derived from the migrations' content, so a changed
// migration gets a new template and a stale one is never reused.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "river:%d", len(m.AllVersions()))
	return "authos_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureTemplate creates and migrates the template database once per
// server, serialised across concurrent test processes by an advisory lock.
func ensureTemplate(ctx context.Context, adminURL string) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to test database server: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7243591)"); err != nil {
		return "", err
	}
	defer func() { _, _ = admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7243591)") }()
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", fmt.Errorf("create template database: %w", err)
	}
	buildURL, err := withDatabase(adminURL, building)
	if err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, buildURL)
	if err != nil {
		return "", err
	}
	_, err = migrations.Up(ctx, pool)
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template database: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("publish template database: %w", err)
	}
	return name, nil
}

func setupPostgres() (string, string, error) {
	adminURL, err := startPostgres()
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := ensureTemplate(ctx, adminURL)
	return adminURL, tmpl, err
}

// PostgresURL creates a fresh, fully migrated database for this test and
// returns its URL. The database is dropped when the test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	shared.pgOnce.Do(func() { shared.adminURL, shared.template, shared.pgErr = setupPostgres() })
	if shared.pgErr != nil {
		tb.Fatalf("testenv: no PostgreSQL: %v\n%s", shared.pgErr, howTo)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "authos_test_" + strings.ToLower(randomHex(8))
	if err := cloneTemplate(ctx, shared.adminURL, shared.template, name); err != nil {
		tb.Fatalf("testenv: create test database: %v", err)
	}
	tb.Cleanup(func() { dropDatabase(shared.adminURL, name) })
	u, err := withDatabase(shared.adminURL, name)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func cloneTemplate(ctx context.Context, adminURL, tmpl, name string) error {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{tmpl}.Sanitize()
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		// 55006: the template is briefly in use by a concurrent clone.
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt > 50 {
			return err
		}
		time.Sleep(time.Duration(20+attempt*10) * time.Millisecond)
	}
}

func dropDatabase(adminURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// Postgres returns a pool on a fresh, fully migrated database of its own.
// The pool is closed and the database dropped when the test ends.
func Postgres(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	u := PostgresURL(tb)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		tb.Fatalf("testenv: open pool: %v", err)
	}
	tb.Cleanup(pool.Close) // runs before the drop registered earlier (LIFO)
	return pool
}

// Tx returns a transaction on a fresh database, rolled back when the test ends.
func Tx(tb testing.TB) pgx.Tx {
	tb.Helper()
	pool := Postgres(tb)
	tx, err := pool.Begin(context.Background())
	if err != nil {
		tb.Fatalf("testenv: begin: %v", err)
	}
	tb.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// RedisURL returns the URL of the test Redis server. Tests share it, so
// each must namespace its keys (see KeyPrefix).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	shared.redisOnce.Do(func() {
		if u := firstEnv("TEST_REDIS_URL", "REDIS_URL"); u != "" {
			shared.redisURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := localenv.StartRedis(ctx, localenv.RedisOptions{})
		if err != nil {
			shared.redisErr = err
			return
		}
		shared.redisURL = r.URL()
	})
	if shared.redisErr != nil {
		tb.Fatalf("testenv: no Redis: %v\n%s", shared.redisErr, howTo)
	}
	return shared.redisURL
}

// Redis returns a client on the test Redis server, closed when the test ends.
func Redis(tb testing.TB) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatalf("testenv: parse redis url: %v", err)
	}
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// KeyPrefix returns a prefix unique to this test for namespacing Redis keys.
func KeyPrefix(tb testing.TB) string {
	tb.Helper()
	return "test:" + randomHex(6) + ":"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
