package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Queue names. Every job kind declares one of these in its InsertOpts.
const (
	QueueDefault   = river.QueueDefault
	QueueEmail     = "email"
	QueueWebhooks  = "webhooks"
	QueueExports   = "exports"
	QueueAnalytics = "analytics"
)

// Queues lists every queue, for metrics and dashboards.
func Queues() []string {
	return []string{QueueDefault, QueueEmail, QueueWebhooks, QueueExports, QueueAnalytics}
}

// Client is the River client type used throughout AuthOS.
type Client = river.Client[pgx.Tx]

// NewInsertOnlyClient builds the API process's client: it inserts jobs
// (normally with InsertTx inside a business transaction) and never works them.
func NewInsertOnlyClient(pool *pgxpool.Pool, logger *slog.Logger) (*Client, error) {
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("create river insert client: %w", err)
	}
	return c, nil
}

// QueueLimits are the per-queue concurrency limits of a worker process.
type QueueLimits struct {
	Default, Email, Webhooks, Exports, Analytics int
}

func (l QueueLimits) config() map[string]river.QueueConfig {
	return map[string]river.QueueConfig{
		QueueDefault:   {MaxWorkers: l.Default},
		QueueEmail:     {MaxWorkers: l.Email},
		QueueWebhooks:  {MaxWorkers: l.Webhooks},
		QueueExports:   {MaxWorkers: l.Exports},
		QueueAnalytics: {MaxWorkers: l.Analytics},
	}
}

// WorkerOptions configure the working client.
type WorkerOptions struct {
	Limits   QueueLimits
	Periodic []*river.PeriodicJob
	Logger   *slog.Logger
	// SoftStopTimeout is River's soft stop timeout: once a stop begins
	// (Stop, or cancelling the context passed to Start) running jobs get
	// this long to finish before their contexts are cancelled. Zero keeps
	// River's default, in which cancelling Start's context cancels running
	// jobs at once and Stop waits indefinitely (use jobs.Stop to bound it).
	SoftStopTimeout time.Duration
	// FetchPollInterval overrides River's poll interval (tests use a short one).
	FetchPollInterval time.Duration
	Middleware        []rivertype.Middleware
}

// NewWorkerClient builds cmd/worker's client with every queue and its limit.
func NewWorkerClient(pool *pgxpool.Pool, workers *river.Workers, o WorkerOptions) (*Client, error) {
	if workers == nil {
		return nil, errors.New("create river worker client: workers are required")
	}
	mw := append([]rivertype.Middleware{NewLogMiddleware(o.Logger)}, o.Middleware...)
	cfg := &river.Config{
		Logger:            o.Logger,
		Queues:            o.Limits.config(),
		Workers:           workers,
		PeriodicJobs:      o.Periodic,
		Middleware:        mw,
		JobTimeout:        5 * time.Minute,
		FetchPollInterval: o.FetchPollInterval,
		SoftStopTimeout:   o.SoftStopTimeout,
	}
	for name, q := range cfg.Queues {
		if q.MaxWorkers < 1 {
			return nil, fmt.Errorf("create river worker client: queue %q needs at least one worker", name)
		}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("create river worker client: %w", err)
	}
	return c, nil
}

// Stop stops a worker client gracefully: it stops fetching and waits up to
// soft for running jobs, then cancels their contexts and waits up to hard
// more. Jobs cancelled this way are retried later by River, never lost.
func Stop(c *Client, soft, hard time.Duration) error {
	softCtx, cancel := context.WithTimeout(context.Background(), soft)
	defer cancel()
	err := c.Stop(softCtx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop river client: %w", err)
	}
	hardCtx, cancelHard := context.WithTimeout(context.Background(), hard)
	defer cancelHard()
	if err := c.StopAndCancel(hardCtx); err != nil {
		return fmt.Errorf("stop river client after cancelling jobs: %w", err)
	}
	return nil
}

// PeriodicJob is one row of the periodic-job table. Modules return these
// from PeriodicJobs(); cmd/worker merges them with Periodic. Jobs must be
// idempotent: scheduling is approximate and runs again after a leader change.
type PeriodicJob struct {
	// ID is unique across the table; River uses it to track the schedule.
	ID         string
	Schedule   river.PeriodicSchedule
	Construct  river.PeriodicJobConstructor
	RunOnStart bool
}

// Periodic merges the modules' periodic-job tables into River's form,
// refusing empty and duplicate ids.
func Periodic(tables ...[]PeriodicJob) ([]*river.PeriodicJob, error) {
	seen := map[string]bool{}
	var out []*river.PeriodicJob
	for _, table := range tables {
		for _, j := range table {
			switch {
			case j.ID == "":
				return nil, errors.New("periodic job without id")
			case seen[j.ID]:
				return nil, fmt.Errorf("periodic job id %q declared twice", j.ID)
			case j.Schedule == nil || j.Construct == nil:
				return nil, fmt.Errorf("periodic job %q needs a schedule and a constructor", j.ID)
			}
			seen[j.ID] = true
			out = append(out, river.NewPeriodicJob(j.Schedule, j.Construct, &river.PeriodicJobOpts{ID: j.ID, RunOnStart: j.RunOnStart}))
		}
	}
	return out, nil
}

// QueueDepth counts available and scheduled jobs per queue, for metrics and
// the operations status endpoint.
func QueueDepth(ctx context.Context, pool *pgxpool.Pool) (map[string]map[string]int64, error) {
	rows, err := pool.Query(ctx, `
		SELECT queue, state::text, count(*)
		FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running')
		GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("count river jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for _, q := range Queues() {
		out[q] = map[string]int64{}
	}
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			return nil, err
		}
		if out[queue] == nil {
			out[queue] = map[string]int64{}
		}
		out[queue][state] = n
	}
	return out, rows.Err()
}

// SortedQueues returns the queue names of a depth map in stable order.
func SortedQueues(depth map[string]map[string]int64) []string {
	return slices.Sorted(maps.Keys(depth))
}
