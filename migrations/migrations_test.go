package migrations_test

import (
	"context"
	"database/sql"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/migrations"
	"github.com/authos/authos/platform/testenv"
)

// emptyDatabase returns the URL of a fresh database whose public schema
// holds nothing: neither our tables nor River's nor goose's version table.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	u := testenv.PostgresURL(t)
	pool := openPool(t, u)
	_, err := pool.Exec(t.Context(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public;`)
	require.NoError(t, err)
	require.Empty(t, schemaObjects(t, pool))
	return u
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// embeddedFiles lists our migration files in the order goose applies them.
func embeddedFiles(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(migrations.FS(), "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	slices.Sort(names)
	return names
}

func riverVersions(t *testing.T) []int {
	t.Helper()
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	require.NoError(t, err)
	var out []int
	for _, v := range m.AllVersions() {
		out = append(out, v.Version)
	}
	require.NotEmpty(t, out)
	return out
}

// schemaObjects lists what lives in the public schema (relations, indexes,
// sequences, standalone types, functions) and the installed extensions,
// leaving out goose's own bookkeeping.
func schemaObjects(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
		SELECT 'class:' || c.relkind::text || ':' || c.relname::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname NOT LIKE 'goose\_db\_version%'
		UNION ALL
		SELECT 'type:' || t.typname::text
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
		UNION ALL
		SELECT 'func:' || p.proname::text
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public'
		UNION ALL
		SELECT 'extension:' || extname::text FROM pg_extension WHERE extname <> 'plpgsql'
		ORDER BY 1`)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func gooseProvider(t *testing.T, pool *pgxpool.Pool) *goose.Provider {
	t.Helper()
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS())
	require.NoError(t, err)
	return p
}

func requireCurrent(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	st, err := migrations.Check(t.Context(), pool)
	require.NoError(t, err)
	require.False(t, st.Behind())
	require.Positive(t, st.Target)
	require.Equal(t, st.Target, st.Current)
	require.Equal(t, st.RiverTarget, st.RiverCurrent)
}

