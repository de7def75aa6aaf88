package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// LogMiddleware logs every job's outcome with its id, kind, queue and attempt
// (never its args, which may hold personal data) and puts a logger carrying
// those attributes into the job's context (see Logger).
type LogMiddleware struct {
	river.MiddlewareDefaults
	logger *slog.Logger
}

var _ rivertype.WorkerMiddleware = (*LogMiddleware)(nil)

// NewLogMiddleware returns the shared worker middleware.
func NewLogMiddleware(logger *slog.Logger) *LogMiddleware {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogMiddleware{logger: logger}
}

type loggerKey struct{}

// Work implements rivertype.WorkerMiddleware.
func (m *LogMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	l := m.logger.With("job_id", job.ID, "job_kind", job.Kind, "queue", job.Queue, "attempt", job.Attempt)
	start := time.Now()
	err := doInner(context.WithValue(ctx, loggerKey{}, l))
	if err != nil {
		l.WarnContext(ctx, "job failed", "duration", time.Since(start), "error", err)
		return err
	}
	l.InfoContext(ctx, "job done", "duration", time.Since(start))
	return nil
}

// Logger returns the job-scoped logger, or slog.Default outside a job.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
