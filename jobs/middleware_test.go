package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/testenv"
)

type secretArgs struct {
	Email string `json:"email"`
}

func (secretArgs) Kind() string { return "test.secret" }

// logBuffer collects JSON log records; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range bytes.Lines([]byte(l.String())) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		out = append(out, rec)
	}
	return out
}

func (l *logBuffer) find(t *testing.T, msg string) map[string]any {
	t.Helper()
	for _, rec := range l.records(t) {
		if rec["msg"] == msg {
			return rec
		}
	}
	require.FailNow(t, "no log record", "%q in:\n%s", msg, l.String())
	return nil
}

func TestLogMiddleware(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	const secret = "ann.private@example.com"

	work := func(t *testing.T, logs *logBuffer, fn func(ctx context.Context, job *river.Job[secretArgs]) error) (*rivertest.WorkResult, error) {
		t.Helper()
		logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg := &river.Config{Middleware: []rivertype.Middleware{jobs.NewLogMiddleware(logger)}}
		w := rivertest.NewWorker(t, riverpgxv5.New(pool), cfg, river.WorkFunc(fn))
		return w.Work(t.Context(), t, beginTx(t, pool), secretArgs{Email: secret}, nil)
	}

	t.Run("PutsJobLoggerInContext", func(t *testing.T) {
		t.Parallel()
		logs := &logBuffer{}
		var inJob *slog.Logger
		res, err := work(t, logs, func(ctx context.Context, _ *river.Job[secretArgs]) error {
			inJob = jobs.Logger(ctx)
			inJob.InfoContext(ctx, "inside job")
			return nil
		})
		require.NoError(t, err)
		require.NotSame(t, slog.Default(), inJob)
		inside := logs.find(t, "inside job")
		require.InDelta(t, float64(res.Job.ID), inside["job_id"], 0)
		require.Equal(t, "test.secret", inside["job_kind"])
		require.Equal(t, river.QueueDefault, inside["queue"])
		require.InDelta(t, 1, inside["attempt"], 0)

		done := logs.find(t, "job done")
		require.InDelta(t, float64(res.Job.ID), done["job_id"], 0)
		require.Contains(t, done, "duration")
		require.NotContains(t, logs.String(), secret)
	})

	t.Run("LogsFailureWithoutArgs", func(t *testing.T) {
		t.Parallel()
		logs := &logBuffer{}
		res, err := work(t, logs, func(context.Context, *river.Job[secretArgs]) error {
			return errors.New("smtp unavailable")
		})
		require.ErrorContains(t, err, "smtp unavailable", "the error reaches River unchanged")
		require.Equal(t, river.EventKindJobFailed, res.EventKind)
		require.Len(t, res.Job.Errors, 1)
		require.Equal(t, "smtp unavailable", res.Job.Errors[0].Error)

		failed := logs.find(t, "job failed")
		require.Equal(t, "WARN", failed["level"])
		require.Equal(t, "smtp unavailable", failed["error"])
		require.InDelta(t, float64(res.Job.ID), failed["job_id"], 0)
		require.Equal(t, "test.secret", failed["job_kind"])
		require.NotContains(t, logs.String(), secret, "job args are never logged")
	})

	t.Run("NilLoggerUsesDefault", func(t *testing.T) {
		t.Parallel()
		cfg := &river.Config{Middleware: []rivertype.Middleware{jobs.NewLogMiddleware(nil)}}
		var inJob *slog.Logger
		w := rivertest.NewWorker(t, riverpgxv5.New(pool), cfg, river.WorkFunc(func(ctx context.Context, _ *river.Job[secretArgs]) error {
			inJob = jobs.Logger(ctx)
			return nil
		}))
		res, err := w.Work(t.Context(), t, beginTx(t, pool), secretArgs{Email: secret}, nil)
		require.NoError(t, err)
		require.Equal(t, rivertype.JobStateCompleted, res.Job.State)
		require.NotNil(t, inJob)
		require.NotSame(t, slog.Default(), inJob, "a job logger derived from slog.Default")
	})
}

func TestLogger(t *testing.T) {
	t.Parallel()
	require.Same(t, slog.Default(), jobs.Logger(t.Context()))
}
