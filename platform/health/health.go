// Package health implements liveness and readiness for the API and worker
// processes (spec §18). Liveness never touches a dependency; readiness checks
// PostgreSQL, Redis and the schema version concurrently, each bounded by a
// short timeout so a dead database turns readiness red within two seconds.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Check is one readiness probe; it returns nil when healthy.
type Check struct {
	// Name is the key in the readiness answer ("database", "redis", "schema").
	Name string
	// OK and Failed are the values reported for each outcome
	// (e.g. "connected"/"disconnected").
	OK, Failed string
	Probe      func(ctx context.Context) error
}

// Checker runs readiness checks.
type Checker struct {
	version string
	timeout time.Duration
	checks  []Check
}

// NewChecker returns a checker; timeout bounds each probe (default 1s).
func NewChecker(version string, timeout time.Duration, checks ...Check) *Checker {
	if timeout <= 0 {
		timeout = time.Second
	}
	return &Checker{version: version, timeout: timeout, checks: checks}
}

// Result is a readiness outcome: Ready is true when every check passed,
// Components maps each check name to its OK or Failed value, and Errors
// holds the failed probes' errors (for logs, never for the response body).
type Result struct {
	Ready      bool
	Components map[string]string
	Errors     map[string]error
}

// Ready runs every check concurrently and returns within about the timeout
// even when a probe ignores its context: such a probe is reported failed
// with context.DeadlineExceeded (or the caller's ctx error) and left to
// finish in the background. A probe that panics is reported failed too.
func (c *Checker) Ready(ctx context.Context) Result {
	res := Result{Ready: true, Components: map[string]string{}, Errors: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range c.checks {
		wg.Go(func() {
			err := c.probe(ctx, ch)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Ready = false
				res.Components[ch.Name] = ch.Failed
				res.Errors[ch.Name] = err
				return
			}
			res.Components[ch.Name] = ch.OK
		})
	}
	wg.Wait()
	return res
}

// probe runs one check bounded by the timeout.
func (c *Checker) probe(ctx context.Context, ch Check) error {
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: a late probe never blocks
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("probe %s panicked: %v", ch.Name, p)
			}
		}()
		if ch.Probe == nil {
			done <- fmt.Errorf("probe %s: no probe function", ch.Name)
			return
		}
		done <- ch.Probe(pctx)
	}()
	select {
	case err := <-done:
		return err
	case <-pctx.Done():
		return fmt.Errorf("probe %s: %w", ch.Name, pctx.Err())
	}
}

// Version returns the version reported by the health endpoints.
func (c *Checker) Version() string { return c.version }

// Body renders a readiness result as the spec's JSON object.
func (c *Checker) Body(r Result) map[string]any {
	body := map[string]any{"version": c.version}
	for k, v := range r.Components {
		body[k] = v
	}
	body["status"] = "ready"
	if !r.Ready {
		body["status"] = "unhealthy"
	}
	return body
}

// LiveHandler answers 200 with an empty body, touching nothing.
func LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

// ReadyHandler answers 200 or 503 with the readiness body (plain net/http,
// for the worker process).
func (c *Checker) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := c.Ready(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !res.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(c.Body(res))
	})
}
