package tenancy_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
)

func TestPlatformTiers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	got := decode[[]tierBody](t, b.do(t, http.MethodGet, "/api/platform/tiers", po.Token, nil), http.StatusOK)
	require.Len(t, got, 4)
	ids := []string{got[0].ID, got[1].ID, got[2].ID, got[3].ID}
	require.Equal(t, []string{"tier_free", "tier_starter", "tier_pro", "tier_enterprise"}, ids, "cheapest first")

	free, pro, ent := got[0], got[2], got[3]
	require.Equal(t, "Free Tier", free.DisplayName)
	require.Equal(t, 2, free.DefaultMaxServices)
	require.Equal(t, 3, free.DefaultMaxUsers)
	require.Equal(t, "usd", free.Currency)
	require.True(t, free.Features.AllowPasskeys)
	require.False(t, free.Features.AllowSAMLIdP)
	require.Equal(t, []string{"github"}, free.Features.AllowedSocialProviders)
	require.Equal(t, 1000, free.Features.MaxMAU)
	require.Equal(t, 14900, pro.PriceCents)
	require.True(t, pro.Features.AllowSCIM)
	require.False(t, pro.Features.AllowSIEM)
	require.True(t, ent.Features.AllowSIEM)
	require.Equal(t, []string{"github", "google", "microsoft", "oidc"}, ent.Features.AllowedSocialProviders)
	require.Equal(t, 999999, ent.DefaultMaxUsers)
}

type platformOrgBody struct {
	orgBody
	Tier  *tierBody `json:"tier"`
	Owner struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"owner"`
}

type platformOrgList struct {
	Organizations []platformOrgBody `json:"organizations"`
	Total         int               `json:"total"`
}

func TestPlatformListOrganizations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	alice, bob := b.user(t, "alice"), b.user(t, "bob")
	o1 := b.createOrg(t, alice)
	o2 := b.activeOrg(t, alice)
	o3 := b.createOrg(t, bob)
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET tier_id = 'tier_pro' WHERE id = $1`, o2.ID)
	require.NoError(t, err)
	// Bob's account is deleted: his organization shows an unknown owner.
	_, err = b.pool.Exec(t.Context(), `DELETE FROM users WHERE id = $1`, bob.ID)
	require.NoError(t, err)

	all := decode[platformOrgList](t, b.do(t, http.MethodGet, "/api/platform/organizations", po.Token, nil), http.StatusOK)
	require.Equal(t, 3, all.Total)
	require.Len(t, all.Organizations, 3)
	byID := map[string]platformOrgBody{}
	for _, o := range all.Organizations {
		byID[o.ID] = o
	}
	require.Equal(t, alice.Email, byID[o1.ID.String()].Owner.Email)
	require.Equal(t, alice.ID.String(), byID[o1.ID.String()].Owner.ID)
	require.Equal(t, "tier_free", byID[o1.ID.String()].Tier.ID)
	require.Equal(t, o1.Slug, byID[o1.ID.String()].Slug, "organization fields are inlined")
	require.Equal(t, "unknown", byID[o3.ID.String()].Owner.ID)
	require.Equal(t, "deleted-user@unknown", byID[o3.ID.String()].Owner.Email)
	require.Nil(t, byID[o3.ID.String()].OwnerUserID)

	active := decode[platformOrgList](t, b.do(t, http.MethodGet, "/api/platform/organizations?status=active", po.Token, nil), http.StatusOK)
	require.Equal(t, 1, active.Total)
	require.Equal(t, o2.ID.String(), active.Organizations[0].ID)
	pro := decode[platformOrgList](t, b.do(t, http.MethodGet, "/api/platform/organizations?tier_id=tier_pro", po.Token, nil), http.StatusOK)
	require.Equal(t, 1, pro.Total)
	require.Equal(t, "Pro Tier", pro.Organizations[0].Tier.DisplayName)

	page := decode[platformOrgList](t, b.do(t, http.MethodGet, "/api/platform/organizations?limit=2&offset=2", po.Token, nil), http.StatusOK)
	require.Equal(t, 3, page.Total)
	require.Len(t, page.Organizations, 1)
	requireFieldError(t, b.do(t, http.MethodGet, "/api/platform/organizations?limit=500", po.Token, nil), "query.limit")
}

func TestPlatformLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	orgPath := func(o org, action string) string {
		return "/api/platform/organizations/" + o.ID.String() + "/" + action
	}
	status := func(t *testing.T, o org) string {
		t.Helper()
		var s string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT status FROM organizations WHERE id = $1`, o.ID).Scan(&s))
		return s
	}

	t.Run("ApproveDefaultsToFreeTierAndIsAudited", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "approve"))
		got := decode[orgBody](t, b.do(t, http.MethodPost, orgPath(o, "approve"), po.Token, nil), http.StatusOK)
		require.Equal(t, "active", got.Status)
		require.Equal(t, "tier_free", got.TierID)
		require.Equal(t, po.ID.String(), *got.ApprovedBy)
		require.Equal(t, b.now, got.ApprovedAt.UTC())

		rows := b.platformAudit(t, "approve_organization", o.ID.String())
		require.Len(t, rows, 1)
		require.Equal(t, po.ID, *rows[0].ActorID)
		require.Equal(t, "organization", rows[0].TargetType)
		require.Equal(t, map[string]any{"old_status": "pending", "new_status": "active", "tier_id": "tier_free"}, rows[0].Details)

		// Now active, the organization can be selected.
		sel := b.do(t, http.MethodPost, "/api/organizations/"+o.Slug+"/select", o.Owner.Token, nil)
		require.Equal(t, http.StatusOK, sel.status, string(sel.body))
	})

	t.Run("ApproveOnTier", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "approve-pro"))
		got := decode[orgBody](t, b.do(t, http.MethodPost, orgPath(o, "approve"), po.Token, map[string]string{"tier_id": "tier_pro"}), http.StatusOK)
		require.Equal(t, "tier_pro", got.TierID)
	})

	t.Run("ApproveRefusals", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "approve-bad"))
		requireProblem(t, b.do(t, http.MethodPost, orgPath(o, "approve"), po.Token, map[string]string{"tier_id": "tier_gold"}),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization tier not found")
		require.Equal(t, "pending", status(t, o), "a refused approval changes nothing")
		require.Empty(t, b.platformAudit(t, "approve_organization", o.ID.String()))

		b.setStatus(t, o, tenancy.StatusActive)
		requireProblem(t, b.do(t, http.MethodPost, orgPath(o, "approve"), po.Token, nil),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Organization is not in pending status")
		requireProblem(t, b.do(t, http.MethodPost, "/api/platform/organizations/"+uuid.NewString()+"/approve", po.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
		requireProblem(t, b.do(t, http.MethodPost, "/api/platform/organizations/not-a-uuid/approve", po.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})

	t.Run("RejectNeedsReasonAndIsTerminal", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "reject"))
		requireFieldError(t, b.do(t, http.MethodPost, orgPath(o, "reject"), po.Token, map[string]string{}), "body")
		requireFieldError(t, b.do(t, http.MethodPost, orgPath(o, "reject"), po.Token, map[string]string{"reason": "   "}), "body.reason")

		got := decode[orgBody](t, b.do(t, http.MethodPost, orgPath(o, "reject"), po.Token, map[string]string{"reason": "Spam signup"}), http.StatusOK)
		require.Equal(t, "rejected", got.Status)
		require.Equal(t, "Spam signup", *got.RejectionReason)
		require.Equal(t, po.ID.String(), *got.RejectedBy)
		rows := b.platformAudit(t, "reject_organization", o.ID.String())
		require.Len(t, rows, 1)
		require.Equal(t, "Spam signup", rows[0].Details["reason"])

		for _, action := range []string{"approve", "activate"} {
			r := b.do(t, http.MethodPost, orgPath(o, action), po.Token, nil)
			require.Equal(t, http.StatusBadRequest, r.status, action+": "+string(r.body))
		}
		requireProblem(t, b.do(t, http.MethodPost, orgPath(o, "reject"), po.Token, map[string]string{"reason": "again"}),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Organization is not in pending status")
		require.Equal(t, "rejected", status(t, o))
	})

	t.Run("SuspendAndActivate", func(t *testing.T) {
		t.Parallel()
		o := b.activeOrg(t, b.user(t, "suspend"))
		requireProblem(t, b.do(t, http.MethodPost, orgPath(o, "activate"), po.Token, nil),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Organization is not suspended")
		_, err := b.sessions.IssueOrgSession(t.Context(), o.Owner.ID, o.ID, o.Slug, "", "")
		require.NoError(t, err)

		got := decode[orgBody](t, b.do(t, http.MethodPost, orgPath(o, "suspend"), po.Token, nil), http.StatusOK)
		require.Equal(t, "suspended", got.Status)
		// Suspension ends every session scoped to the organization.
		var live int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions WHERE org_id = $1 AND revoked_at IS NULL`, o.ID).Scan(&live))
		require.Zero(t, live)
		requireProblem(t, b.do(t, http.MethodPost, orgPath(o, "suspend"), po.Token, nil),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Organization is already suspended")
		// Suspended organizations fail the active gate.
		requireProblem(t, b.do(t, http.MethodPost, "/api/organizations/"+o.Slug+"/select", o.Owner.Token, nil),
			http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: suspended")

		got = decode[orgBody](t, b.do(t, http.MethodPost, orgPath(o, "activate"), po.Token, nil), http.StatusOK)
		require.Equal(t, "active", got.Status)

		suspended := b.platformAudit(t, "suspend_organization", o.ID.String())
		require.Len(t, suspended, 1)
		require.Equal(t, map[string]any{"old_status": "active", "new_status": "suspended"}, suspended[0].Details)
		activated := b.platformAudit(t, "activate_organization", o.ID.String())
		require.Len(t, activated, 1)
		require.Equal(t, map[string]any{"old_status": "suspended", "new_status": "active"}, activated[0].Details)
	})

	t.Run("PendingAndRejectedCanBeSuspended", func(t *testing.T) {
		t.Parallel()
		pending := b.createOrg(t, b.user(t, "suspend-pending"))
		rejected := b.createOrg(t, b.user(t, "suspend-rejected"))
		b.setStatus(t, rejected, tenancy.StatusRejected)
		for _, o := range []org{pending, rejected} {
			require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, orgPath(o, "suspend"), po.Token, nil).status)
			require.Equal(t, "suspended", status(t, o))
		}
	})

	t.Run("DeleteAnyStatus", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "po-delete"))
		r := b.do(t, http.MethodDelete, "/api/platform/organizations/"+o.ID.String(), po.Token, nil)
		got := decode[map[string]any](t, r, http.StatusOK)
		require.Equal(t, map[string]any{"success": true, "message": "Organization deleted successfully"}, got)
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organizations WHERE id = $1`, o.ID).Scan(&n))
		require.Zero(t, n)
		rows := b.platformAudit(t, "delete_organization", o.ID.String())
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"org_slug": o.Slug, "org_name": "Org " + o.Slug, "status": "pending"}, rows[0].Details)

		requireProblem(t, b.do(t, http.MethodDelete, "/api/platform/organizations/"+o.ID.String(), po.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestPlatformTierAndFeatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	path := func(o org, what string) string { return "/api/platform/organizations/" + o.ID.String() + "/" + what }

	t.Run("TierOverridesSetAndCleared", func(t *testing.T) {
		t.Parallel()
		o := b.activeOrg(t, b.user(t, "tier"))
		got := decode[orgBody](t, b.do(t, http.MethodPatch, path(o, "tier"), po.Token,
			map[string]any{"tier_id": "tier_starter", "max_services": 12, "max_users": 25}), http.StatusOK)
		require.Equal(t, "tier_starter", got.TierID)
		require.Equal(t, 12, *got.MaxServices)
		require.Equal(t, 25, *got.MaxUsers)
		rows := b.platformAudit(t, "update_organization_tier", o.ID.String())
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"old_tier_id": "tier_free", "new_tier_id": "tier_starter", "max_services": float64(12), "max_users": float64(25)}, rows[0].Details)

		got = decode[orgBody](t, b.do(t, http.MethodPatch, path(o, "tier"), po.Token,
			map[string]any{"tier_id": "tier_pro", "max_services": nil, "max_users": nil}), http.StatusOK)
		require.Equal(t, "tier_pro", got.TierID)
		require.Nil(t, got.MaxServices, "null clears the override")
		require.Nil(t, got.MaxUsers)
	})

	t.Run("TierRefusals", func(t *testing.T) {
		t.Parallel()
		o := b.activeOrg(t, b.user(t, "tier-bad"))
		requireProblem(t, b.do(t, http.MethodPatch, path(o, "tier"), po.Token, map[string]any{"tier_id": "tier_gold"}),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization tier not found")
		requireFieldError(t, b.do(t, http.MethodPatch, path(o, "tier"), po.Token, map[string]any{"tier_id": "tier_pro", "max_services": -1}), "body.max_services")
		requireFieldError(t, b.do(t, http.MethodPatch, path(o, "tier"), po.Token, map[string]any{"tier_id": "tier_pro", "max_users": 0}), "body.max_users")
		requireProblem(t, b.do(t, http.MethodPatch, "/api/platform/organizations/"+uuid.NewString()+"/tier", po.Token, map[string]any{"tier_id": "tier_pro"}),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
		require.Empty(t, b.platformAudit(t, "update_organization_tier", o.ID.String()))
	})

	t.Run("FeaturesMergeWithAliases", func(t *testing.T) {
		t.Parallel()
		o := b.activeOrg(t, b.user(t, "features"))
		got := decode[orgBody](t, b.do(t, http.MethodPatch, path(o, "features"), po.Token,
			map[string]any{"allow_saml": true, "allowed_social_providers": []string{"Google", "google"}, "max_mau": 5000}), http.StatusOK)
		require.JSONEq(t, `{"allow_saml_idp": true, "allowed_social_providers": ["google"], "max_mau": 5000}`, *got.FeatureOverrides)

		got = decode[orgBody](t, b.do(t, http.MethodPatch, path(o, "features"), po.Token,
			map[string]any{"allow_siem_integration": true, "allow_custom_branding": true, "allow_saml_idp": false}), http.StatusOK)
		require.JSONEq(t, `{"allow_saml_idp": false, "allow_siem": true, "allow_branding": true, "allowed_social_providers": ["google"], "max_mau": 5000}`,
			*got.FeatureOverrides, "fields merge; false withdraws a widening")

		var stored tenancy.FeatureOverrides
		require.NoError(t, json.Unmarshal([]byte(*got.FeatureOverrides), &stored))
		free := tenancy.Features{AllowPasskeys: true, AllowedSocialProviders: []string{"github"}, MaxMAU: 1000}
		eff := free.Widen(&stored)
		require.False(t, eff.AllowSAMLIdP)
		require.True(t, eff.AllowSIEM)
		require.True(t, eff.AllowBranding)
		require.Equal(t, []string{"github", "google"}, eff.AllowedSocialProviders)
		require.Equal(t, 5000, eff.MaxMAU)

		rows := b.platformAudit(t, "update_organization_features", o.ID.String())
		require.Len(t, rows, 2)
		require.Equal(t, true, rows[0].Details["features"].(map[string]any)["allow_siem"])
	})

	t.Run("UnknownProviderIs422", func(t *testing.T) {
		t.Parallel()
		o := b.activeOrg(t, b.user(t, "features-bad"))
		requireFieldError(t, b.do(t, http.MethodPatch, path(o, "features"), po.Token,
			map[string]any{"allowed_social_providers": []string{"myspace"}}), "body.allowed_social_providers")
		requireFieldError(t, b.do(t, http.MethodPatch, path(o, "features"), po.Token, map[string]any{"allow_teleport": true}), "body.allow_teleport")
	})
}

func TestPlatformOwners(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)

	t.Run("PromoteAndDemote", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "promote")
		got := decode[userBody](t, b.do(t, http.MethodPost, "/api/platform/owners", po.Token, map[string]string{"user_id": u.ID.String()}), http.StatusOK)
		require.True(t, got.IsPlatformOwner)
		require.Equal(t, u.Email, got.Email)
		requireProblem(t, b.do(t, http.MethodPost, "/api/platform/owners", po.Token, map[string]string{"user_id": u.ID.String()}),
			http.StatusBadRequest, httpapi.CodeBadRequest, "User is already a platform owner")
		// The new owner's very next request carries the flag.
		require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/platform/tiers", u.Token, nil).status)

		got = decode[userBody](t, b.do(t, http.MethodDelete, "/api/platform/owners/"+u.ID.String(), po.Token, nil), http.StatusOK)
		require.False(t, got.IsPlatformOwner)
		requireProblem(t, b.do(t, http.MethodGet, "/api/platform/tiers", u.Token, nil), http.StatusForbidden, httpapi.CodeForbidden, msgNotPO)
		requireProblem(t, b.do(t, http.MethodDelete, "/api/platform/owners/"+u.ID.String(), po.Token, nil),
			http.StatusBadRequest, httpapi.CodeBadRequest, "User is not a platform owner")

		promoted := b.platformAudit(t, "promote_platform_owner", u.ID.String())
		require.Len(t, promoted, 1)
		require.Equal(t, map[string]any{"user_email": u.Email}, promoted[0].Details)
		require.Equal(t, po.ID, *promoted[0].ActorID)
		require.Len(t, b.platformAudit(t, "demote_platform_owner", u.ID.String()), 1)
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, b.do(t, http.MethodDelete, "/api/platform/owners/"+po.ID.String(), po.Token, nil),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot demote yourself")
		requireProblem(t, b.do(t, http.MethodPost, "/api/platform/owners", po.Token, map[string]string{"user_id": uuid.NewString()}),
			http.StatusNotFound, httpapi.CodeNotFound, "User not found")
		requireProblem(t, b.do(t, http.MethodDelete, "/api/platform/owners/"+uuid.NewString(), po.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "User not found")
		requireProblem(t, b.do(t, http.MethodPost, "/api/platform/owners", po.Token, map[string]string{"user_id": "nope"}),
			http.StatusNotFound, httpapi.CodeNotFound, "User not found")
	})
}

// TestLastPlatformOwner covers the protection that only a race can reach
// through HTTP: a caller whose owner flag is stale (already demoted by a
// concurrent request) tries to demote the last remaining owner.
func TestLastPlatformOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	last, stale := b.platformOwner(t), b.user(t, "stale")
	_, err := b.mod.Service().DemotePlatformOwner(t.Context(), tenancy.Actor{UserID: stale.ID, IsPlatformOwner: true}, last.ID)
	require.ErrorIs(t, err, tenancy.ErrLastPlatformOwner)

	var owner bool
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT is_platform_owner FROM users WHERE id = $1`, last.ID).Scan(&owner))
	require.True(t, owner)
	require.Empty(t, b.platformAudit(t, "demote_platform_owner", last.ID.String()), "the audit row rolled back with the refusal")
}

func TestPlatformUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	ada, grace := b.user(t, "ada"), b.user(t, "grace")
	o := b.activeOrg(t, ada)
	// A tenant end user is not a platform user.
	_, err := b.pool.Exec(t.Context(), `INSERT INTO users (id, org_id, email) VALUES ($1, $2, 'ada-end-user@example.test')`, uuid.New(), o.ID)
	require.NoError(t, err)

	type userList struct {
		Users []userBody `json:"users"`
		Total int        `json:"total"`
	}
	all := decode[userList](t, b.do(t, http.MethodGet, "/api/platform/users", po.Token, nil), http.StatusOK)
	require.Equal(t, 3, all.Total)
	require.Len(t, all.Users, 3)
	page := decode[userList](t, b.do(t, http.MethodGet, "/api/platform/users?limit=1&offset=1", po.Token, nil), http.StatusOK)
	require.Equal(t, 3, page.Total)
	require.Len(t, page.Users, 1)

	found := decode[[]userBody](t, b.do(t, http.MethodGet, "/api/platform/users/search?q=ADA-", po.Token, nil), http.StatusOK)
	require.Len(t, found, 1)
	require.Equal(t, ada.ID.String(), found[0].ID)
	byID := decode[[]userBody](t, b.do(t, http.MethodGet, "/api/platform/users/search?q="+grace.ID.String(), po.Token, nil), http.StatusOK)
	require.Len(t, byID, 1)
	require.Equal(t, grace.Email, byID[0].Email)
	requireFieldError(t, b.do(t, http.MethodGet, "/api/platform/users/search", po.Token, nil), "query.q")
	requireFieldError(t, b.do(t, http.MethodGet, "/api/platform/users/search?q=a&limit=51", po.Token, nil), "query.limit")

	one := decode[userBody](t, b.do(t, http.MethodGet, "/api/platform/users/"+ada.ID.String(), po.Token, nil), http.StatusOK)
	require.Equal(t, ada.Email, one.Email)
	require.False(t, one.IsPlatformOwner)
	requireProblem(t, b.do(t, http.MethodGet, "/api/platform/users/"+uuid.NewString(), po.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "User not found")
}

func TestPlatformAuditActorType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	po := b.platformOwner(t)
	o := b.createOrg(t, b.user(t, "actor"))
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/platform/organizations/"+o.ID.String()+"/approve", po.Token, nil).status)
	rows := b.platformAudit(t, "approve_organization", o.ID.String())
	require.Len(t, rows, 1)
	require.Equal(t, string(events.ActorPlatformOwner), rows[0].ActorType)
	require.Equal(t, "tenancy-test", rows[0].UserAgent)
	require.NotEmpty(t, rows[0].IP)
}
