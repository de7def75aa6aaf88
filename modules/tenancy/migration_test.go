package tenancy_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/db"
)

// TestSchemaConstraints checks the invariants the migration enforces by
// itself, whatever the code above it does.
func TestSchemaConstraints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	exec := func(q string, args ...any) error {
		_, err := b.pool.Exec(ctx, q, args...)
		return db.MapError(err)
	}

	t.Run("OneOwnerPerOrganization", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "one-owner"))
		second := b.user(t, "second-owner")
		err := exec(`INSERT INTO memberships (id, org_id, user_id, role) VALUES ($1, $2, $3, 'owner')`, uuid.New(), o.ID, second.ID)
		require.ErrorIs(t, err, db.ErrUnique)
		require.Equal(t, "memberships_one_owner_key", db.ConstraintName(err))
	})

	t.Run("OneMembershipPerUser", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "dup-member"))
		err := exec(`INSERT INTO memberships (id, org_id, user_id, role) VALUES ($1, $2, $3, 'member')`, uuid.New(), o.ID, o.Owner.ID)
		require.ErrorIs(t, err, db.ErrUnique)
	})

	t.Run("RoleAndStatusChecks", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "checks"))
		u := b.user(t, "checked")
		require.ErrorIs(t, exec(`INSERT INTO memberships (id, org_id, user_id, role) VALUES ($1, $2, $3, 'root')`, uuid.New(), o.ID, u.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE organizations SET status = 'deleted' WHERE id = $1`, o.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE organizations SET slug = 'a b' WHERE id = $1`, o.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE organizations SET tier_id = 'tier_gold' WHERE id = $1`, o.ID), db.ErrForeignKey)
	})

	t.Run("DeletingAUserDeletesMembershipsAndOrphansOwnership", func(t *testing.T) {
		t.Parallel()
		owner := b.user(t, "gone")
		o := b.createOrg(t, owner)
		require.NoError(t, exec(`DELETE FROM users WHERE id = $1`, owner.ID))
		require.Empty(t, b.role(t, o, owner))
		var ownerID *uuid.UUID
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT owner_user_id FROM organizations WHERE id = $1`, o.ID).Scan(&ownerID))
		require.Nil(t, ownerID)
	})

	t.Run("OrgScopedRowsNeedTheirOrganization", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "fk")
		missing := uuid.New()
		for _, tc := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO users (id, org_id, email) VALUES (gen_random_uuid(), $1, 'x@y.test')`, []any{missing}},
			{`INSERT INTO organization_audit_log (id, org_id, action) VALUES (gen_random_uuid(), $1, 'org.updated')`, []any{missing}},
			{`INSERT INTO login_events (id, user_id, org_id, provider) VALUES (gen_random_uuid(), $1, $2, 'password')`, []any{u.ID, missing}},
			{`INSERT INTO identities (id, user_id, provider, provider_user_id, org_id) VALUES (gen_random_uuid(), $1, 'github', '1', $2)`, []any{u.ID, missing}},
			{`INSERT INTO sessions (id, user_id, org_id, audience, access_jti, token_hash, access_expires_at)
				VALUES (gen_random_uuid(), $1, $2, 'org:x', 'j', md5(random()::text), now())`, []any{u.ID, missing}},
		} {
			require.ErrorIs(t, exec(tc.q, tc.args...), db.ErrForeignKey, tc.q)
		}
	})
}
