// Package metrics builds the Prometheus registry served at /metrics: Go and
// process metrics, PostgreSQL pool statistics, River queue depth (read at
// scrape time with a short timeout), plus the HTTP request metrics that
// platform/httpapi registers. The handler is protected by a bearer token when
// METRICS_TOKEN is set.
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authos/authos/jobs"
)

// NewRegistry returns a registry with Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// poolCollector exports pgxpool statistics.
type poolCollector struct {
	pool                            *pgxpool.Pool
	total, idle, acquired, max      *prometheus.Desc
	acquireCount, acquireDur, empty *prometheus.Desc
}

// NewPoolCollector exports the pool's statistics.
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("authos_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:         pool,
		total:        d("connections", "Open connections."),
		idle:         d("idle_connections", "Idle connections."),
		acquired:     d("acquired_connections", "Connections in use."),
		max:          d("max_connections", "Pool size limit."),
		acquireCount: d("acquires_total", "Connections acquired."),
		acquireDur:   d("acquire_seconds_total", "Time spent waiting for connections."),
		empty:        d("empty_acquires_total", "Acquires that had to wait for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquireCount, c.acquireDur, c.empty} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireCount, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireDur, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.empty, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}

// queueCollector exports River's queue depth per queue and state.
type queueCollector struct {
	pool   *pgxpool.Pool
	depth  *prometheus.Desc
	up     *prometheus.Desc
	logger *slog.Logger
}

// NewQueueCollector exports River job counts per queue and state, read at
// scrape time (bounded by one second so a slow database cannot stall a scrape).
func NewQueueCollector(pool *pgxpool.Pool, logger *slog.Logger) prometheus.Collector {
	return &queueCollector{
		pool:   pool,
		logger: logger,
		depth:  prometheus.NewDesc("authos_river_jobs", "River jobs waiting or running, per queue and state.", []string{"queue", "state"}, nil),
		up:     prometheus.NewDesc("authos_river_queue_scrape_ok", "1 when the queue depth could be read.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.up }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	depth, err := jobs.QueueDepth(ctx, c.pool)
	if err != nil {
		c.logger.Warn("read river queue depth", "error", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, q := range jobs.SortedQueues(depth) {
		for _, state := range []string{"available", "scheduled", "retryable", "running"} {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth[q][state]), q, state)
		}
	}
}

// Handler serves the registry. With a token, requests must carry
// `Authorization: Bearer <token>` (compared in constant time) or get 401
// with WWW-Authenticate; disabled answers 404.
func Handler(g prometheus.Gatherer, token string, disabled bool) http.Handler {
	inner := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if disabled {
			http.NotFound(w, r)
			return
		}
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}
