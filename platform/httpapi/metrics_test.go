package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// counterValue returns the authos_http_requests_total sample with the given
// labels, or -1 when absent.
func counterValue(t *testing.T, reg *prometheus.Registry, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != MetricRequestsTotal {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelsMatch(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return len(got) == len(want)
}

func TestMetrics(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	b := setup(t, Options{Metrics: reg})
	b.do(t, newJSONRequest(http.MethodPost, "/widgets", `{"name": "abc", "count": 2}`))
	b.do(t, newJSONRequest(http.MethodPost, "/widgets", `{"name": "abc", "count": 2}`))
	b.do(t, httptest.NewRequest(http.MethodGet, "/me", nil))
	b.do(t, httptest.NewRequest(http.MethodGet, "/no/such/path/12345", nil))
	b.do(t, httptest.NewRequest(http.MethodGet, "/docs", nil))
	b.do(t, httptest.NewRequest(http.MethodGet, "/panic", nil))
	b.do(t, httptest.NewRequest("BREW", "/widgets", nil))

	require.InDelta(t, 2, counterValue(t, reg, map[string]string{
		"operation": "create-widget", "method": "POST", "status": "201"}), 0)
	require.InDelta(t, 1, counterValue(t, reg, map[string]string{
		"operation": "get-me", "method": "GET", "status": "401"}), 0)
	require.InDelta(t, 1, counterValue(t, reg, map[string]string{
		"operation": "unmatched", "method": "GET", "status": "404"}), 0)
	require.InDelta(t, 1, counterValue(t, reg, map[string]string{
		"operation": "/docs", "method": "GET", "status": "200"}), 0)
	require.InDelta(t, 1, counterValue(t, reg, map[string]string{
		"operation": "panic-op", "method": "GET", "status": "500"}), 0)
	require.InDelta(t, 1, counterValue(t, reg, map[string]string{
		"operation": "unmatched", "method": "OTHER", "status": "405"}), 0)

	families, err := reg.Gather()
	require.NoError(t, err)
	var sawHistogram bool
	for _, f := range families {
		require.NotContains(t, f.String(), "/no/such/path")
		if f.GetName() == MetricRequestDuration {
			sawHistogram = true
		}
	}
	require.True(t, sawHistogram)

	t.Run("SecondRouterOnSameRegistry", func(t *testing.T) {
		t.Parallel()
		b2 := setup(t, Options{Metrics: reg})
		b2.do(t, httptest.NewRequest(http.MethodGet, "/request-info", nil))
		require.InDelta(t, 1, counterValue(t, reg, map[string]string{
			"operation": "request-info", "method": "GET", "status": "200"}), 0)
		require.NotContains(t, b2.logs.String(), "metrics disabled")
	})
}
