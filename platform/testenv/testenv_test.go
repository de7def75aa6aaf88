package testenv_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/migrations"
	"github.com/authos/authos/platform/testenv"
)

func TestPostgres(t *testing.T) {
	t.Parallel()

	t.Run("FreshMigratedDatabase", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		st, err := migrations.Check(context.Background(), pool)
		require.NoError(t, err)
		require.False(t, st.Behind())
		require.Positive(t, st.Target)
		require.Positive(t, st.RiverCurrent)
	})

	t.Run("DatabasesAreIsolated", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		a, b := testenv.Postgres(t), testenv.Postgres(t)
		_, err := a.Exec(ctx, "CREATE TABLE only_in_a (id int)")
		require.NoError(t, err)
		var exists bool
		require.NoError(t, b.QueryRow(ctx, "SELECT to_regclass('only_in_a') IS NOT NULL").Scan(&exists))
		require.False(t, exists)
	})
}

func TestRedis(t *testing.T) {
	t.Parallel()
	c := testenv.Redis(t)
	key := testenv.KeyPrefix(t) + "k"
	require.NoError(t, c.Set(context.Background(), key, "v", 0).Err())
	v, err := c.Get(context.Background(), key).Result()
	require.NoError(t, err)
	require.Equal(t, "v", v)
	require.NotEqual(t, testenv.KeyPrefix(t), testenv.KeyPrefix(t))
}