func TestUp(t *testing.T) {
	t.Parallel()

	t.Run("AppliesEverythingOnceOnEmptyDatabase", func(t *testing.T) {
		t.Parallel()
		pool := openPool(t, emptyDatabase(t))

		res, err := migrations.Up(t.Context(), pool)
		require.NoError(t, err)
		require.Equal(t, embeddedFiles(t), res.Applied)
		require.Equal(t, riverVersions(t), res.RiverApplied)
		requireCurrent(t, pool)

		var ours, rivers bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass('organization_audit_log') IS NOT NULL, to_regclass('river_job') IS NOT NULL`).Scan(&ours, &rivers))
		require.True(t, ours)
		require.True(t, rivers)

		again, err := migrations.Up(t.Context(), pool)
		require.NoError(t, err)
		require.Empty(t, again.Applied)
		require.Empty(t, again.RiverApplied)
		requireCurrent(t, pool)
	})

	t.Run("NothingToDoOnMigratedDatabase", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		res, err := migrations.Up(t.Context(), pool)
		require.NoError(t, err)
		require.Empty(t, res.Applied)
		require.Empty(t, res.RiverApplied)
	})

	t.Run("ConcurrentRunsSerialise", func(t *testing.T) {
		t.Parallel()
		u := emptyDatabase(t)
		// Two pools stand for two `authos migrate` processes.
		pools := []*pgxpool.Pool{openPool(t, u), openPool(t, u)}
		results := make([]migrations.Result, len(pools))
		errs := make([]error, len(pools))
		var wg sync.WaitGroup
		for i, pool := range pools {
			wg.Go(func() { results[i], errs[i] = migrations.Up(t.Context(), pool) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		// Each migration ran exactly once, in one of the two runs.
		applied := slices.Concat(results[0].Applied, results[1].Applied)
		slices.Sort(applied)
		require.Equal(t, embeddedFiles(t), applied)
		river := slices.Concat(results[0].RiverApplied, results[1].RiverApplied)
		slices.Sort(river)
		require.Equal(t, riverVersions(t), river)
		requireCurrent(t, pools[0])
	})

	t.Run("ConcurrentRiverMigrationsWaitForLock", func(t *testing.T) {
		t.Parallel()
		u := emptyDatabase(t)
		// Hold the advisory lock Up takes around River's migrations ("authos"
		// in ASCII) so both runs are certain to meet there.
		const riverLockKey = 0x617574686f73
		holder := openPool(t, u)
		conn, err := holder.Acquire(t.Context())
		require.NoError(t, err)
		defer conn.Release()
		_, err = conn.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, int64(riverLockKey))
		require.NoError(t, err)

		pools := []*pgxpool.Pool{openPool(t, u), openPool(t, u)}
		results := make([]migrations.Result, len(pools))
		errs := make([]error, len(pools))
		var wg sync.WaitGroup
		for i, pool := range pools {
			wg.Go(func() { results[i], errs[i] = migrations.Up(t.Context(), pool) })
		}
		require.Eventually(t, func() bool {
			var waiting int
			err := holder.QueryRow(t.Context(), `
				SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND NOT granted
				  AND ((classid::bigint << 32) | objid::bigint) = $1`, int64(riverLockKey)).Scan(&waiting)
			return err == nil && waiting == 2
		}, 30*time.Second, 20*time.Millisecond, "both runs wait for the River lock")
		_, err = conn.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, int64(riverLockKey))
		require.NoError(t, err)
		wg.Wait()

		for _, err := range errs {
			require.NoError(t, err)
		}
		river := slices.Concat(results[0].RiverApplied, results[1].RiverApplied)
		slices.Sort(river)
		require.Equal(t, riverVersions(t), river, "River's migrations ran once")
		requireCurrent(t, pools[0])
	})

	t.Run("ReportsCancelledContext", func(t *testing.T) {
		t.Parallel()
		pool := openPool(t, emptyDatabase(t))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := migrations.Up(ctx, pool)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestGetStatus(t *testing.T) {
	t.Parallel()

	t.Run("EmptyDatabaseIsBehind", func(t *testing.T) {
		t.Parallel()
		pool := openPool(t, emptyDatabase(t))
		st, err := migrations.GetStatus(t.Context(), pool)
		require.NoError(t, err)
		require.Zero(t, st.Current)
		require.Zero(t, st.RiverCurrent)
		require.Positive(t, st.Target)
		require.Equal(t, riverVersions(t)[len(riverVersions(t))-1], st.RiverTarget)
		require.True(t, st.Behind())
		require.Contains(t, st.String(), "schema 0/")

		// Reading the status changes nothing.
		require.Empty(t, schemaObjects(t, pool))
		var versionTable bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&versionTable))
		require.False(t, versionTable)

		_, err = migrations.Check(t.Context(), pool)
		require.ErrorIs(t, err, migrations.ErrBehind)
		require.ErrorContains(t, err, st.String())
	})

	t.Run("MigratedDatabaseIsCurrent", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		requireCurrent(t, pool)
		st, err := migrations.GetStatus(t.Context(), pool)
		require.NoError(t, err)
		files := embeddedFiles(t)
		last := files[len(files)-1]
		want, err := strconv.ParseInt(last[:strings.IndexByte(last, '_')], 10, 64)
		require.NoError(t, err)
		require.Equal(t, want, st.Target, "the target is the newest file's version")
		require.Equal(t, st.Target, st.Current)
	})

	t.Run("OursBehindRiverCurrent", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		sources := gooseProvider(t, pool).ListSources()
		_, err := gooseProvider(t, pool).Down(t.Context())
		require.NoError(t, err)

		st, err := migrations.Check(t.Context(), pool)
		require.ErrorIs(t, err, migrations.ErrBehind)
		require.Equal(t, st.RiverTarget, st.RiverCurrent)
		require.Less(t, st.Current, st.Target)
		require.Equal(t, sources[len(sources)-1].Version, st.Target)
	})

	t.Run("StatusBehind", func(t *testing.T) {
		t.Parallel()
		require.False(t, migrations.Status{Current: 5, Target: 5, RiverCurrent: 6, RiverTarget: 6}.Behind())
		require.True(t, migrations.Status{Current: 4, Target: 5, RiverCurrent: 6, RiverTarget: 6}.Behind())
		require.True(t, migrations.Status{Current: 5, Target: 5, RiverCurrent: 5, RiverTarget: 6}.Behind())
		require.Equal(t, "schema 4/5, river 6/6", migrations.Status{Current: 4, Target: 5, RiverCurrent: 6, RiverTarget: 6}.String())
	})
}

func TestDownSections(t *testing.T) {
	t.Parallel()

	t.Run("EachDownUndoesItsUp", func(t *testing.T) {
		t.Parallel()
		pool := openPool(t, emptyDatabase(t))
		p := gooseProvider(t, pool)
		for _, src := range p.ListSources() {
			before := schemaObjects(t, pool)
			up, err := p.UpByOne(t.Context())
			require.NoError(t, err, src.Path)
			require.Equal(t, src.Version, up.Source.Version)
			after := schemaObjects(t, pool)
			require.NotEqual(t, before, after, "%s: up changes the schema", src.Path)

			down, err := p.Down(t.Context())
			require.NoError(t, err, src.Path)
			require.Equal(t, src.Version, down.Source.Version)
			require.Equal(t, before, schemaObjects(t, pool), "%s: down restores the schema", src.Path)

			_, err = p.UpByOne(t.Context())
			require.NoError(t, err, "%s: up again after down", src.Path)
			require.Equal(t, after, schemaObjects(t, pool))
		}
	})

	t.Run("DownToZeroThenUpAgain", func(t *testing.T) {
		t.Parallel()
		pool := openPool(t, emptyDatabase(t))
		p := gooseProvider(t, pool)
		_, err := p.Up(t.Context())
		require.NoError(t, err)
		require.NotEmpty(t, schemaObjects(t, pool))

		downs, err := p.DownTo(t.Context(), 0)
		require.NoError(t, err)
		require.Len(t, downs, len(p.ListSources()))
		for _, d := range downs {
			require.Equal(t, "down", d.Direction)
		}
		require.Empty(t, schemaObjects(t, pool), "every down section leaves nothing behind")

		res, err := migrations.Up(t.Context(), pool)
		require.NoError(t, err)
		require.Equal(t, embeddedFiles(t), res.Applied)
		requireCurrent(t, pool)
	})
}

func TestFS(t *testing.T) {
	t.Parallel()

	t.Run("FilesFollowConvention", func(t *testing.T) {
		t.Parallel()
		name := regexp.MustCompile(`^\d{14}_[a-z]+_[a-z0-9_]+\.sql$`)
		for _, f := range embeddedFiles(t) {
			require.Regexp(t, name, f)
			b, err := fs.ReadFile(migrations.FS(), f)
			require.NoError(t, err)
			require.Contains(t, string(b), "-- +goose Up", f)
			require.Contains(t, string(b), "-- +goose Down", f)
		}
	})

	t.Run("ProviderReadsEveryFile", func(t *testing.T) {
		t.Parallel()
		// Loading sources needs no connection.
		db, err := sql.Open("pgx", "postgres://unused@127.0.0.1:1/unused")
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS())
		require.NoError(t, err)
		var paths []string
		for _, s := range p.ListSources() {
			paths = append(paths, s.Path)
			require.Positive(t, s.Version)
		}
		require.Equal(t, embeddedFiles(t), paths)
	})
}
