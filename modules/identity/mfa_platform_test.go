package identity_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
)

const (
	platformOwnerEmail  = "owner@example.test"
	msgOwnerRequired    = "Platform owner access required"
	msgMFAForceDisabled = "MFA has been force-disabled for the user"
)

// ownerBundle is a test bundle whose platform owner is signed in.
type ownerBundle struct {
	*testBundle
	owner    identity.User
	ownerTok string
}

func setupOwner(t *testing.T) *ownerBundle {
	t.Helper()
	b := setup(t, func(c *identity.Config) { c.OwnerEmail, c.OwnerPassword = platformOwnerEmail, goodPassword })
	owner := b.user(t, platformOwnerEmail)
	require.True(t, owner.IsPlatformOwner)
	toks, err := b.mod.IssueSession(t.Context(), owner.ID, "password")
	require.NoError(t, err)
	return &ownerBundle{testBundle: b, owner: owner, ownerTok: toks.AccessToken}
}

func platformMFAPath(userID string) string { return "/api/platform/users/" + userID + "/mfa" }

func (b *ownerBundle) platformStatus(t *testing.T, userID uuid.UUID) (mfaStatusBody, map[string]any) {
	t.Helper()
	r := b.get(t, platformMFAPath(userID.String())+"/status", bearer(b.ownerTok))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var body mfaStatusBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	return body, raw
}

// platformAuditRow is one platform_audit_log row.
type platformAuditRow struct {
	OwnerID    *uuid.UUID
	TargetType string
	TargetID   string
	Metadata   map[string]any
}

