// Package migrations holds the embedded SQL schema and runs it.
//
// Our own migrations are goose files named YYYYMMDDHHMMSS_<module>_<what>.sql
// with `-- +goose Up` and `-- +goose Down` sections (goose keeps both
// directions in one file, so the style guide's .up/.down pair becomes one
// file with two sections). River's tables come from rivermigrate. Up runs
// both; `authos migrate`, `authos dev` and the test harness call it, and
// the API only checks (Status) and refuses to start when behind: it never
// migrates implicitly.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded migration files.
func FS() embed.FS { return files }

// Result says what Up applied.
type Result struct {
	Applied      []string // our migration files applied now
	RiverApplied []int    // River migration versions applied now
}

func provider(db *sql.DB, locking bool) (*goose.Provider, error) {
	var opts []goose.ProviderOption
	if locking {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration, ours then River's. It is safe to run
// from several processes at once: a PostgreSQL session lock serialises them.
func Up(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := provider(db, true)
	if err != nil {
		return res, err
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("apply migrations: %w", err)
	}
	for _, a := range applied {
		res.Applied = append(res.Applied, a.Source.Path)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("create river migrator: %w", err)
	}
	// River's migrations take their own lock-free path; serialise them with
	// an advisory lock so concurrent `authos migrate` runs do not collide.
	err = withAdvisoryLock(ctx, pool, 0x617574686f73, func() error {
		r, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return err
		}
		for _, v := range r.Versions {
			res.RiverApplied = append(res.RiverApplied, v.Version)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("apply river migrations: %w", err)
	}
	return res, nil
}

func withAdvisoryLock(ctx context.Context, pool *pgxpool.Pool, key int64, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()
	return fn()
}

// Status describes how the database schema compares with this binary.
type Status struct {
	Current      int64 // latest applied goose version
	Target       int64 // latest embedded goose version
	RiverCurrent int   // latest applied River version
	RiverTarget  int   // latest River version this binary needs
}

// Behind reports whether any migration is missing.
func (s Status) Behind() bool { return s.Current < s.Target || s.RiverCurrent < s.RiverTarget }

// String summarises the status for logs and readiness answers.
func (s Status) String() string {
	return fmt.Sprintf("schema %d/%d, river %d/%d", s.Current, s.Target, s.RiverCurrent, s.RiverTarget)
}

// ErrBehind is returned by Check when migrations are pending.
var ErrBehind = errors.New("database schema is behind this binary: run `authos migrate`")

// GetStatus reads the applied versions without changing anything.
func GetStatus(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	var st Status
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := provider(db, false)
	if err != nil {
		return st, err
	}
	if sources := p.ListSources(); len(sources) > 0 {
		st.Target = sources[len(sources)-1].Version
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil {
		return st, fmt.Errorf("read schema version: %w", err)
	}
	if exists {
		if err := pool.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&st.Current); err != nil {
			return st, fmt.Errorf("read schema version: %w", err)
		}
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return st, fmt.Errorf("create river migrator: %w", err)
	}
	all := migrator.AllVersions()
	if len(all) > 0 {
		st.RiverTarget = all[len(all)-1].Version
	}
	if err := pool.QueryRow(ctx, "SELECT to_regclass('river_migration') IS NOT NULL").Scan(&exists); err != nil {
		return st, fmt.Errorf("read river version: %w", err)
	}
	if exists {
		existing, err := migrator.ExistingVersions(ctx)
		if err != nil {
			return st, fmt.Errorf("read river version: %w", err)
		}
		if len(existing) > 0 {
			st.RiverCurrent = existing[len(existing)-1].Version
		}
	}
	return st, nil
}

// Check returns ErrBehind (wrapped with the versions) when migrations are pending.
func Check(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	st, err := GetStatus(ctx, pool)
	if err != nil {
		return st, err
	}
	if st.Behind() {
		return st, fmt.Errorf("%w (%s)", ErrBehind, st)
	}
	return st, nil
}
