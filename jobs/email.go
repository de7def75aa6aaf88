package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/mail"
)

// EmailSendArgs asks the worker to render and send one email.
//
// Template data usually carries secrets (verification and reset links hold
// single-use tokens), and job args are stored in river_job and shown by the
// job dashboard, so the data is sealed with the platform key ring: only the
// recipient and template name are readable at rest.
type EmailSendArgs struct {
	// OrgID selects the organization whose SMTP settings apply; nil means
	// the platform SMTP server.
	OrgID      *uuid.UUID `json:"org_id,omitempty"`
	To         string     `json:"to"`
	Template   string     `json:"template"`
	SealedData string     `json:"sealed_data"`
}

// Kind implements river.JobArgs. Never rename it.
func (EmailSendArgs) Kind() string { return "email.send" }

// InsertOpts puts emails on their queue with retries over about a day
// (River's exponential back-off: attempt^4 seconds).
func (EmailSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEmail, MaxAttempts: 12}
}

func emailAD(to, template string) []byte { return []byte("email.send:" + to + ":" + template) }

// NewEmail builds the args for one email, sealing data under ring.
func NewEmail(ring *crypto.KeyRing, orgID *uuid.UUID, to, template string, data any) (EmailSendArgs, error) {
	if to == "" || template == "" {
		return EmailSendArgs{}, errors.New("new email: recipient and template are required")
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return EmailSendArgs{}, fmt.Errorf("new email: encode data: %w", err)
	}
	sealed, err := ring.Seal(raw, emailAD(to, template))
	if err != nil {
		return EmailSendArgs{}, fmt.Errorf("new email: seal data: %w", err)
	}
	return EmailSendArgs{OrgID: orgID, To: to, Template: template, SealedData: sealed}, nil
}

// SenderResolver picks the mail sender for an organization (nil: the
// platform's). It returns ErrNoSender when no SMTP server is configured.
type SenderResolver interface {
	SenderFor(ctx context.Context, orgID *uuid.UUID) (mail.Sender, error)
}

// ErrNoSender means no SMTP server is configured for the email.
var ErrNoSender = errors.New("no smtp server configured")

// PlatformSender resolves every email to the platform SMTP sender (per-org
// SMTP arrives with the organization settings issue).
type PlatformSender struct{ Sender mail.Sender }

// SenderFor implements SenderResolver.
func (p PlatformSender) SenderFor(context.Context, *uuid.UUID) (mail.Sender, error) {
	if p.Sender == nil {
		return nil, ErrNoSender
	}
	return p.Sender, nil
}

// EmailWorker renders and sends EmailSendArgs. Temporary SMTP failures are
// retried with back-off; permanent ones (5xx replies, unknown template,
// undecryptable data) cancel the job. Message bodies are never logged.
type EmailWorker struct {
	river.WorkerDefaults[EmailSendArgs]
	ring      *crypto.KeyRing
	templates *mail.Templates
	senders   SenderResolver
}

var _ river.Worker[EmailSendArgs] = (*EmailWorker)(nil)

// NewEmailWorker builds the worker.
func NewEmailWorker(ring *crypto.KeyRing, templates *mail.Templates, senders SenderResolver) (*EmailWorker, error) {
	if ring == nil || templates == nil || senders == nil {
		return nil, errors.New("new email worker: key ring, templates and sender resolver are required")
	}
	return &EmailWorker{ring: ring, templates: templates, senders: senders}, nil
}

// Timeout bounds one delivery attempt.
func (w *EmailWorker) Timeout(*river.Job[EmailSendArgs]) time.Duration { return time.Minute }

// Work implements river.Worker.
func (w *EmailWorker) Work(ctx context.Context, job *river.Job[EmailSendArgs]) error {
	a := job.Args
	raw, err := w.ring.Open(a.SealedData, emailAD(a.To, a.Template))
	if err != nil {
		return river.JobCancel(fmt.Errorf("open email data: %w", err))
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return river.JobCancel(fmt.Errorf("decode email data: %w", err))
	}
	subject, text, html, err := w.templates.Render(a.Template, data)
	if err != nil {
		return river.JobCancel(fmt.Errorf("render email %q: %w", a.Template, err))
	}
	sender, err := w.senders.SenderFor(ctx, a.OrgID)
	if err != nil {
		if errors.Is(err, ErrNoSender) {
			return river.JobCancel(err)
		}
		return fmt.Errorf("resolve smtp sender: %w", err)
	}
	err = sender.Send(ctx, mail.Message{To: []string{a.To}, Subject: subject, Text: text, HTML: html})
	if err != nil {
		if mail.IsPermanent(err) {
			return river.JobCancel(fmt.Errorf("send email %q: %w", a.Template, err))
		}
		return fmt.Errorf("send email %q: %w", a.Template, err)
	}
	Logger(ctx).InfoContext(ctx, "email sent", "template", a.Template)
	return nil
}