func (b *testBundle) platformAudit(t *testing.T, action string) []platformAuditRow {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT platform_owner_id, target_type, target_id, metadata FROM platform_audit_log WHERE action = $1 ORDER BY created_at, id`, action)
	require.NoError(t, err)
	defer rows.Close()
	var out []platformAuditRow
	for rows.Next() {
		var r platformAuditRow
		require.NoError(t, rows.Scan(&r.OwnerID, &r.TargetType, &r.TargetID, &r.Metadata))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestPlatformMFA(t *testing.T) {
	t.Parallel()

	t.Run("Authorization", func(t *testing.T) {
		t.Parallel()
		b := setupOwner(t)
		victim, victimTok := b.mfaAccount(t, "ada@example.test")
		b.enableMFA(t, victimTok)
		_, otherTok := b.mfaAccount(t, "mallory@example.test")
		for _, ep := range []struct{ method, suffix string }{{http.MethodGet, "/status"}, {http.MethodDelete, ""}} {
			path := platformMFAPath(victim.ID.String()) + ep.suffix
			requireProblem(t, b.do(t, ep.method, path, nil), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
			requireProblem(t, b.do(t, ep.method, path, nil, bearer(otherTok)), http.StatusForbidden, httpapi.CodeForbidden, msgOwnerRequired)
			// A user may not use the platform route on themselves either.
			requireProblem(t, b.do(t, ep.method, path, nil, bearer(victimTok)), http.StatusForbidden, httpapi.CodeForbidden, msgOwnerRequired)
			// Unknown users are not revealed to non-owners.
			requireProblem(t, b.do(t, ep.method, platformMFAPath(uuid.NewString())+ep.suffix, nil, bearer(otherTok)), http.StatusForbidden, httpapi.CodeForbidden, msgOwnerRequired)
		}
		require.True(t, b.mfaStatus(t, victimTok).Enabled)
		require.Empty(t, b.platformAudit(t, "force_disable_mfa"))
		require.Empty(t, b.mfaAuditOf(t, victim.ID, "mfa_force_disabled_by_admin"))
	})

	t.Run("UnknownUserIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupOwner(t)
		for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
			requireProblem(t, b.get(t, platformMFAPath(id)+"/status", bearer(b.ownerTok)), http.StatusNotFound, httpapi.CodeNotFound, "User not found")
			requireProblem(t, b.del(t, platformMFAPath(id), nil, bearer(b.ownerTok)), http.StatusNotFound, httpapi.CodeNotFound, "User not found")
		}
	})

	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		b := setupOwner(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		st, raw := b.platformStatus(t, u.ID)
		require.Equal(t, mfaStatusBody{}, st)
		require.NotContains(t, raw, "enabled_at")

		b.setupMFA(t, tok)
		st, _ = b.platformStatus(t, u.ID)
		require.Equal(t, mfaStatusBody{}, st, "a pending secret is not enabled")

		enabledAt := b.clock.Now()
		b.enableMFA(t, tok)
		st, _ = b.platformStatus(t, u.ID)
		require.True(t, st.Enabled)
		require.True(t, st.HasBackupCodes)
		require.NotNil(t, st.EnabledAt)
		require.WithinDuration(t, enabledAt, *st.EnabledAt, time.Second)
	})

	t.Run("ForceDisable", func(t *testing.T) {
		t.Parallel()
		b := setupOwner(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		b.enableMFA(t, tok)

		r := b.del(t, platformMFAPath(u.ID.String()), nil, bearer(b.ownerTok), fromIP("203.0.113.9"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"success":true,"message":"`+msgMFAForceDisabled+`"}`, string(r.body))

		st, _ := b.platformStatus(t, u.ID)
		require.Equal(t, mfaStatusBody{}, st)
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, tok))
		var secrets, codes int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM user_totp_secrets WHERE user_id = $1), (SELECT count(*) FROM totp_backup_codes WHERE user_id = $1)`, u.ID).Scan(&secrets, &codes))
		require.Zero(t, secrets)
		require.Zero(t, codes)
		on, err := b.mod.MFAEnabled(t.Context(), u.ID)
		require.NoError(t, err)
		require.False(t, on)

		// The MFA trail.
		rows := b.mfaAuditOf(t, u.ID, "mfa_force_disabled_by_admin")
		require.Len(t, rows, 1)
		require.Equal(t, "disabled_by_admin:"+b.owner.ID.String(), rows[0].Details)
		require.True(t, *rows[0].Success)
		require.Equal(t, "203.0.113.9", rows[0].IP)

		// The platform trail.
		plat := b.platformAudit(t, "force_disable_mfa")
		require.Len(t, plat, 1)
		require.Equal(t, b.owner.ID, *plat[0].OwnerID)
		require.Equal(t, "user", plat[0].TargetType)
		require.Equal(t, u.ID.String(), plat[0].TargetID)
		require.Equal(t, map[string]any{"user_email": "ada@example.test", "admin_id": b.owner.ID.String(), "admin_email": platformOwnerEmail}, plat[0].Metadata)
		evs := b.events.ofType("force_disable_mfa")
		require.Len(t, evs, 1)
		require.Equal(t, events.ActorPlatformOwner, evs[0].ActorType)
		require.Equal(t, events.StreamPlatform, evs[0].Stream)

		disabled := b.eventsFor("user.mfa.disabled", u.ID)
		require.Len(t, disabled, 1)
		require.Equal(t, b.owner.ID, *disabled[0].ActorID)
		require.Equal(t, events.ActorPlatformOwner, disabled[0].ActorType)
		require.Len(t, b.eventsFor("security.mfa.disabled", u.ID), 1)

		// The user can enrol again.
		b.clock.Advance(30 * time.Second)
		b.enableMFA(t, tok)

		// Force-disabling a user without MFA changes and records nothing.
		other, _ := b.mfaAccount(t, "bob@example.test")
		r = b.del(t, platformMFAPath(other.ID.String()), nil, bearer(b.ownerTok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Len(t, b.platformAudit(t, "force_disable_mfa"), 1)
		require.Empty(t, b.mfaAudit(t, other.ID))
	})

	t.Run("ForceDisableOfATenantUserReachesTheOrganizationTrail", func(t *testing.T) {
		t.Parallel()
		b := setupOwner(t)
		u, org, tok := b.tenantAccount(t, "end-user@example.test")
		b.enableMFA(t, tok)
		r := b.del(t, platformMFAPath(u.ID.String()), nil, bearer(b.ownerTok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))

		rows := b.mfaAuditOf(t, u.ID, "mfa_force_disabled_by_admin")
		require.Len(t, rows, 1)
		require.Equal(t, org, *rows[0].OrgID)
		var actor uuid.UUID
		var actorType string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT actor_user_id, actor_type FROM organization_audit_log
			WHERE org_id = $1 AND action = 'security.mfa.disabled' AND target_id = $2`, org, u.ID.String()).Scan(&actor, &actorType))
		require.Equal(t, b.owner.ID, actor)
		require.Equal(t, "platform_owner", actorType)
	})
}
