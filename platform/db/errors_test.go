package db_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/testenv"
)

func TestMapError(t *testing.T) {
	t.Parallel()

	// One database with a schema that can violate every mapped constraint.
	pool := testenv.Postgres(t)
	_, err := pool.Exec(t.Context(), `
		CREATE TABLE map_parent (id int PRIMARY KEY);
		CREATE TABLE map_child (
			id        int  PRIMARY KEY,
			parent_id int  NOT NULL CONSTRAINT map_child_parent_fk REFERENCES map_parent (id),
			email     text NOT NULL CONSTRAINT map_child_email_key UNIQUE,
			qty       int  NOT NULL DEFAULT 1 CONSTRAINT map_child_qty_positive CHECK (qty > 0)
		);
		INSERT INTO map_parent (id) VALUES (1);
		INSERT INTO map_child (id, parent_id, email) VALUES (1, 1, 'taken@example.com');`)
	require.NoError(t, err)

	// exec runs a statement and returns its raw driver error.
	exec := func(t *testing.T, sql string) error {
		t.Helper()
		_, err := pool.Exec(t.Context(), sql)
		require.Error(t, err)
		return err
	}

	constraintCases := []struct {
		Name       string
		SQL        string
		Kind       error
		Constraint string
		Column     string
	}{
		{
			Name:       "Unique",
			SQL:        `INSERT INTO map_child (id, parent_id, email) VALUES (2, 1, 'taken@example.com')`,
			Kind:       db.ErrUnique,
			Constraint: "map_child_email_key",
		},
		{
			Name:       "ForeignKey",
			SQL:        `INSERT INTO map_child (id, parent_id, email) VALUES (3, 99, 'fk@example.com')`,
			Kind:       db.ErrForeignKey,
			Constraint: "map_child_parent_fk",
		},
		{
			Name:       "Check",
			SQL:        `INSERT INTO map_child (id, parent_id, email, qty) VALUES (4, 1, 'check@example.com', 0)`,
			Kind:       db.ErrCheck,
			Constraint: "map_child_qty_positive",
		},
		{
			Name:   "NotNull",
			SQL:    `INSERT INTO map_child (id, parent_id) VALUES (5, 1)`,
			Kind:   db.ErrNotNull,
			Column: "email",
		},
	}
	kinds := []error{db.ErrUnique, db.ErrForeignKey, db.ErrCheck, db.ErrNotNull, db.ErrNotFound}
	for _, tc := range constraintCases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			raw := exec(t, tc.SQL)
			// Stores usually wrap before mapping; MapError must see through it.
			err := db.MapError(fmt.Errorf("insert child: %w", raw))

			require.ErrorIs(t, err, tc.Kind)
			for _, other := range kinds {
				if other != tc.Kind {
					require.NotErrorIs(t, err, other)
				}
			}
			var ce *db.ConstraintError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.Kind, ce.Kind)
			require.Equal(t, tc.Constraint, ce.Constraint)
			require.Equal(t, "map_child", ce.Table)
			require.Equal(t, tc.Column, ce.Column)
			require.Equal(t, tc.Constraint, db.ConstraintName(err))

			// The driver error stays reachable for callers that need it.
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.ErrorIs(t, err, raw)
			require.Contains(t, err.Error(), tc.Kind.Error())
		})
	}

	t.Run("NoRows", func(t *testing.T) {
		t.Parallel()
		var id int
		raw := pool.QueryRow(t.Context(), `SELECT id FROM map_parent WHERE id = 42`).Scan(&id)
		require.ErrorIs(t, raw, pgx.ErrNoRows)
		err := db.MapError(fmt.Errorf("get parent: %w", raw))
		require.ErrorIs(t, err, db.ErrNotFound)
		require.Empty(t, db.ConstraintName(err))
		var ce *db.ConstraintError
		require.NotErrorAs(t, err, &ce)
	})

	t.Run("Nil", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, db.MapError(nil))
		require.Empty(t, db.ConstraintName(nil))
	})

	t.Run("OtherPostgresErrorPassesThrough", func(t *testing.T) {
		t.Parallel()
		raw := exec(t, `SELECT * FROM map_missing_table`)
		err := db.MapError(raw)
		require.Same(t, raw, err)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42P01", pgErr.Code)
		for _, kind := range kinds {
			require.NotErrorIs(t, err, kind)
		}
	})

	t.Run("NonPostgresErrorPassesThrough", func(t *testing.T) {
		t.Parallel()
		raw := errors.New("network down")
		require.Equal(t, raw, db.MapError(raw))
		require.Empty(t, db.ConstraintName(raw))
	})

	t.Run("ConstraintNameOfUnmappedDriverError", func(t *testing.T) {
		t.Parallel()
		raw := exec(t, `INSERT INTO map_child (id, parent_id, email) VALUES (1, 1, 'dup-pk@example.com')`)
		require.Equal(t, "map_child_pkey", db.ConstraintName(raw))
		require.Equal(t, "map_child_pkey", db.ConstraintName(db.MapError(raw)))
	})
}
