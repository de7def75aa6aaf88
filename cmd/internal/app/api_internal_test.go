package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/redis"
	"github.com/authos/authos/platform/testenv"
)

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"AUTHOS_ENV": "test", "METRICS_TOKEN": "s3cret-metrics"}[k]
	})
	require.NoError(t, err)
	pool := testenv.Postgres(t)
	rdb, err := redis.NewClient(t.Context(), testenv.RedisURL(t))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, logger: logger})
	require.NoError(t, err)
	handler, _, err := buildAPI(cfg, logger, pool, mods)
	t.Cleanup(mods.stop)
	require.NoError(t, err)

	get := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}

	require.Equal(t, http.StatusOK, get("/health/ready", "").Code)
	require.Equal(t, http.StatusNotFound, get("/no/such/route", "").Code)

	t.Run("RequiresTheToken", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{"", "wrong", "s3cret-metrics-but-longer"} {
			rec := get("/metrics", tok)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
			require.NotContains(t, rec.Body.String(), "authos_")
		}
	})

	t.Run("ExportsRequestPoolAndQueueMetrics", func(t *testing.T) {
		t.Parallel()
		rec := get("/metrics", "s3cret-metrics")
		require.Equal(t, http.StatusOK, rec.Code)
		body, err := io.ReadAll(rec.Body)
		require.NoError(t, err)
		text := string(body)
		require.Contains(t, text, `authos_http_requests_total{method="GET",operation="get-health-ready",status="200"}`)
		require.Contains(t, text, `operation="unmatched",status="404"`)
		require.Contains(t, text, "authos_http_request_duration_seconds_bucket")
		require.Contains(t, text, "authos_db_pool_max_connections")
		require.Contains(t, text, `authos_river_jobs{queue="email",state="available"} 0`)
		require.Contains(t, text, "authos_river_queue_scrape_ok 1")
		require.False(t, strings.Contains(text, "/no/such/route"), "raw paths never become labels")
	})
}
