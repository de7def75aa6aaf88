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
