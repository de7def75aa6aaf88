// Package db holds the PostgreSQL plumbing shared by every module: the pgx
// pool, the one transaction helper, and the mapping of PostgreSQL errors to
// sentinel errors that stores translate into their own domain errors.
package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions are the pool settings (spec §1.1 DB_* variables).
type PoolOptions struct {
	MaxConns          int32
	MinConns          int32
	MaxConnIdleTime   time.Duration
	MaxConnLifetime   time.Duration
	ApplicationName   string
	HealthCheckPeriod time.Duration
}

// NewPool opens a pgx pool. It does not wait for the database: a pool whose
// server is down is still returned, and connections are made on demand, so a
// process started before its database recovers by itself when it comes up.
func NewPool(ctx context.Context, url string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MinConns > 0 {
		cfg.MinConns = o.MinConns
	}
	if o.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = o.MaxConnIdleTime
	}
	if o.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = o.MaxConnLifetime
	}
	if o.HealthCheckPeriod > 0 {
		cfg.HealthCheckPeriod = o.HealthCheckPeriod
	}
	if o.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = o.ApplicationName
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// Beginner is what InTx needs: a pool, a connection or an outer transaction
// (which yields a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction. It commits when fn returns nil and rolls
// back otherwise: on an error, on a panic (re-panicking afterwards) and when
// fn never returns because its goroutine exits (runtime.Goexit, as a failing
// test assertion does), so the connection always goes back to the pool.
// Every module uses this one helper so jobs inserted with InsertTx and events
// recorded with a Recorder share the fate of the change that caused them.
func InTx(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		// Not recovering keeps a panic unwinding with its original stack
		// once the rollback is done.
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	committed = true
	return nil
}

// Sentinel errors that stores map to their own domain errors.
var (
	ErrNotFound   = errors.New("not found")
	ErrUnique     = errors.New("unique violation")
	ErrForeignKey = errors.New("foreign key violation")
	ErrCheck      = errors.New("check violation")
	ErrNotNull    = errors.New("not null violation")
)

// ConstraintError is a constraint violation, keeping the constraint name so a
// store can choose the right domain error (ErrEmailTaken vs ErrSlugTaken).
type ConstraintError struct {
	Kind       error // one of ErrUnique, ErrForeignKey, ErrCheck, ErrNotNull
	Constraint string
	Table      string
	Column     string
	err        error
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%s on %q", e.Kind, e.Constraint)
}

// Is makes errors.Is(err, db.ErrUnique) work.
func (e *ConstraintError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the driver error.
func (e *ConstraintError) Unwrap() error { return e.err }

// MapError translates pgx.ErrNoRows and constraint violations to the
// sentinels above and returns every other error unchanged.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	var kind error
	switch pgErr.Code {
	case "23505":
		kind = ErrUnique
	case "23503":
		kind = ErrForeignKey
	case "23514":
		kind = ErrCheck
	case "23502":
		kind = ErrNotNull
	default:
		return err
	}
	return &ConstraintError{Kind: kind, Constraint: pgErr.ConstraintName, Table: pgErr.TableName, Column: pgErr.ColumnName, err: err}
}

// ConstraintName returns the violated constraint's name, or "".
func ConstraintName(err error) string {
	var ce *ConstraintError
	if errors.As(err, &ce) {
		return ce.Constraint
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// DBTX is what stores run statements on: a pool or a transaction, so one
// store method works inside and outside a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
