package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/mailcatch"
	"github.com/authos/authos/platform/testenv"
)

const (
	testToken = "tok_5ecret_single_use_value"
	testLink  = "https://app.example.com/verify-email?token=" + testToken
)

func testRing(t *testing.T, fill byte) *crypto.KeyRing {
	t.Helper()
	ring, err := crypto.NewKeyRing("k1", bytes.Repeat([]byte{fill}, crypto.KeySize), nil)
	require.NoError(t, err)
	return ring
}

func verifyData() mail.LinkData {
	return mail.LinkData{Branding: mail.Branding{AppName: "Acme"}, Link: testLink, ExpiresIn: "24 hours"}
}

// beginTx opens a transaction that is rolled back when the test ends.
func beginTx(t *testing.T, pool *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func TestEmailSendArgs(t *testing.T) {
	t.Parallel()

	t.Run("KindAndInsertOpts", func(t *testing.T) {
		t.Parallel()
		var a jobs.EmailSendArgs
		require.Equal(t, "email.send", a.Kind())
		opts := a.InsertOpts()
		require.Equal(t, jobs.QueueEmail, opts.Queue)
		require.Equal(t, "email", opts.Queue)
		require.Equal(t, 12, opts.MaxAttempts)
	})

	t.Run("JSONFieldsAreSnakeCase", func(t *testing.T) {
		t.Parallel()
		org := uuid.MustParse("0193e0a0-0000-7000-8000-000000000001")
		raw, err := json.Marshal(jobs.EmailSendArgs{OrgID: &org, To: "a@example.com", Template: "verify_email", SealedData: "v1.k1.x"})
		require.NoError(t, err)
		require.JSONEq(t, `{"org_id":"0193e0a0-0000-7000-8000-000000000001","to":"a@example.com","template":"verify_email","sealed_data":"v1.k1.x"}`, string(raw))

		raw, err = json.Marshal(jobs.EmailSendArgs{To: "a@example.com", Template: "verify_email", SealedData: "v1.k1.x"})
		require.NoError(t, err)
		require.NotContains(t, string(raw), "org_id", "a platform email omits org_id")
	})
}

func TestNewEmail(t *testing.T) {
	t.Parallel()

	t.Run("SealsData", func(t *testing.T) {
		t.Parallel()
		ring := testRing(t, 1)
		org := uuid.New()
		args, err := jobs.NewEmail(ring, &org, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		require.NoError(t, err)
		require.Equal(t, &org, args.OrgID)
		require.Equal(t, "ann@example.com", args.To)
		require.Equal(t, mail.TemplateVerifyEmail, args.Template)
		keyID, err := crypto.SealedKeyID(args.SealedData)
		require.NoError(t, err)
		require.Equal(t, "k1", keyID)

		raw, err := json.Marshal(args)
		require.NoError(t, err)
		require.NotContains(t, string(raw), testToken)
		require.NotContains(t, string(raw), "Acme")
	})

	t.Run("SealedAtRestInRiverJob", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		client, err := jobs.NewInsertOnlyClient(pool, nil)
		require.NoError(t, err)
		args, err := jobs.NewEmail(testRing(t, 1), nil, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		require.NoError(t, err)
		tx := beginTx(t, pool)
		res, err := client.InsertTx(t.Context(), tx, args, nil)
		require.NoError(t, err)
		var stored string
		require.NoError(t, tx.QueryRow(t.Context(), `SELECT args::text FROM river_job WHERE id = $1`, res.Job.ID).Scan(&stored))
		require.Contains(t, stored, "ann@example.com")
		require.NotContains(t, stored, testToken)
	})

	t.Run("RequiresRecipientAndTemplate", func(t *testing.T) {
		t.Parallel()
		ring := testRing(t, 1)
		_, err := jobs.NewEmail(ring, nil, "", mail.TemplateVerifyEmail, verifyData())
		require.ErrorContains(t, err, "recipient and template are required")
		_, err = jobs.NewEmail(ring, nil, "ann@example.com", "", verifyData())
		require.ErrorContains(t, err, "recipient and template are required")
	})

	t.Run("RejectsUnencodableData", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.NewEmail(testRing(t, 1), nil, "ann@example.com", mail.TemplateVerifyEmail, map[string]any{"bad": make(chan int)})
		require.ErrorContains(t, err, "encode data")
	})
}

func TestNewEmailWorker(t *testing.T) {
	t.Parallel()
	tmpl, err := mail.LoadTemplates()
	require.NoError(t, err)
	ring := testRing(t, 1)

	_, err = jobs.NewEmailWorker(nil, tmpl, jobs.PlatformSender{})
	require.Error(t, err)
	_, err = jobs.NewEmailWorker(ring, nil, jobs.PlatformSender{})
	require.Error(t, err)
	_, err = jobs.NewEmailWorker(ring, tmpl, nil)
	require.Error(t, err)
	w, err := jobs.NewEmailWorker(ring, tmpl, jobs.PlatformSender{})
	require.NoError(t, err)
	require.Equal(t, time.Minute, w.Timeout(nil))
}

func TestPlatformSender(t *testing.T) {
	t.Parallel()
	s, err := jobs.PlatformSender{}.SenderFor(t.Context(), nil)
	require.ErrorIs(t, err, jobs.ErrNoSender)
	require.Nil(t, s)

	smtp, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: 25, TLS: mail.TLSNone, FromEmail: "noreply@authos.test"})
	require.NoError(t, err)
	org := uuid.New()
	s, err = jobs.PlatformSender{Sender: smtp}.SenderFor(t.Context(), &org)
	require.NoError(t, err)
	require.Same(t, smtp, s)
}

