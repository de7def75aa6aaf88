package db_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/testenv"
)

// txBundle is a fresh database with one scratch table.
type txBundle struct {
	pool *pgxpool.Pool
}

func setupTx(t *testing.T) *txBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	_, err := pool.Exec(t.Context(), `CREATE TABLE tx_item (name text PRIMARY KEY)`)
	require.NoError(t, err)
	return &txBundle{pool: pool}
}

func insertItem(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `INSERT INTO tx_item (name) VALUES ($1)`, name)
	return err
}

func (b *txBundle) exists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	err := b.pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM tx_item WHERE name = $1)`, name).Scan(&ok)
	require.NoError(t, err)
	return ok
}

// requireReleased checks that InTx gave its connection back to the pool.
func (b *txBundle) requireReleased(t *testing.T) {
	t.Helper()
	require.Zero(t, b.pool.Stat().AcquiredConns(), "transaction left a connection acquired")
}

func TestInTx(t *testing.T) {
	t.Parallel()

	t.Run("CommitsOnNil", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		err := db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
			return insertItem(t.Context(), tx, "kept")
		})
		require.NoError(t, err)
		require.True(t, b.exists(t, "kept"))
		b.requireReleased(t)
	})

	t.Run("RollsBackOnError", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		boom := errors.New("boom")
		err := db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
			require.NoError(t, insertItem(t.Context(), tx, "dropped"))
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, boom, err, "fn's error is returned unwrapped")
		require.False(t, b.exists(t, "dropped"))
		b.requireReleased(t)
	})

	t.Run("RollsBackAndRepanicsOnPanic", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		require.PanicsWithValue(t, "kaboom", func() {
			_ = db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
				require.NoError(t, insertItem(t.Context(), tx, "panicked"))
				panic("kaboom")
			})
		})
		require.False(t, b.exists(t, "panicked"))
		b.requireReleased(t)
	})

	t.Run("RollsBackOnGoexit", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		// A failing require inside fn calls runtime.Goexit: no error is
		// returned and nothing panics, yet the transaction must not stay
		// open holding a pool connection (pool.Close would then hang).
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
				if err := insertItem(t.Context(), tx, "abandoned"); err != nil {
					return err
				}
				runtime.Goexit()
				return nil
			})
		})
		wg.Wait()
		require.False(t, b.exists(t, "abandoned"))
		b.requireReleased(t)
	})

	t.Run("RollsBackWhenContextCancelled", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		ctx, cancel := context.WithCancel(t.Context())
		err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			require.NoError(t, insertItem(ctx, tx, "cancelled"))
			cancel()
			return ctx.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, b.exists(t, "cancelled"))
		b.requireReleased(t)
	})

	t.Run("BeginFailureIsWrapped", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		called := false
		err := db.InTx(ctx, b.pool, func(pgx.Tx) error { called = true; return nil })
		require.ErrorContains(t, err, "begin transaction")
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, called)
	})

	t.Run("NestedUsesSavepoint", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		inner := errors.New("inner failed")
		err := db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
			require.NoError(t, insertItem(t.Context(), tx, "outer"))
			err := db.InTx(t.Context(), tx, func(sp pgx.Tx) error {
				require.NoError(t, insertItem(t.Context(), sp, "inner-dropped"))
				return inner
			})
			require.ErrorIs(t, err, inner)
			// The outer transaction is still usable after the savepoint
			// rolled back, and a successful nested call is kept.
			return db.InTx(t.Context(), tx, func(sp pgx.Tx) error {
				return insertItem(t.Context(), sp, "inner-kept")
			})
		})
		require.NoError(t, err)
		require.True(t, b.exists(t, "outer"))
		require.True(t, b.exists(t, "inner-kept"))
		require.False(t, b.exists(t, "inner-dropped"))
		b.requireReleased(t)
	})

	t.Run("NestedCommitDoesNotCommitOuter", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		outer := errors.New("outer failed")
		err := db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
			require.NoError(t, db.InTx(t.Context(), tx, func(sp pgx.Tx) error {
				return insertItem(t.Context(), sp, "released-savepoint")
			}))
			return outer
		})
		require.ErrorIs(t, err, outer)
		require.False(t, b.exists(t, "released-savepoint"))
	})

	t.Run("CommitFailureIsWrapped", func(t *testing.T) {
		t.Parallel()
		b := setupTx(t)
		_, err := b.pool.Exec(t.Context(), `CREATE TABLE tx_deferred (
			id int PRIMARY KEY,
			ref text REFERENCES tx_item (name) DEFERRABLE INITIALLY DEFERRED)`)
		require.NoError(t, err)
		err = db.InTx(t.Context(), b.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(t.Context(), `INSERT INTO tx_deferred (id, ref) VALUES (1, 'missing')`)
			return err
		})
		require.ErrorContains(t, err, "commit transaction")
		require.ErrorIs(t, db.MapError(err), db.ErrForeignKey)
		b.requireReleased(t)
	})
}
