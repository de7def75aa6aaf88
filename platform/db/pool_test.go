package db_test

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/testenv"
)

func TestNewPool(t *testing.T) {
	t.Parallel()

	t.Run("AppliesOptions", func(t *testing.T) {
		t.Parallel()
		pool, err := db.NewPool(t.Context(), testenv.PostgresURL(t), db.PoolOptions{
			MaxConns:          3,
			MinConns:          1,
			MaxConnIdleTime:   7 * time.Minute,
			MaxConnLifetime:   42 * time.Minute,
			HealthCheckPeriod: 11 * time.Second,
			ApplicationName:   "authos-db-test",
		})
		require.NoError(t, err)
		t.Cleanup(pool.Close)

		cfg := pool.Config()
		require.Equal(t, int32(3), cfg.MaxConns)
		require.Equal(t, int32(1), cfg.MinConns)
		require.Equal(t, 7*time.Minute, cfg.MaxConnIdleTime)
		require.Equal(t, 42*time.Minute, cfg.MaxConnLifetime)
		require.Equal(t, 11*time.Second, cfg.HealthCheckPeriod)
		require.Equal(t, 5*time.Second, cfg.ConnConfig.ConnectTimeout)

		var app, seen string
		err = pool.QueryRow(t.Context(), `
			SELECT current_setting('application_name'), application_name
			FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&app, &seen)
		require.NoError(t, err)
		require.Equal(t, "authos-db-test", app)
		require.Equal(t, "authos-db-test", seen)
	})

	t.Run("ZeroOptionsKeepURLSettings", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(testenv.PostgresURL(t))
		require.NoError(t, err)
		q := u.Query()
		q.Set("pool_max_conns", "2")
		q.Set("connect_timeout", "3")
		q.Set("application_name", "from-url")
		u.RawQuery = q.Encode()

		pool, err := db.NewPool(t.Context(), u.String(), db.PoolOptions{})
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		require.Equal(t, int32(2), pool.Config().MaxConns)
		require.Equal(t, 3*time.Second, pool.Config().ConnConfig.ConnectTimeout)
		var app string
		require.NoError(t, pool.QueryRow(t.Context(), `SHOW application_name`).Scan(&app))
		require.Equal(t, "from-url", app)
	})

	t.Run("ReturnsPoolWhenServerIsDown", func(t *testing.T) {
		t.Parallel()
		// A port that was free a moment ago: nothing listens there.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		pool, err := db.NewPool(ctx, "postgres://authos@"+addr+"/authos?sslmode=disable&connect_timeout=1", db.PoolOptions{MaxConns: 2})
		require.NoError(t, err, "NewPool must not connect eagerly")
		t.Cleanup(pool.Close)
		require.Error(t, pool.Ping(ctx), "the first use reports the outage")
	})

	t.Run("RejectsBadURL", func(t *testing.T) {
		t.Parallel()
		_, err := db.NewPool(t.Context(), "postgres://%zz", db.PoolOptions{})
		require.ErrorContains(t, err, "parse database url")
	})
}
