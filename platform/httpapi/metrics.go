package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names recorded when [Options.Metrics] is set.
const (
	MetricRequestsTotal   = "authos_http_requests_total"
	MetricRequestDuration = "authos_http_request_duration_seconds"
)

// unmatchedOperation labels requests no route matched, so that scanners
// probing random paths cannot blow up the label cardinality.
const unmatchedOperation = "unmatched"

// httpMetrics records request counts and latencies by operation, method and
// status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers the collectors on reg, reusing collectors already
// registered under the same names (a second router on the same registry).
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	labels := []string{"operation", "method", "status"}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequestsTotal,
		Help: "HTTP requests served, by operation id (or route), method and status.",
	}, labels)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRequestDuration,
		Help:    "HTTP request latency in seconds, by operation id (or route), method and status.",
		Buckets: prometheus.DefBuckets,
	}, labels)
	var err error
	if requests, err = registerOrReuse(reg, requests); err != nil {
		return nil, fmt.Errorf("register %s: %w", MetricRequestsTotal, err)
	}
	if duration, err = registerOrReuse(reg, duration); err != nil {
		return nil, fmt.Errorf("register %s: %w", MetricRequestDuration, err)
	}
	return &httpMetrics{requests: requests, duration: duration}, nil
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// middleware observes every request after the handler returns. The operation
// label is the Huma operation id stashed by [operationIDMiddleware], else the
// chi route pattern, else "unmatched"; never the raw path.
func (m *httpMetrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		completed := false
		defer func() {
			status := ww.Status()
			if !completed {
				status = http.StatusInternalServerError // panicking; recovered further out
			} else if status == 0 {
				status = http.StatusOK
			}
			labels := prometheus.Labels{
				"operation": operationLabel(r, status),
				"method":    methodLabel(r.Method),
				"status":    strconv.Itoa(status),
			}
			m.requests.With(labels).Inc()
			m.duration.With(labels).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(ww, r)
		completed = true
	})
}

func operationLabel(r *http.Request, status int) string {
	if st := stateFrom(r.Context()); st != nil && st.operation != "" {
		return st.operation
	}
	if status == http.StatusNotFound {
		return unmatchedOperation
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" && p != "/*" {
			return p
		}
	}
	return unmatchedOperation
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// operationIDMiddleware is a Huma middleware that records the operation id
// for the metrics middleware and for logs.
func operationIDMiddleware(hctx huma.Context, next func(huma.Context)) {
	if st := stateFrom(hctx.Context()); st != nil {
		if op := hctx.Operation(); op != nil {
			st.operation = op.OperationID
		}
	}
	next(hctx)
}
