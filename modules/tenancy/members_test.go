package tenancy_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
)

type membersBody struct {
	Members []memberBody `json:"members"`
	Total   int          `json:"total"`
	Limit   struct {
		Current int    `json:"current"`
		Max     int    `json:"max"`
		Source  string `json:"source"`
	} `json:"limit"`
}

func TestListMembers(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("MembersWithUsersAndTierLimit", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[membersBody](t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug+"/members", w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, 3, got.Total)
		require.Len(t, got.Members, 3)
		require.Equal(t, w.OwnerA.Email, got.Members[0].User.Email)
		require.Equal(t, "owner", got.Members[0].Membership.Role)
		require.Equal(t, w.A.ID.String(), got.Members[0].Membership.OrgID)
		require.Equal(t, w.AdminA.ID.String(), got.Members[1].User.ID)
		require.Equal(t, "admin", got.Members[1].Membership.Role)
		require.Equal(t, w.MemberA.ID.String(), got.Members[2].Membership.UserID)
		require.Equal(t, 3, got.Limit.Current)
		require.Equal(t, 3, got.Limit.Max)
		require.Equal(t, "free", got.Limit.Source)
	})

	t.Run("RoleFilterAndPagination", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		base := "/api/organizations/" + w.A.Slug + "/members"
		admins := decode[membersBody](t, b.do(t, http.MethodGet, base+"?role=admin", w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, 1, admins.Total)
		require.Len(t, admins.Members, 1)
		require.Equal(t, w.AdminA.ID.String(), admins.Members[0].User.ID)
		require.Equal(t, 3, admins.Limit.Current, "the team limit counts every member")

		page := decode[membersBody](t, b.do(t, http.MethodGet, base+"?page=2&limit=2", w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, 3, page.Total)
		require.Len(t, page.Members, 1)
		require.Equal(t, w.MemberA.ID.String(), page.Members[0].User.ID)
		requireFieldError(t, b.do(t, http.MethodGet, base+"?role=superuser", w.MemberA.Token, nil), "query.role")
	})

	t.Run("CustomLimitOverride", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, "/api/platform/organizations/"+w.A.ID.String()+"/tier", w.PO.Token,
			map[string]any{"tier_id": "tier_starter", "max_users": 7})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		got := decode[membersBody](t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug+"/members", w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, 7, got.Limit.Max)
		require.Equal(t, "custom", got.Limit.Source)

		r = b.do(t, http.MethodPatch, "/api/platform/organizations/"+w.A.ID.String()+"/tier", w.PO.Token, map[string]any{"tier_id": "tier_starter"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		got = decode[membersBody](t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug+"/members", w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, 10, got.Limit.Max)
		require.Equal(t, "starter", got.Limit.Source)
	})
}

func TestChangeMemberRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := func(o org, target account) string {
		return "/api/organizations/" + o.Slug + "/members/" + target.ID.String()
	}

	t.Run("OwnerPromotesMemberWithBothAuditEvents", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[memberBody](t, b.do(t, http.MethodPatch, path(w.A, w.MemberA), w.OwnerA.Token, map[string]string{"role": "admin"}), http.StatusOK)
		require.Equal(t, "admin", got.Membership.Role)
		require.Equal(t, w.MemberA.Email, got.User.Email)
		require.Equal(t, "admin", b.role(t, w.A, w.MemberA))

		changed := b.orgAudit(t, w.A.ID, "member.role_changed")
		require.Len(t, changed, 1)
		require.Equal(t, w.OwnerA.ID, *changed[0].ActorID)
		require.Equal(t, "user", changed[0].TargetType)
		require.Equal(t, w.MemberA.ID.String(), changed[0].TargetID)
		require.Equal(t, map[string]any{"old_role": "member", "new_role": "admin", "target_user_email": w.MemberA.Email}, changed[0].Details)
		updated := b.orgAudit(t, w.A.ID, "user.role_updated")
		require.Len(t, updated, 1)
		require.Equal(t, map[string]any{"user_email": w.MemberA.Email, "old_role": "member", "new_role": "admin"}, updated[0].Details)
	})

	t.Run("OwnerDemotesAdmin", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, path(w.A, w.AdminA), w.OwnerA.Token, map[string]string{"role": "member"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "member", b.role(t, w.A, w.AdminA))
	})

	t.Run("GrantingOwnerTransfersOwnership", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[memberBody](t, b.do(t, http.MethodPatch, path(w.A, w.MemberA), w.OwnerA.Token, map[string]string{"role": "owner"}), http.StatusOK)
		require.Equal(t, "owner", got.Membership.Role)
		require.Equal(t, "owner", b.role(t, w.A, w.MemberA))
		require.Equal(t, "admin", b.role(t, w.A, w.OwnerA), "the previous owner becomes admin")
		var owner uuid.UUID
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT owner_user_id FROM organizations WHERE id = $1`, w.A.ID).Scan(&owner))
		require.Equal(t, w.MemberA.ID, owner)

		transferred := b.orgAudit(t, w.A.ID, "org.ownership_transferred")
		require.Len(t, transferred, 1)
		require.Equal(t, w.OwnerA.Email, transferred[0].Details["previous_owner_email"])
		require.Equal(t, w.MemberA.Email, transferred[0].Details["new_owner_email"])
		require.Len(t, b.orgAudit(t, w.A.ID, "member.role_changed"), 2, "the target's and the previous owner's changes")
		require.Len(t, b.orgAudit(t, w.A.ID, "user.role_updated"), 2)

		// The new owner holds the owner-only powers; the old one lost them.
		requireProblem(t, b.do(t, http.MethodDelete, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, nil),
			http.StatusForbidden, httpapi.CodeForbidden, "Only the organization owner can delete the organization")
		require.Equal(t, http.StatusOK, b.do(t, http.MethodDelete, "/api/organizations/"+w.A.Slug, w.MemberA.Token, nil).status)
	})

	t.Run("OwnerProtections", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		cases := []struct {
			Name   string
			Caller account
			Target account
			Role   string
			Status int
			Code   string
			Msg    string
		}{
			{"OwnerCannotDemoteThemselves", w.OwnerA, w.OwnerA, "admin", http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot change your own role"},
			{"AdminCannotChangeOwnRole", w.AdminA, w.AdminA, "member", http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot change your own role"},
			{"AdminCannotDemoteOwner", w.AdminA, w.OwnerA, "member", http.StatusForbidden, httpapi.CodeForbidden, "Only owners can change the roles of owners and admins"},
			{"AdminCannotGrantOwner", w.AdminA, w.MemberA, "owner", http.StatusForbidden, httpapi.CodeForbidden, "Only owners can change the roles of owners and admins"},
			{"InvalidRole", w.OwnerA, w.MemberA, "superuser", http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid role. Choose a system role or custom organization role."},
			{"TargetNotMember", w.OwnerA, w.AdminB, "admin", http.StatusNotFound, httpapi.CodeNotFound, "User is not a member of this organization"},
		}
		for _, tc := range cases {
			r := b.do(t, http.MethodPatch, path(w.A, tc.Target), tc.Caller.Token, map[string]string{"role": tc.Role})
			requireProblem(t, r, tc.Status, tc.Code, tc.Msg)
		}
		r := b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug+"/members/not-a-uuid", w.OwnerA.Token, map[string]string{"role": "admin"})
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "User is not a member of this organization")
		require.Equal(t, "owner", b.role(t, w.A, w.OwnerA))
		require.Equal(t, "admin", b.role(t, w.A, w.AdminA))
		require.Equal(t, "member", b.role(t, w.A, w.MemberA))
		require.Empty(t, b.orgAudit(t, w.A.ID, "member.role_changed"))
	})

	t.Run("SameRoleChangesNothing", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[memberBody](t, b.do(t, http.MethodPatch, path(w.A, w.MemberA), w.AdminA.Token, map[string]string{"role": "member"}), http.StatusOK)
		require.Equal(t, "member", got.Membership.Role)
		require.Empty(t, b.orgAudit(t, w.A.ID, "member.role_changed"))
	})
}

func TestRemoveMember(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := func(o org, target account) string {
		return "/api/organizations/" + o.Slug + "/members/" + target.ID.String()
	}

	t.Run("AdminRemovesMemberWithBothAuditEvents", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, path(w.A, w.MemberA), w.AdminA.Token, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "null", string(r.body[:4]))
		require.Empty(t, b.role(t, w.A, w.MemberA))

		removed := b.orgAudit(t, w.A.ID, "member.removed")
		require.Len(t, removed, 1)
		require.Equal(t, map[string]any{"removed_user_email": w.MemberA.Email, "removed_role": "member", "removed_by_role": "admin"}, removed[0].Details)
		webhook := b.orgAudit(t, w.A.ID, "user.removed")
		require.Len(t, webhook, 1)
		require.Equal(t, w.MemberA.Email, webhook[0].Details["user_email"])

		// The removed member lost access.
		requireProblem(t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug, w.MemberA.Token, nil), http.StatusForbidden, httpapi.CodeForbidden, msgNotMember)
	})

	t.Run("RevokesTheRemovedMembersOrgSessionsOnly", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		ctx := t.Context()
		_, err := b.sessions.IssueOrgSession(ctx, w.MemberA.ID, w.A.ID, w.A.Slug, "", "")
		require.NoError(t, err)
		_, err = b.sessions.IssueOrgSession(ctx, w.AdminA.ID, w.A.ID, w.A.Slug, "", "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, path(w.A, w.MemberA), w.AdminA.Token, nil).status)

		var memberLive, adminLive int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1 AND org_id = $2 AND revoked_at IS NULL`, w.MemberA.ID, w.A.ID).Scan(&memberLive))
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1 AND org_id = $2 AND revoked_at IS NULL`, w.AdminA.ID, w.A.ID).Scan(&adminLive))
		require.Zero(t, memberLive)
		require.Equal(t, 1, adminLive)
		b.sessions.mu.Lock()
		defer b.sessions.mu.Unlock()
		require.NotEmpty(t, b.sessions.forgotten, "revoked sessions are dropped from the session cache after the commit")
	})

	t.Run("OwnerRemovesAdmin", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, path(w.A, w.AdminA), w.OwnerA.Token, nil).status)
		require.Empty(t, b.role(t, w.A, w.AdminA))
	})

	t.Run("Protections", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		other := b.user(t, "second-admin")
		b.addMember(t, w.A, other, tenancy.RoleAdmin)
		cases := []struct {
			Name   string
			Caller account
			Target account
			Status int
			Code   string
			Msg    string
		}{
			{"OwnerCannotRemoveThemselves", w.OwnerA, w.OwnerA, http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot remove yourself from the organization"},
			{"AdminCannotRemoveThemselves", w.AdminA, w.AdminA, http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot remove yourself from the organization"},
			{"AdminCannotRemoveAdmin", w.AdminA, other, http.StatusForbidden, httpapi.CodeForbidden, "Only owners can remove other owners and admins"},
			{"AdminCannotRemoveOwner", w.AdminA, w.OwnerA, http.StatusForbidden, httpapi.CodeForbidden, "Only owners can remove other owners and admins"},
			{"MemberCannotRemove", w.MemberA, other, http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to remove members"},
			{"TargetNotMember", w.OwnerA, w.AdminB, http.StatusNotFound, httpapi.CodeNotFound, "User is not a member of this organization"},
		}
		for _, tc := range cases {
			requireProblem(t, b.do(t, http.MethodPost, path(w.A, tc.Target), tc.Caller.Token, nil), tc.Status, tc.Code, tc.Msg)
		}
		require.Equal(t, "owner", b.role(t, w.A, w.OwnerA))
		require.Equal(t, "admin", b.role(t, w.A, other))
		require.Empty(t, b.orgAudit(t, w.A.ID, "member.removed"))
	})
}

func TestTransferOwnership(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := func(o org) string { return "/api/organizations/" + o.Slug + "/transfer-ownership" }

	t.Run("ByEmailToAMember", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[memberBody](t, b.do(t, http.MethodPost, path(w.A), w.OwnerA.Token, map[string]string{"new_owner_email": w.MemberA.Email}), http.StatusOK)
		require.Equal(t, w.MemberA.ID.String(), got.User.ID)
		require.Equal(t, "owner", got.Membership.Role)
		require.Equal(t, "admin", b.role(t, w.A, w.OwnerA))
		rows := b.orgAudit(t, w.A.ID, "org.ownership_transferred")
		require.Len(t, rows, 1)
		require.Equal(t, w.OwnerA.ID, *rows[0].ActorID)
		require.Equal(t, w.MemberA.ID.String(), rows[0].Details["new_owner_id"])
	})

	t.Run("EmailMatchesCaseInsensitively", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, path(w.A), w.OwnerA.Token, map[string]string{"new_owner_email": "  " + upper(w.AdminA.Email)})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "owner", b.role(t, w.A, w.AdminA))
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		cases := []struct {
			Name   string
			Email  string
			Status int
			Code   string
			Msg    string
		}{
			{"TargetNotMember", w.AdminB.Email, http.StatusNotFound, httpapi.CodeNotFound, "User is not a member of this organization"},
			{"UnknownEmail", "nobody@example.test", http.StatusNotFound, httpapi.CodeNotFound, "User is not a member of this organization"},
			{"Themselves", w.OwnerA.Email, http.StatusBadRequest, httpapi.CodeBadRequest, "User is already the owner of this organization"},
		}
		for _, tc := range cases {
			requireProblem(t, b.do(t, http.MethodPost, path(w.A), w.OwnerA.Token, map[string]string{"new_owner_email": tc.Email}), tc.Status, tc.Code, tc.Msg)
		}
		require.Equal(t, "owner", b.role(t, w.A, w.OwnerA))
		require.Empty(t, b.orgAudit(t, w.A.ID, "org.ownership_transferred"))
	})
}

func upper(s string) string {
	out := []rune(s)
	for i, r := range out {
		if r >= 'a' && r <= 'z' {
			out[i] = r - 'a' + 'A'
		}
	}
	return string(out)
}
