package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// recorder collects one worker's outcomes. It is not shared between
// goroutines; recorders are merged after the phase.
type recorder struct {
	latencies      []time.Duration // successful requests only
	failures       map[string]int64
	maxLag         time.Duration // largest delay between due time and send (open model)
	sampleErr      string        // first transport or body error seen
	repairs        int64
	repairFailures int64
	lastRepairErr  error
}

// newRecorder returns a recorder with room for about capacity samples.
func newRecorder(capacity int) *recorder {
	return &recorder{latencies: make([]time.Duration, 0, capacity), failures: map[string]int64{}}
}

// record adds one completed request. latency runs from the due time to the
// end of the response; lag is how late the request was sent.
func (r *recorder) record(res result, latency, lag time.Duration) {
	r.maxLag = max(r.maxLag, lag)
	if res.failure != "" {
		r.failures[res.failure]++
		if r.sampleErr == "" && res.detail != "" {
			r.sampleErr = res.detail
		}
		return
	}
	r.latencies = append(r.latencies, latency)
}

// latencySummary holds latency statistics in milliseconds with microsecond
// resolution.
type latencySummary struct {
	// Min is the fastest successful request.
	Min float64 `json:"min"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// P50 is the median (nearest rank).
	P50 float64 `json:"p50"`
	// P95 is the 95th percentile (nearest rank).
	P95 float64 `json:"p95"`
	// P99 is the 99th percentile (nearest rank).
	P99 float64 `json:"p99"`
	// Max is the slowest successful request.
	Max float64 `json:"max"`
}

// summary is the report of a measured phase.
type summary struct {
	// Scenario is the -scenario value.
	Scenario string `json:"scenario"`
	// BaseURL is the server under test.
	BaseURL string `json:"base_url"`
	// Concurrency is the number of workers.
	Concurrency int `json:"concurrency"`
	// Users is the number of sessions logged in during setup (0 when the
	// scenario needs none).
	Users int `json:"users"`
	// TargetRate is the open-model arrival rate; 0 means closed loop.
	TargetRate float64 `json:"target_rate_rps"`
	// DurationSeconds is the wall time of the measured phase.
	DurationSeconds float64 `json:"duration_seconds"`
	// Requests counts completed requests, successful or not.
	Requests int64 `json:"requests"`
	// Succeeded counts 2xx responses with a valid body.
	Succeeded int64 `json:"succeeded"`
	// Errors counts failed requests (Requests - Succeeded).
	Errors int64 `json:"errors"`
	// ErrorsByStatus splits Errors by status code, or "transport" (no
	// response: refused, timed out) and "invalid_body" (2xx without the
	// promised tokens).
	ErrorsByStatus map[string]int64 `json:"errors_by_status"`
	// SampleError is the text of one transport or invalid-body error, to
	// tell a refused connection from a timeout.
	SampleError string `json:"sample_error,omitempty"`
	// Dropped counts open-model requests that were due but never sent
	// because the server fell more than 10 s behind the schedule.
	Dropped int64 `json:"dropped"`
	// ErrorRate is (Errors + Dropped) / (Requests + Dropped): the share of
	// planned requests that did not succeed.
	ErrorRate float64 `json:"error_rate"`
	// Throughput is Requests per second of DurationSeconds.
	Throughput float64 `json:"throughput_rps"`
	// Latency covers successful requests only.
	Latency latencySummary `json:"latency_ms"`
	// MaxSendLagMS is the largest delay between a request's due time and its
	// send in open-model runs; a large value means -c is too small for -rate
	// (the delay is included in the latencies).
	MaxSendLagMS float64 `json:"max_send_lag_ms"`
	// Relogins counts unmeasured re-logins after failed refreshes.
	Relogins int64 `json:"relogins"`
	// ReloginFailures counts re-logins that failed.
	ReloginFailures int64 `json:"relogin_failures"`
	// Interrupted is set when the run was stopped early (Ctrl-C).
	Interrupted bool `json:"interrupted"`

	lastReloginErr error
}

// summarize merges the recorders of the measured phase.
func summarize(cfg config, res phaseResult) summary {
	s := summary{
		Scenario:        cfg.scenario,
		BaseURL:         cfg.baseURL.String(),
		Concurrency:     cfg.concurrency,
		TargetRate:      cfg.rate,
		DurationSeconds: res.elapsed.Seconds(),
		ErrorsByStatus:  map[string]int64{},
	}
	if cfg.scenario == scenarioAuthenticatedRead || cfg.scenario == scenarioRefresh {
		s.Users = cfg.users
	}
	total := 0
	for _, r := range res.recorders {
		total += len(r.latencies)
	}
	all := make([]time.Duration, 0, total)
	var maxLag time.Duration
	for _, r := range res.recorders {
		all = append(all, r.latencies...)
		for k, v := range r.failures {
			s.ErrorsByStatus[k] += v
			s.Errors += v
		}
		maxLag = max(maxLag, r.maxLag)
		if s.SampleError == "" {
			s.SampleError = r.sampleErr
		}
		s.Relogins += r.repairs
		s.ReloginFailures += r.repairFailures
		if r.lastRepairErr != nil {
			s.lastReloginErr = r.lastRepairErr
		}
	}
	slices.Sort(all)
	s.Succeeded = int64(len(all))
	s.Requests = s.Succeeded + s.Errors
	s.Dropped = res.dropped
	if planned := s.Requests + s.Dropped; planned > 0 {
		s.ErrorRate = float64(s.Errors+s.Dropped) / float64(planned)
	}
	if res.elapsed > 0 {
		s.Throughput = float64(s.Requests) / res.elapsed.Seconds()
	}
	if cfg.rate > 0 {
		s.MaxSendLagMS = toMillis(maxLag)
	}
	s.Latency = latencyOf(all)
	return s
}

// latencyOf computes the statistics of sorted samples.
func latencyOf(sorted []time.Duration) latencySummary {
	if len(sorted) == 0 {
		return latencySummary{}
	}
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return latencySummary{
		Min:  toMillis(sorted[0]),
		Mean: toMillis(sum / time.Duration(len(sorted))),
		P50:  toMillis(percentile(sorted, 50)),
		P95:  toMillis(percentile(sorted, 95)),
		P99:  toMillis(percentile(sorted, 99)),
		Max:  toMillis(sorted[len(sorted)-1]),
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples: the smallest sample that at least p% of samples are less
// than or equal to.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// toMillis converts d to milliseconds rounded to the microsecond.
func toMillis(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond).Microseconds()) / 1000
}

// verdict returns errNoRequests or errThresholdExceeded when the run failed.
func (s summary) verdict() error {
	switch {
	case s.Requests == 0:
		return errNoRequests
	case s.ErrorRate > maxErrorRate:
		return fmt.Errorf("%w: %.2f%% of %d requests failed or were dropped (limit %.0f%%)",
			errThresholdExceeded, 100*s.ErrorRate, s.Requests+s.Dropped, 100*maxErrorRate)
	default:
		return nil
	}
}

// writeJSON writes s as indented JSON.
func (s summary) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	return nil
}

// writeText writes s as an aligned human-readable table.
func (s summary) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	model := "closed loop"
	if s.TargetRate > 0 {
		model = fmt.Sprintf("open model, target %g req/s, max send lag %.3fms", s.TargetRate, s.MaxSendLagMS)
	}
	fmt.Fprintf(tw, "scenario\t%s\n", s.Scenario)
	fmt.Fprintf(tw, "base url\t%s\n", s.BaseURL)
	fmt.Fprintf(tw, "concurrency\t%d (%s)\n", s.Concurrency, model)
	if s.Users > 0 {
		fmt.Fprintf(tw, "sessions\t%d\n", s.Users)
	}
	interrupted := ""
	if s.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(tw, "duration\t%.3fs%s\n", s.DurationSeconds, interrupted)
	fmt.Fprintf(tw, "requests\t%d (ok %d, errors %d, failure rate %.2f%%)\n", s.Requests, s.Succeeded, s.Errors, 100*s.ErrorRate)
	if len(s.ErrorsByStatus) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.ErrorsByStatus)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, s.ErrorsByStatus[k]))
		}
		fmt.Fprintf(tw, "errors\t%s\n", strings.Join(parts, ", "))
	}
	if s.Dropped > 0 {
		fmt.Fprintf(tw, "dropped\t%d (due but not sent: the server fell more than %s behind -rate)\n", s.Dropped, requestTimeout)
	}
	if s.SampleError != "" {
		fmt.Fprintf(tw, "sample error\t%s\n", s.SampleError)
	}
	if s.Relogins > 0 {
		fmt.Fprintf(tw, "relogins\t%d (failed %d)\n", s.Relogins, s.ReloginFailures)
		if s.lastReloginErr != nil {
			fmt.Fprintf(tw, "last relogin error\t%v\n", s.lastReloginErr)
		}
	}
	fmt.Fprintf(tw, "throughput\t%.1f req/s\n", s.Throughput)
	l := s.Latency
	fmt.Fprintf(tw, "latency (ok)\tp50 %.3fms  p95 %.3fms  p99 %.3fms  max %.3fms  (min %.3fms, mean %.3fms)\n",
		l.P50, l.P95, l.P99, l.Max, l.Min, l.Mean)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
