package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
)

// expireInvitationsInterval is how often the expiry sweep runs. An
// invitation past its expiry is refused at once whatever the sweep did;
// the sweep only moves its status and records invitation.expired.
const expireInvitationsInterval = 10 * time.Minute

// ExpireInvitationsArgs is the periodic invitation expiry sweep. It names
// no organization: one run covers every organization.
type ExpireInvitationsArgs struct{}

// Kind implements river.JobArgs. Never rename it.
func (ExpireInvitationsArgs) Kind() string { return "tenancy.expire_invitations" }

// InsertOpts puts the sweep on the default queue. A failed run is retried
// a few times; the next scheduled run catches up anyway.
func (ExpireInvitationsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 3}
}

// ExpireInvitationsWorker works ExpireInvitationsArgs with
// Service.ExpireInvitations. It is idempotent, as periodic jobs must be.
type ExpireInvitationsWorker struct {
	river.WorkerDefaults[ExpireInvitationsArgs]
	svc *Service
}

var _ river.Worker[ExpireInvitationsArgs] = (*ExpireInvitationsWorker)(nil)

// NewExpireInvitationsWorker returns the sweep's worker over svc (the
// worker process's tenancy service; it needs no job queue).
func NewExpireInvitationsWorker(svc *Service) *ExpireInvitationsWorker {
	return &ExpireInvitationsWorker{svc: svc}
}

// Work implements river.Worker.
func (w *ExpireInvitationsWorker) Work(ctx context.Context, _ *river.Job[ExpireInvitationsArgs]) error {
	if w.svc == nil {
		return river.JobCancel(errors.New("expire invitations: worker has no service"))
	}
	n, err := w.svc.ExpireInvitations(ctx)
	if n > 0 {
		jobs.Logger(ctx).InfoContext(ctx, "invitations expired", "count", n)
	}
	return err
}

// recheckDomainsInterval is how often the domain re-check runs. Each run
// only checks the verified domains not checked for domainRecheckEvery (a
// day), so a restart of the workers never skips or repeats a day.
const recheckDomainsInterval = time.Hour

// RecheckDomainsArgs is the periodic re-check of verified custom domains.
// It names no organization: one run covers every organization.
type RecheckDomainsArgs struct{}

// Kind implements river.JobArgs. Never rename it.
func (RecheckDomainsArgs) Kind() string { return "tenancy.recheck_domains" }

// InsertOpts puts the re-check on the default queue. A failed run is
// retried a few times; the next scheduled run catches up anyway.
func (RecheckDomainsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 3}
}

// RecheckDomainsWorker works RecheckDomainsArgs with
// Settings.RecheckDomains. It is idempotent, as periodic jobs must be.
type RecheckDomainsWorker struct {
	river.WorkerDefaults[RecheckDomainsArgs]
	settings *Settings
}

var _ river.Worker[RecheckDomainsArgs] = (*RecheckDomainsWorker)(nil)

// NewRecheckDomainsWorker returns the re-check's worker over the module's
// settings (Module.Settings).
func NewRecheckDomainsWorker(s *Settings) *RecheckDomainsWorker {
	return &RecheckDomainsWorker{settings: s}
}

// Timeout bounds one run: each check takes at most a few seconds, a few at
// a time, and what a run leaves is picked up by the next.
func (w *RecheckDomainsWorker) Timeout(*river.Job[RecheckDomainsArgs]) time.Duration {
	return 15 * time.Minute
}

// Work implements river.Worker.
func (w *RecheckDomainsWorker) Work(ctx context.Context, _ *river.Job[RecheckDomainsArgs]) error {
	if w.settings == nil {
		return river.JobCancel(errors.New("recheck domains: worker has no settings"))
	}
	checked, lost, err := w.settings.RecheckDomains(ctx)
	if checked > 0 {
		jobs.Logger(ctx).InfoContext(ctx, "custom domains re-checked", "checked", checked, "lost", lost)
	}
	return err
}
