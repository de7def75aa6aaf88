package tenancy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/tenancy"
)

// TestExpireInvitationsWorker runs the periodic sweep the way River does.
// It owns its bundle: it moves the clock.
func TestExpireInvitationsWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	b.setMaxUsers(t, w.A, 10)
	invitee := b.user(t, "accepted")

	stale := b.invite(t, w.A, w.OwnerA, "stale-"+uuid.NewString()[:8]+"@example.test", "member")
	staleB := b.invite(t, w.B, w.OwnerB, "stale-b-"+uuid.NewString()[:8]+"@example.test", "admin")
	accepted := b.invite(t, w.A, w.OwnerA, invitee.Email, "member")
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/invitations/accept", invitee.Token, map[string]string{"token": accepted.Token}).status)
	b.advance(4 * 24 * time.Hour)
	fresh := b.invite(t, w.A, w.AdminA, "fresh-"+uuid.NewString()[:8]+"@example.test", "member")
	b.advance(3*24*time.Hour + time.Minute) // stale ones are 7 days old, fresh 3

	work := func(t *testing.T) {
		t.Helper()
		tx, err := b.pool.Begin(t.Context())
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(t.Context()) })
		worker := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, tenancy.NewExpireInvitationsWorker(b.mod.Service()))
		res, err := worker.Work(t.Context(), t, tx, tenancy.ExpireInvitationsArgs{}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	}
	work(t)

	require.Equal(t, "expired", b.invitationStatus(t, stale.Invitation.ID))
	require.Equal(t, "expired", b.invitationStatus(t, staleB.Invitation.ID))
	require.Equal(t, "accepted", b.invitationStatus(t, accepted.Invitation.ID), "answered invitations are history")
	require.Equal(t, "pending", b.invitationStatus(t, fresh.Invitation.ID))
	var respondedAt time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT responded_at FROM organization_invitations WHERE id = $1`, stale.Invitation.ID).Scan(&respondedAt))
	require.True(t, b.clock().Equal(respondedAt), "responded_at is the sweep's clock")

	expiredA := b.orgAudit(t, w.A.ID, "invitation.expired")
	require.Len(t, expiredA, 1)
	require.Equal(t, stale.Invitation.ID, expiredA[0].TargetID)
	require.Equal(t, "invitation", expiredA[0].TargetType)
	require.Equal(t, "system", expiredA[0].ActorType)
	require.Nil(t, expiredA[0].ActorID)
	require.Equal(t, map[string]any{"invitation_id": stale.Invitation.ID, "email": stale.Invitation.Email, "role": "member"}, expiredA[0].Details)
	expiredB := b.orgAudit(t, w.B.ID, "invitation.expired")
	require.Len(t, expiredB, 1)
	require.Equal(t, staleB.Invitation.ID, expiredB[0].TargetID)

	t.Run("IsIdempotent", func(t *testing.T) {
		work(t)
		require.Len(t, b.orgAudit(t, w.A.ID, "invitation.expired"), 1)
		require.Len(t, b.orgAudit(t, w.B.ID, "invitation.expired"), 1)
		require.Equal(t, "pending", b.invitationStatus(t, fresh.Invitation.ID))
	})

	t.Run("ExpiredCanBeReinvited", func(t *testing.T) {
		again := b.invite(t, w.A, w.OwnerA, stale.Invitation.Email, "member")
		require.Equal(t, "pending", b.invitationStatus(t, again.Invitation.ID))
	})
}

// TestExpireInvitationsBatches checks that a backlog larger than one
// transaction's batch is expired completely, with one event each.
func TestExpireInvitationsBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	const n = 501 // one more than a batch
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organization_invitations (id, org_id, email, role, invited_by, token_hash, expires_at, created_at)
		SELECT gen_random_uuid(), $1, 'bulk-' || g || '@example.test', 'member', $2, md5(g::text) || md5((g + 1000)::text), $3, $3
		FROM generate_series(1, $4) g`, w.A.ID, w.OwnerA.ID, b.now.Add(-time.Hour), n)
	require.NoError(t, err)

	got, err := b.mod.Service().ExpireInvitations(t.Context())
	require.NoError(t, err)
	require.Equal(t, n, got)
	var pending int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organization_invitations WHERE status = 'pending'`).Scan(&pending))
	require.Zero(t, pending)
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organization_audit_log WHERE org_id = $1 AND action = 'invitation.expired'`, w.A.ID).Scan(&pending))
	require.Equal(t, n, pending)

	again, err := b.mod.Service().ExpireInvitations(t.Context())
	require.NoError(t, err)
	require.Zero(t, again)
}

func TestInvitationJobTable(t *testing.T) {
	t.Parallel()
	b := setup(t)

	args := tenancy.ExpireInvitationsArgs{}
	require.Equal(t, "tenancy.expire_invitations", args.Kind())
	require.Equal(t, jobs.QueueDefault, args.InsertOpts().Queue)

	table := b.mod.PeriodicJobs()
	require.Len(t, table, 2, "the invitation expiry sweep and the custom domain re-check (domain_test.go)")
	require.Equal(t, "tenancy.expire_invitations", table[0].ID)
	require.True(t, table[0].RunOnStart)
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	require.Equal(t, start.Add(10*time.Minute), table[0].Schedule.Next(start))
	built, opts := table[0].Construct()
	require.Equal(t, args, built)
	require.Nil(t, opts)
	periodic, err := jobs.Periodic(table)
	require.NoError(t, err)
	require.Len(t, periodic, 2)

	workers := river.NewWorkers()
	b.mod.RegisterWorkers(workers)
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Queues:  map[string]river.QueueConfig{jobs.QueueDefault: {MaxWorkers: 1}},
		Workers: workers, PeriodicJobs: periodic,
	})
	require.NoError(t, err)
	// River refuses to insert a kind its Workers bundle lacks.
	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = client.InsertTx(t.Context(), tx, args, nil)
	require.NoError(t, err, "the periodic job's kind has a registered worker")
}
