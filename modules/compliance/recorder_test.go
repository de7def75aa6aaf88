package compliance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/testenv"
)

type testBundle struct {
	mod  *compliance.Module
	pool interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	}
}

func setup(t *testing.T) (*compliance.Module, *testBundle) {
	t.Helper()
	pool := testenv.Postgres(t)
	fixed := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	mod, err := compliance.New(compliance.Deps{Pool: pool, NowFunc: func() time.Time { return fixed }})
	require.NoError(t, err)
	return mod, &testBundle{mod: mod, pool: pool}
}

// newOrg inserts an organization row: organization audit rows reference
// organizations (ON DELETE CASCADE).
func newOrg(t *testing.T, b *testBundle) uuid.UUID {
	t.Helper()
	id := uuid.New()
	pool, ok := b.pool.(*pgxpool.Pool)
	require.True(t, ok)
	_, err := pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name) VALUES ($1, $2, 'Audit Test Org')`, id, "org-"+id.String()[:8])
	require.NoError(t, err)
	return id
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("WritesOrganizationRowInCallersTransaction", func(t *testing.T) {
		t.Parallel()
		mod, b := setup(t)
		org, actor := newOrg(t, b), uuid.New()
		err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return mod.Recorder().Record(ctx, tx, events.Event{
				Type: "service.created", OrgID: &org, ActorID: &actor, TargetType: "service", TargetID: "svc-1",
				IP: "203.0.113.9", UserAgent: "test", Details: map[string]any{"service_slug": "web"},
			})
		})
		require.NoError(t, err)
		rows, err := mod.Store().ListOrganizationAudit(ctx, org, "", 10)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, "service.created", rows[0].Action)
		require.Equal(t, actor, *rows[0].ActorID)
		require.Equal(t, "web", rows[0].Details["service_slug"])
		require.Equal(t, "203.0.113.9", rows[0].IP)
		require.True(t, rows[0].Success)
		require.Equal(t, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), rows[0].CreatedAt.UTC())

		other, err := mod.Store().ListOrganizationAudit(ctx, uuid.New(), "", 10)
		require.NoError(t, err)
		require.Empty(t, other, "rows never leak to another organization")
	})

	t.Run("RolledBackTransactionLeavesNoRow", func(t *testing.T) {
		t.Parallel()
		mod, b := setup(t)
		org := newOrg(t, b)
		boom := errors.New("business rule failed")
		err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			require.NoError(t, mod.Recorder().Record(ctx, tx, events.Event{Type: "org.updated", OrgID: &org}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		rows, err := mod.Store().ListOrganizationAudit(ctx, org, "", 10)
		require.NoError(t, err)
		require.Empty(t, rows)
	})

	t.Run("PlatformEventsGoToPlatformLog", func(t *testing.T) {
		t.Parallel()
		mod, b := setup(t)
		owner := uuid.New()
		err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return mod.Recorder().Record(ctx, tx, events.Event{
				Type: "approve_organization", ActorID: &owner, ActorType: events.ActorPlatformOwner,
				TargetType: "organization", TargetID: "org-1",
				Details: map[string]any{"old_status": "pending", "new_status": "active", "tier_id": "tier_free"},
			})
		})
		require.NoError(t, err)
		rows, err := mod.Store().ListPlatformAudit(ctx, "approve_organization", 10)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, owner, *rows[0].ActorID)
		require.Equal(t, "active", rows[0].Details["new_status"])
	})

	t.Run("UnknownEventTypeFailsTheTransaction", func(t *testing.T) {
		t.Parallel()
		mod, b := setup(t)
		org := newOrg(t, b)
		err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return mod.Recorder().Record(ctx, tx, events.Event{Type: "org.creatd", OrgID: &org})
		})
		require.ErrorIs(t, err, compliance.ErrUnknownEventType)
	})

	t.Run("FailedOutcomeIsStored", func(t *testing.T) {
		t.Parallel()
		mod, b := setup(t)
		org := newOrg(t, b)
		failed := false
		require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			return mod.Recorder().Record(ctx, tx, events.Event{Type: "user.login.failed", OrgID: &org, Success: &failed})
		}))
		rows, err := mod.Store().ListOrganizationAudit(ctx, org, "user.login.failed", 10)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.False(t, rows[0].Success)
	})
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	c := compliance.NewCatalogue()
	require.Len(t, c.Subscribable(), 38, "spec §13.2 lists 38 subscribable events")
	et, ok := c.Lookup("security.password.changed")
	require.True(t, ok)
	require.Equal(t, "Security Password Changed", et.Label)
	require.Equal(t, "Security", et.Category)
	p, ok := c.Lookup("force_disable_mfa")
	require.True(t, ok)
	require.Equal(t, events.StreamPlatform, p.Stream)
	require.Equal(t, "User Login Success", compliance.Label("user.login.success"))
}
