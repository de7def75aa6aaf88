package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/testenv"
)

type otherArgs struct {
	N int `json:"n"`
}

func (otherArgs) Kind() string { return "test.other" }

type blockArgs struct{}

func (blockArgs) Kind() string { return "test.block" }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func oneEach() jobs.QueueLimits {
	return jobs.QueueLimits{Default: 1, Email: 1, Webhooks: 1, Exports: 1, Analytics: 1}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"default", "email", "webhooks", "exports", "analytics"}, jobs.Queues())
	require.Equal(t, []string{"a", "b", "default"}, jobs.SortedQueues(map[string]map[string]int64{"default": nil, "b": nil, "a": nil}))
}

func TestQueueDepth(t *testing.T) {
	t.Parallel()

	t.Run("EmptyDatabaseListsEveryQueue", func(t *testing.T) {
		t.Parallel()
		depth, err := jobs.QueueDepth(t.Context(), testenv.Postgres(t))
		require.NoError(t, err)
		require.Len(t, depth, len(jobs.Queues()))
		for _, q := range jobs.Queues() {
			require.NotNil(t, depth[q], q)
			require.Empty(t, depth[q], q)
		}
	})

	t.Run("CountsPerQueueAndState", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		client, err := jobs.NewInsertOnlyClient(pool, nil)
		require.NoError(t, err)

		tx, err := pool.Begin(t.Context())
		require.NoError(t, err)
		insert := func(args river.JobArgs, opts *river.InsertOpts) {
			t.Helper()
			_, err := client.InsertTx(t.Context(), tx, args, opts)
			require.NoError(t, err)
		}
		insert(jobs.EmailSendArgs{To: "a@example.com", Template: "verify_email"}, nil)
		insert(jobs.EmailSendArgs{To: "b@example.com", Template: "verify_email"}, nil)
		insert(jobs.EmailSendArgs{To: "c@example.com", Template: "verify_email"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		insert(otherArgs{N: 1}, nil)
		insert(otherArgs{N: 2}, &river.InsertOpts{Queue: "custom"})
		insert(otherArgs{N: 3}, &river.InsertOpts{Queue: jobs.QueueWebhooks})
		// Finished jobs are not depth.
		insert(otherArgs{N: 4}, &river.InsertOpts{Queue: jobs.QueueWebhooks})
		_, err = tx.Exec(t.Context(), `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE args->>'n' = '4'`)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(t.Context()))

		depth, err := jobs.QueueDepth(t.Context(), pool)
		require.NoError(t, err)
		require.Equal(t, map[string]map[string]int64{
			jobs.QueueDefault:   {"available": 1},
			jobs.QueueEmail:     {"available": 2, "scheduled": 1},
			jobs.QueueWebhooks:  {"available": 1},
			jobs.QueueExports:   {},
			jobs.QueueAnalytics: {},
			"custom":            {"available": 1},
		}, depth)
	})

	t.Run("UncommittedJobsAreNotCounted", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		client, err := jobs.NewInsertOnlyClient(pool, nil)
		require.NoError(t, err)
		tx := beginTx(t, pool)
		_, err = client.InsertTx(t.Context(), tx, jobs.EmailSendArgs{To: "a@example.com", Template: "verify_email"}, nil)
		require.NoError(t, err)
		depth, err := jobs.QueueDepth(t.Context(), pool)
		require.NoError(t, err)
		require.Empty(t, depth[jobs.QueueEmail])
	})

	t.Run("ReportsQueryError", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := jobs.QueueDepth(ctx, testenv.Postgres(t))
		require.ErrorContains(t, err, "count river jobs")
	})
}

func TestNewWorkerClient(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	workers := func() *river.Workers {
		w := river.NewWorkers()
		river.AddWorker(w, river.WorkFunc(func(context.Context, *river.Job[otherArgs]) error { return nil }))
		return w
	}

	t.Run("Builds", func(t *testing.T) {
		t.Parallel()
		c, err := jobs.NewWorkerClient(pool, workers(), jobs.WorkerOptions{Limits: oneEach()})
		require.NoError(t, err)
		require.NotNil(t, c)
	})

	t.Run("RejectsNilWorkers", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.NewWorkerClient(pool, nil, jobs.WorkerOptions{Limits: oneEach()})
		require.ErrorContains(t, err, "workers are required")
	})

	t.Run("RejectsQueueLimitBelowOne", func(t *testing.T) {
		t.Parallel()
		limits := oneEach()
		limits.Exports = 0
		_, err := jobs.NewWorkerClient(pool, workers(), jobs.WorkerOptions{Limits: limits})
		require.ErrorContains(t, err, `queue "exports" needs at least one worker`)

		_, err = jobs.NewWorkerClient(pool, workers(), jobs.WorkerOptions{})
		require.ErrorContains(t, err, "needs at least one worker")
	})

	t.Run("ReportsRiverConfigErrors", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.NewWorkerClient(pool, workers(), jobs.WorkerOptions{Limits: oneEach(), FetchPollInterval: time.Nanosecond})
		require.ErrorContains(t, err, "create river worker client")
	})

	t.Run("RegistersPeriodicJobs", func(t *testing.T) {
		t.Parallel()
		periodic, err := jobs.Periodic(
			[]jobs.PeriodicJob{periodicJob("identity.session_cleanup")},
			[]jobs.PeriodicJob{periodicJob("compliance.retention_sweep")},
		)
		require.NoError(t, err)
		w := workers()
		river.AddWorker(w, river.WorkFunc(func(context.Context, *river.Job[sweepArgs]) error { return nil }))
		c, err := jobs.NewWorkerClient(pool, w, jobs.WorkerOptions{Limits: oneEach(), Periodic: periodic})
		require.NoError(t, err)
		require.True(t, c.PeriodicJobs().RemoveByID("identity.session_cleanup"))
		require.True(t, c.PeriodicJobs().RemoveByID("compliance.retention_sweep"))
		require.False(t, c.PeriodicJobs().RemoveByID("unknown"))
	})
}

