package identity

import (
	"context"
	"errors"
	"net/url"
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
	// OrgSlug brands the email and the hosted page it links to.
	OrgSlug string `json:"org_slug,omitempty"`
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
	// OrgSlug brands the email and the hosted page it links to.
	OrgSlug string `json:"org_slug,omitempty"`
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
		b, q := s.brandingBySlug(ctx, job.Args.OrgSlug)
		args, err := jobs.NewEmail(s.ring, u.OrgID, u.Email, mail.TemplatePasswordReset, mail.LinkData{
			Branding: b, Link: s.cfg.DashboardBaseURL + "/reset-password?token=" + raw + q, ExpiresIn: "1 hour",
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
		b, q := s.brandingBySlug(ctx, job.Args.OrgSlug)
		args, err := jobs.NewEmail(s.ring, u.OrgID, u.Email, mail.TemplateVerifyEmail, mail.LinkData{
			Branding: b, Link: s.cfg.BaseURL + "/auth/verify-email?token=" + raw + q, ExpiresIn: "24 hours",
		})
		if err != nil {
			return err
		}
		_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
		return err
	})
}

// mailBranding is the look of an email sent in scope: the organization's
// name, colour and logo for its end users and administrators, AuthOS's
// otherwise.
func mailBranding(sc Scope) mail.Branding {
	b := mail.Branding{AppName: "AuthOS"}
	if sc.OrgID != nil {
		if sc.OrgName != "" {
			b.AppName = sc.OrgName
		}
		b.BrandColor, b.LogoURL = sc.PrimaryColor, sc.LogoURL
	}
	return b
}

// orgQuery is the query suffix that lets a hosted page show the
// organization's branding ("" outside organizations).
func orgQuery(sc Scope) string {
	if sc.OrgSlug == "" {
		return ""
	}
	return "&org=" + url.QueryEscape(sc.OrgSlug)
}

// brandingBySlug resolves a job's organization for its email; an unknown
// or unresolvable organization falls back to AuthOS's look.
func (s *Service) brandingBySlug(ctx context.Context, slug string) (mail.Branding, string) {
	if slug == "" || s.scopes == nil {
		return mailBranding(Scope{}), ""
	}
	sc, err := s.scopes.ResolveScope(ctx, slug, "")
	if err != nil {
		s.logger.WarnContext(ctx, "email branding: organization not resolved", "org_slug", slug, "error", err)
		return mailBranding(Scope{}), ""
	}
	return mailBranding(sc), orgQuery(sc)
}
