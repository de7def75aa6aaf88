package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/mail"
)

// SendPasswordResetArgs looks an email up and, when it names an account,
// emails a reset link. Doing this in a job keeps forgot-password answers
// identical for unknown emails.
type SendPasswordResetArgs struct {
	OrgID *uuid.UUID `json:"org_id,omitempty"`
	Email string     `json:"email"`
}

// Kind implements river.JobArgs. Never rename it.
func (SendPasswordResetArgs) Kind() string { return "identity.send_password_reset" }

// InsertOpts de-duplicates bursts for one address.
func (SendPasswordResetArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueEmail, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

// ResendVerificationArgs is SendPasswordResetArgs for verification links.
type ResendVerificationArgs struct {
	OrgID *uuid.UUID `json:"org_id,omitempty"`
	Email string     `json:"email"`
}

// Kind implements river.JobArgs. Never rename it.
func (ResendVerificationArgs) Kind() string { return "identity.resend_verification" }

// InsertOpts de-duplicates bursts for one address.
func (ResendVerificationArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueEmail, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

type sendResetWorker struct {
	river.WorkerDefaults[SendPasswordResetArgs]
	svc *Service
}

var _ river.Worker[SendPasswordResetArgs] = (*sendResetWorker)(nil)

func (w *sendResetWorker) Work(ctx context.Context, job *river.Job[SendPasswordResetArgs]) error {
	s := w.svc
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		u, err := st.UserGetByEmail(ctx, job.Args.OrgID, job.Args.Email)
		if errors.Is(err, ErrUserNotFound) {
			return nil // nothing to send, and nothing to tell
		}
		if err != nil {
			return err
		}
		raw := crypto.RandomToken(32)
		now := s.nowFunc()
		if err := st.ResetTokenInsert(ctx, u.ID, crypto.HashToken(raw), now.Add(resetLifetime), now); err != nil {
			return err
		}
		args, err := jobs.NewEmail(s.ring, u.OrgID, u.Email, mail.TemplatePasswordReset, mail.LinkData{
			Branding: mail.Branding{AppName: "AuthOS"}, Link: s.cfg.DashboardBaseURL + "/reset-password?token=" + raw, ExpiresIn: "1 hour",
		})
		if err != nil {
			return err
		}
		_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
		return err
	})
}

type resendVerificationWorker struct {
	river.WorkerDefaults[ResendVerificationArgs]
	svc *Service
}

var _ river.Worker[ResendVerificationArgs] = (*resendVerificationWorker)(nil)

func (w *resendVerificationWorker) Work(ctx context.Context, job *river.Job[ResendVerificationArgs]) error {
	s := w.svc
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		u, err := st.UserGetByEmail(ctx, job.Args.OrgID, job.Args.Email)
		if errors.Is(err, ErrUserNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != nil {
			return nil
		}
		raw := crypto.RandomToken(32)
		now := s.nowFunc()
		if err := st.VerificationTokenInsert(ctx, u.ID, u.Email, crypto.HashToken(raw), now.Add(verificationLifetime), now); err != nil {
			return err
		}
		args, err := jobs.NewEmail(s.ring, u.OrgID, u.Email, mail.TemplateVerifyEmail, mail.LinkData{
			Branding: mail.Branding{AppName: "AuthOS"}, Link: s.cfg.BaseURL + "/auth/verify-email?token=" + raw, ExpiresIn: "24 hours",
		})
		if err != nil {
			return err
		}
		_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
		return err
	})
}
