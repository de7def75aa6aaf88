package identity

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
)

// Periodic OAuth jobs (spec §1.13). Both are idempotent sweeps over every
// organization, as periodic jobs must be.
const (
	// refreshProviderTokensInterval equals the refresh horizon: every run
	// refreshes what would expire before the next one.
	refreshProviderTokensInterval = time.Hour
	purgeExpiredFlowsInterval     = 10 * time.Minute
)

// RefreshProviderTokensArgs is the periodic refresh of the Google and
// Microsoft tokens of service identities that expire within the hour. It
// names no organization: one run covers every organization.
type RefreshProviderTokensArgs struct{}

// Kind implements river.JobArgs. Never rename it.
func (RefreshProviderTokensArgs) Kind() string { return "identity.refresh_provider_tokens" }

// InsertOpts puts the refresh on the default queue. A failed run is
// retried a few times; the next scheduled run catches up anyway.
func (RefreshProviderTokensArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 3}
}

// RefreshProviderTokensWorker works RefreshProviderTokensArgs with
// Service.RefreshProviderTokens.
type RefreshProviderTokensWorker struct {
	river.WorkerDefaults[RefreshProviderTokensArgs]
	svc *Service
}

var _ river.Worker[RefreshProviderTokensArgs] = (*RefreshProviderTokensWorker)(nil)

// NewRefreshProviderTokensWorker returns the refresh's worker over svc
// (Module.Service of the worker process).
func NewRefreshProviderTokensWorker(svc *Service) *RefreshProviderTokensWorker {
	return &RefreshProviderTokensWorker{svc: svc}
}

// Timeout bounds one run: a bounded batch of provider calls, one at a
// time, each bounded by providerRefreshTimeout in the worst case.
func (w *RefreshProviderTokensWorker) Timeout(*river.Job[RefreshProviderTokensArgs]) time.Duration {
	return 15 * time.Minute
}

// Work implements river.Worker. Failures of single identities are logged
// and counted, never fail the job.
func (w *RefreshProviderTokensWorker) Work(ctx context.Context, _ *river.Job[RefreshProviderTokensArgs]) error {
	if w.svc == nil {
		return river.JobCancel(errors.New("refresh provider tokens: worker has no service"))
	}
	st, err := w.svc.RefreshProviderTokens(ctx)
	if st != (ProviderRefreshStats{}) {
		jobs.Logger(ctx).InfoContext(ctx, "provider tokens refreshed", "refreshed", st.Refreshed, "revoked", st.Revoked, "failed", st.Failed)
	}
	return err
}

// PurgeExpiredFlowsArgs is the periodic cleanup of expired OAuth states and
// device codes.
type PurgeExpiredFlowsArgs struct{}

// Kind implements river.JobArgs. Never rename it.
func (PurgeExpiredFlowsArgs) Kind() string { return "identity.purge_expired_flows" }

// InsertOpts puts the cleanup on the default queue.
func (PurgeExpiredFlowsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 3}
}

// PurgeExpiredFlowsWorker works PurgeExpiredFlowsArgs with
// Service.PurgeExpiredFlows.
type PurgeExpiredFlowsWorker struct {
	river.WorkerDefaults[PurgeExpiredFlowsArgs]
	svc *Service
}

var _ river.Worker[PurgeExpiredFlowsArgs] = (*PurgeExpiredFlowsWorker)(nil)

// NewPurgeExpiredFlowsWorker returns the cleanup's worker over svc.
func NewPurgeExpiredFlowsWorker(svc *Service) *PurgeExpiredFlowsWorker {
	return &PurgeExpiredFlowsWorker{svc: svc}
}

// Work implements river.Worker.
func (w *PurgeExpiredFlowsWorker) Work(ctx context.Context, _ *river.Job[PurgeExpiredFlowsArgs]) error {
	if w.svc == nil {
		return river.JobCancel(errors.New("purge expired flows: worker has no service"))
	}
	n, err := w.svc.PurgeExpiredFlows(ctx)
	if n > 0 {
		jobs.Logger(ctx).InfoContext(ctx, "expired oauth states and device codes purged", "count", n)
	}
	return err
}

// oauthPeriodicJobs are the module's rows of the periodic-job table.
func oauthPeriodicJobs() []jobs.PeriodicJob {
	return []jobs.PeriodicJob{{
		ID:         RefreshProviderTokensArgs{}.Kind(),
		Schedule:   river.PeriodicInterval(refreshProviderTokensInterval),
		Construct:  func() (river.JobArgs, *river.InsertOpts) { return RefreshProviderTokensArgs{}, nil },
		RunOnStart: true,
	}, {
		ID:         PurgeExpiredFlowsArgs{}.Kind(),
		Schedule:   river.PeriodicInterval(purgeExpiredFlowsInterval),
		Construct:  func() (river.JobArgs, *river.InsertOpts) { return PurgeExpiredFlowsArgs{}, nil },
		RunOnStart: true,
	}}
}