// recordingWorker runs the email worker and keeps the error it returned.
type recordingWorker struct {
	river.WorkerDefaults[jobs.EmailSendArgs]
	inner *jobs.EmailWorker
	err   error
}

func (r *recordingWorker) Work(ctx context.Context, job *river.Job[jobs.EmailSendArgs]) error {
	r.err = r.inner.Work(ctx, job)
	return r.err
}

// resolverFunc adapts a function to jobs.SenderResolver.
type resolverFunc func(ctx context.Context, orgID *uuid.UUID) (mail.Sender, error)

func (f resolverFunc) SenderFor(ctx context.Context, orgID *uuid.UUID) (mail.Sender, error) {
	return f(ctx, orgID)
}

func TestEmailWorker(t *testing.T) {
	t.Parallel()

	pool := testenv.Postgres(t)
	tmpl, err := mail.LoadTemplates()
	require.NoError(t, err)

	// One catcher for every subtest: each uses its own recipient.
	catcher, err := mailcatch.StartWithOptions(t.Context(), mailcatch.Options{
		SMTPAddr: "127.0.0.1:0",
		RejectRecipient: func(addr string) (int, string) {
			switch addr {
			case "gone@example.com":
				return 550, "5.1.1 no such user"
			case "busy@example.com":
				return 451, "4.3.0 try again later"
			}
			return 0, ""
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = catcher.Close() })
	host, portStr, err := net.SplitHostPort(catcher.SMTPAddr())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	smtpSender, err := mail.NewSMTPSender(mail.SMTPConfig{
		Host: host, Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second,
		FromEmail: "noreply@authos.test", FromName: "AuthOS",
	})
	require.NoError(t, err)
	platform := jobs.PlatformSender{Sender: smtpSender}

	type testBundle struct {
		ring *crypto.KeyRing
		tx   pgx.Tx
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{ring: testRing(t, 7), tx: beginTx(t, pool)}
	}
	// work runs one job through River and returns its result and the error
	// the worker returned (River does not hand back a JobCancel error).
	work := func(t *testing.T, b *testBundle, senders jobs.SenderResolver, args jobs.EmailSendArgs) (*rivertest.WorkResult, error) {
		t.Helper()
		w, err := jobs.NewEmailWorker(b.ring, tmpl, senders)
		require.NoError(t, err)
		rec := &recordingWorker{inner: w}
		res, _ := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, rec).Work(t.Context(), t, b.tx, args, nil)
		require.NotNil(t, res)
		return res, rec.err
	}
	newEmail := func(t *testing.T, b *testBundle, to, template string, data any) jobs.EmailSendArgs {
		t.Helper()
		args, err := jobs.NewEmail(b.ring, nil, to, template, data)
		require.NoError(t, err)
		return args
	}
	requireCancelled := func(t *testing.T, res *rivertest.WorkResult, err error) {
		t.Helper()
		require.Error(t, err)
		var cancelErr *rivertype.JobCancelError
		require.ErrorAs(t, err, &cancelErr)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		require.Equal(t, rivertype.JobStateCancelled, res.Job.State)
		require.NotNil(t, res.Job.FinalizedAt)
		require.Len(t, res.Job.Errors, 1)
		require.NotContains(t, res.Job.Errors[0].Error, testToken)
	}
	requireRetried := func(t *testing.T, res *rivertest.WorkResult, err error) {
		t.Helper()
		require.Error(t, err)
		var cancelErr *rivertype.JobCancelError
		require.NotErrorAs(t, err, &cancelErr)
		require.Equal(t, river.EventKindJobFailed, res.EventKind)
		// A short first back-off makes the job available again at once;
		// either way it is not finalized.
		require.Contains(t, []rivertype.JobState{rivertype.JobStateRetryable, rivertype.JobStateAvailable}, res.Job.State)
		require.Nil(t, res.Job.FinalizedAt)
		require.Len(t, res.Job.Errors, 1)
		require.NotContains(t, res.Job.Errors[0].Error, testToken)
	}

	t.Run("DeliversRenderedLink", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, platform, newEmail(t, b, "ann@example.com", mail.TemplateVerifyEmail, verifyData()))
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Equal(t, rivertype.JobStateCompleted, res.Job.State)

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := catcher.WaitFor(ctx, func(c mailcatch.Captured) bool { return len(c.To) == 1 && c.To[0] == "ann@example.com" })
		require.NoError(t, err)
		require.Equal(t, "noreply@authos.test", got.From)
		require.Contains(t, got.Text, testLink)
		require.Contains(t, got.HTML, testLink)
		require.NotEmpty(t, got.Subject)

		want, _, _, err := tmpl.Render(mail.TemplateVerifyEmail, verifyData())
		require.NoError(t, err)
		require.Equal(t, want, got.Subject)
	})

	t.Run("PermanentRejectionCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, platform, newEmail(t, b, "gone@example.com", mail.TemplateVerifyEmail, verifyData()))
		requireCancelled(t, res, err)
		require.True(t, mail.IsPermanent(err))
		require.NotContains(t, err.Error(), testToken)
	})

	t.Run("TemporaryRejectionRetries", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, platform, newEmail(t, b, "busy@example.com", mail.TemplateVerifyEmail, verifyData()))
		requireRetried(t, res, err)
		require.False(t, mail.IsPermanent(err))
		require.ErrorContains(t, err, "451")
	})

	t.Run("TamperedDataCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		args := newEmail(t, b, "tamper@example.com", mail.TemplateVerifyEmail, verifyData())
		sealed := []byte(args.SealedData)
		i := len(sealed) - 5
		if sealed[i] == 'A' {
			sealed[i] = 'B'
		} else {
			sealed[i] = 'A'
		}
		args.SealedData = string(sealed)
		res, err := work(t, b, platform, args)
		requireCancelled(t, res, err)
		require.ErrorIs(t, err, crypto.ErrDecrypt)
	})

	t.Run("DataBoundToRecipient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Sealed for one recipient, replayed to another: the associated data
		// no longer matches, so the token cannot be redirected.
		args := newEmail(t, b, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		args.To = "attacker@example.com"
		res, err := work(t, b, platform, args)
		requireCancelled(t, res, err)
		require.ErrorIs(t, err, crypto.ErrDecrypt)
	})

	t.Run("DataBoundToTemplate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		args := newEmail(t, b, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		args.Template = mail.TemplatePasswordReset
		res, err := work(t, b, platform, args)
		requireCancelled(t, res, err)
		require.ErrorIs(t, err, crypto.ErrDecrypt)
	})

	t.Run("OtherKeyRingCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		args, err := jobs.NewEmail(testRing(t, 9), nil, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		require.NoError(t, err)
		res, err := work(t, b, platform, args)
		requireCancelled(t, res, err)
	})

	t.Run("UnknownTemplateCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, platform, newEmail(t, b, "ann@example.com", "no_such_template", verifyData()))
		requireCancelled(t, res, err)
		require.ErrorIs(t, err, mail.ErrUnknownTemplate)
	})

	t.Run("MissingTemplateDataCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, platform, newEmail(t, b, "ann@example.com", mail.TemplateVerifyEmail, map[string]any{"ExpiresIn": "1 hour"}))
		requireCancelled(t, res, err)
	})

	t.Run("NoSenderCancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := work(t, b, jobs.PlatformSender{}, newEmail(t, b, "ann@example.com", mail.TemplateVerifyEmail, verifyData()))
		requireCancelled(t, res, err)
		require.ErrorIs(t, err, jobs.ErrNoSender)
	})

	t.Run("ResolverFailureRetries", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		org := uuid.New()
		args, err := jobs.NewEmail(b.ring, &org, "ann@example.com", mail.TemplateVerifyEmail, verifyData())
		require.NoError(t, err)
		lookupErr := errors.New("org settings unavailable")
		var gotOrg *uuid.UUID
		res, err := work(t, b, resolverFunc(func(_ context.Context, orgID *uuid.UUID) (mail.Sender, error) {
			gotOrg = orgID
			return nil, lookupErr
		}), args)
		requireRetried(t, res, err)
		require.ErrorIs(t, err, lookupErr)
		require.Equal(t, &org, gotOrg, "the worker resolves the org's sender")
	})
}