// blockingWorker records when its job starts and when its context ends.
type blockingWorker struct {
	started   chan int64
	cancelled chan time.Time
}

func newBlockingWorker() *blockingWorker {
	return &blockingWorker{started: make(chan int64, 1), cancelled: make(chan time.Time, 1)}
}

func (b *blockingWorker) workers() *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, river.WorkFunc(func(ctx context.Context, job *river.Job[blockArgs]) error {
		b.started <- job.ID
		<-ctx.Done()
		b.cancelled <- time.Now()
		return ctx.Err()
	}))
	return w
}

// startBlocked starts c, inserts one blocking job and waits until it runs.
func (b *blockingWorker) startBlocked(t *testing.T, ctx context.Context, c *jobs.Client) int64 {
	t.Helper()
	require.NoError(t, c.Start(ctx))
	_, err := c.Insert(t.Context(), blockArgs{}, nil)
	require.NoError(t, err)
	select {
	case id := <-b.started:
		return id
	case <-time.After(20 * time.Second):
		require.FailNow(t, "job never started")
		return 0
	}
}

func jobState(t *testing.T, pool *pgxpool.Pool, id int64) rivertype.JobState {
	t.Helper()
	var state string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT state::text FROM river_job WHERE id = $1`, id).Scan(&state))
	return rivertype.JobState(state)
}

func TestStop(t *testing.T) {
	t.Parallel()

	t.Run("CancelsJobAfterSoftTimeout", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		bw := newBlockingWorker()
		c, err := jobs.NewWorkerClient(pool, bw.workers(), jobs.WorkerOptions{Limits: oneEach(), FetchPollInterval: 100 * time.Millisecond, Logger: quiet()})
		require.NoError(t, err)
		id := bw.startBlocked(t, t.Context(), c)

		const soft, hard = 200 * time.Millisecond, 5 * time.Second
		begin := time.Now()
		done := make(chan error, 1)
		go func() { done <- jobs.Stop(c, soft, hard) }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(soft + hard + 5*time.Second):
			require.FailNow(t, "Stop hung")
		}
		select {
		case at := <-bw.cancelled:
			require.GreaterOrEqual(t, at.Sub(begin), soft, "the job's context ends only after the soft timeout")
		default:
			require.FailNow(t, "the job's context was never cancelled")
		}
		select {
		case <-c.Stopped():
		default:
			require.FailNow(t, "client not stopped after Stop returned")
		}
		// The interrupted job is kept to be worked again, not lost or completed.
		require.Contains(t, []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateRetryable}, jobState(t, pool, id))
	})

	t.Run("ReturnsWhenIdle", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		bw := newBlockingWorker()
		c, err := jobs.NewWorkerClient(pool, bw.workers(), jobs.WorkerOptions{Limits: oneEach(), Logger: quiet()})
		require.NoError(t, err)
		require.NoError(t, c.Start(t.Context()))
		require.NoError(t, jobs.Stop(c, 5*time.Second, 5*time.Second))
		<-c.Stopped()
	})

	t.Run("ReportsHardTimeout", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		w := river.NewWorkers()
		river.AddWorker(w, river.WorkFunc(func(context.Context, *river.Job[blockArgs]) error {
			started <- struct{}{}
			<-release // ignores its context
			return nil
		}))
		c, err := jobs.NewWorkerClient(pool, w, jobs.WorkerOptions{Limits: oneEach(), FetchPollInterval: 100 * time.Millisecond, Logger: quiet()})
		require.NoError(t, err)
		require.NoError(t, c.Start(t.Context()))
		_, err = c.Insert(t.Context(), blockArgs{}, nil)
		require.NoError(t, err)
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			require.FailNow(t, "job never started")
		}
		err = jobs.Stop(c, 100*time.Millisecond, 200*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "after cancelling jobs")
		close(release)
		select {
		case <-c.Stopped():
		case <-time.After(10 * time.Second):
			require.FailNow(t, "client did not stop once the job returned")
		}
	})
}

func TestWorkerOptions_SoftStopTimeout(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	bw := newBlockingWorker()
	const soft = 300 * time.Millisecond
	c, err := jobs.NewWorkerClient(pool, bw.workers(), jobs.WorkerOptions{
		Limits: oneEach(), FetchPollInterval: 100 * time.Millisecond, SoftStopTimeout: soft, Logger: quiet(),
	})
	require.NoError(t, err)
	startCtx, stop := context.WithCancel(t.Context())
	id := bw.startBlocked(t, startCtx, c)

	// Cancelling Start's context (a SIGTERM in cmd/worker) begins a soft
	// stop: the running job keeps its context until the timeout.
	begin := time.Now()
	stop()
	select {
	case at := <-bw.cancelled:
		require.GreaterOrEqual(t, at.Sub(begin), soft)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "soft stop timeout never cancelled the job")
	}
	select {
	case <-c.Stopped():
	case <-time.After(10 * time.Second):
		require.FailNow(t, "client did not stop")
	}
	require.Equal(t, rivertype.JobStateAvailable, jobState(t, pool, id), "a soft-stopped job is made available again")
}
