// Command loadtest drives one load scenario against a locally running AuthOS
// API and prints throughput, errors by status code and latency percentiles.
//
//	go run ./loadtest -scenario authenticated-read -email a@example.com -password secret -rate 5000 -d 30s
//
// It sends load to loopback addresses only (127.0.0.0/8, ::1, localhost): the
// base URL is checked when the flags are parsed, and every connection is
// checked again after name resolution, so it can never load another machine.
// Runs are bounded (at most 10 minutes and 10 million requests), stop by
// themselves, and Ctrl-C ends a run early while still printing the summary.
//
// Exit status: 0 when the run completed with an error rate of at most 1%, 1
// when more than 1% of the requests failed or none completed, 2 for bad flags
// or a failed setup (for example a login that the server refused).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// errThresholdExceeded is returned by run when more than maxErrorRate of the
// measured requests failed.
var errThresholdExceeded = errors.New("error rate above threshold")

// errNoRequests is returned by run when no request completed in the measured
// phase, so there is nothing to report.
var errNoRequests = errors.New("no requests completed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C, restore the default handling so a second one
		// kills the process even if draining takes a while.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps the error returned by run to the process exit status
// documented in the package comment.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errThresholdExceeded), errors.Is(err, errNoRequests):
		return 1
	default:
		return 2
	}
}

// run parses args, performs the unmeasured setup and warmup, runs the
// measured phase and writes the summary to stdout. Progress goes to stderr.
// Cancelling ctx ends the run early; the summary of what was measured so far
// is still written.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}

	httpClient := newHTTPClient(cfg.concurrency)
	defer httpClient.CloseIdleConnections()
	api := &apiClient{http: httpClient, baseURL: cfg.baseURL.String()}

	sc, err := newScenario(cfg, api)
	if err != nil {
		return err
	}

	setupStart := time.Now()
	if err := sc.setup(ctx); err != nil {
		return fmt.Errorf("setup %s: %w", cfg.scenario, err)
	}
	fmt.Fprintf(stderr, "setup: %s done in %s\n", cfg.scenario, time.Since(setupStart).Round(time.Millisecond))

	if cfg.warmup > 0 {
		fmt.Fprintf(stderr, "warmup: %s (discarded)\n", cfg.warmup)
		runPhase(ctx, sc, phase{
			concurrency: cfg.concurrency,
			duration:    cfg.warmup,
			limit:       maxRequests,
			rate:        cfg.rate,
			lateGrace:   requestTimeout,
		})
	}

	fmt.Fprintf(stderr, "measuring: %s\n", describeBounds(cfg))
	res := runPhase(ctx, sc, phase{
		concurrency: cfg.concurrency,
		duration:    cfg.duration,
		limit:       cfg.requests,
		rate:        cfg.rate,
		lateGrace:   requestTimeout,
	})

	sum := summarize(cfg, res)
	sum.Interrupted = ctx.Err() != nil
	if cfg.json {
		err = sum.writeJSON(stdout)
	} else {
		err = sum.writeText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return sum.verdict()
}

// describeBounds renders the stop conditions of the measured phase for the
// progress line.
func describeBounds(cfg config) string {
	s := fmt.Sprintf("up to %s", cfg.duration)
	if cfg.requests < maxRequests {
		s += fmt.Sprintf(" or %d requests", cfg.requests)
	}
	if cfg.rate > 0 {
		return s + fmt.Sprintf(", open model at %g req/s across %d workers", cfg.rate, cfg.concurrency)
	}
	return s + fmt.Sprintf(", closed loop with %d workers", cfg.concurrency)
}
