package tenancy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
)

func TestCreateOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *tenancy.Config) { c.MaxOrgsPerUser = 2 })

	t.Run("CallerBecomesOwnerOfPendingFreeOrgWithOrgSession", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "creator")
		slug := newSlug("Acme")
		r := b.do(t, http.MethodPost, "/api/organizations", u.Token, map[string]string{"slug": slug, "name": "  Acme Inc  "})
		got := decode[sessionBody](t, r, http.StatusOK)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		require.Equal(t, slug, got.Organization.Slug)
		require.Equal(t, "Acme Inc", got.Organization.Name, "name is trimmed")
		require.Equal(t, "pending", got.Organization.Status)
		require.Equal(t, "tier_free", got.Organization.TierID)
		require.Equal(t, u.ID.String(), *got.Organization.OwnerUserID)
		require.Nil(t, got.Organization.FeatureOverrides)
		require.Equal(t, b.now, got.Organization.CreatedAt.UTC())
		require.NotNil(t, got.Owner)
		require.Equal(t, u.Email, got.Owner.Email)
		require.Equal(t, "owner", got.Membership.Role)
		require.Equal(t, got.Organization.ID, got.Membership.OrgID)
		require.NotEmpty(t, got.AccessToken)
		require.NotEmpty(t, got.RefreshToken)
		require.Equal(t, 86400, got.ExpiresIn)

		sess, ok := b.sessions.byAccessToken(got.AccessToken)
		require.True(t, ok, "the tokens come from the Sessions dependency")
		require.Equal(t, u.ID, sess.UserID)
		require.Equal(t, got.Organization.ID, sess.OrgID.String())
		require.Equal(t, slug, sess.OrgSlug)

		rows := b.orgAudit(t, uuid.MustParse(got.Organization.ID), "org.created")
		require.Len(t, rows, 1)
		require.Equal(t, u.ID, *rows[0].ActorID)
		require.Equal(t, map[string]any{"org_slug": slug, "org_name": "Acme Inc"}, rows[0].Details)
		require.Equal(t, "tenancy-test", rows[0].UserAgent)
	})

	t.Run("DuplicateSlugIsVague400InAnyCase", func(t *testing.T) {
		t.Parallel()
		u, other := b.user(t, "dup"), b.user(t, "dup2")
		slug := newSlug("dup")
		r := b.do(t, http.MethodPost, "/api/organizations", u.Token, map[string]string{"slug": slug, "name": "First"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		for _, s := range []string{slug, strings.ToUpper(slug)} {
			r = b.do(t, http.MethodPost, "/api/organizations", other.Token, map[string]string{"slug": s, "name": "Second"})
			requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Unable to create organization with the provided information")
		}
	})

	t.Run("ValidationIs422", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "validation")
		cases := []struct {
			Name     string
			Body     map[string]string
			Location string
		}{
			{"SlugTooShort", map[string]string{"slug": "ab", "name": "Valid"}, "body.slug"},
			{"SlugTooLong", map[string]string{"slug": strings.Repeat("a", 51), "name": "Valid"}, "body.slug"},
			{"SlugBadCharacters", map[string]string{"slug": "acme corp!", "name": "Valid"}, "body.slug"},
			{"SlugReserved", map[string]string{"slug": "admin", "name": "Valid"}, "body.slug"},
			{"SlugReservedAnyCase", map[string]string{"slug": "Static", "name": "Valid"}, "body.slug"},
			{"NameTooShort", map[string]string{"slug": newSlug("n"), "name": "A"}, "body.name"},
			{"NameBlank", map[string]string{"slug": newSlug("n"), "name": "     "}, "body.name"},
			{"NameTooLong", map[string]string{"slug": newSlug("n"), "name": strings.Repeat("n", 101)}, "body.name"},
			{"SlugMissing", map[string]string{"name": "Valid"}, "body"},
		}
		for _, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				requireFieldError(t, b.do(t, http.MethodPost, "/api/organizations", u.Token, tc.Body), tc.Location)
			})
		}
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organizations WHERE owner_user_id = $1`, u.ID).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("PerUserCap", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "cap")
		for range 2 {
			r := b.do(t, http.MethodPost, "/api/organizations", u.Token, map[string]string{"slug": newSlug("cap"), "name": "Capped"})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
		}
		r := b.do(t, http.MethodPost, "/api/organizations", u.Token, map[string]string{"slug": newSlug("cap"), "name": "Capped"})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "You have reached the maximum number of organizations (2) you can create.")
	})

	t.Run("MalformedJSONIs400", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "json")
		r := b.do(t, http.MethodPost, "/api/organizations", u.Token, nil)
		require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	})
}

func TestListAndGetOrganizations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	second := b.createOrg(t, w.AdminA) // pending, AdminA owns it

	t.Run("ListsOnlyTheCallersOrgsInJoinOrder", func(t *testing.T) {
		t.Parallel()
		// AdminA owns `second` since b.now and joined A a minute later.
		got := decode[[]summaryBody](t, b.do(t, http.MethodGet, "/api/organizations", w.AdminA.Token, nil), http.StatusOK)
		require.Len(t, got, 2)
		require.Equal(t, second.Slug, got[0].Organization.Slug)
		require.Equal(t, 1, got[0].MembershipCount)
		require.Equal(t, "pending", got[0].Organization.Status)
		require.Equal(t, w.A.Slug, got[1].Organization.Slug)
		require.Equal(t, 3, got[1].MembershipCount)
		require.Equal(t, 0, got[1].ServiceCount)
		require.NotNil(t, got[1].Tier)
		require.Equal(t, "tier_free", got[1].Tier.ID)
		require.Equal(t, 3, got[1].Tier.DefaultMaxUsers)

		none := decode[[]summaryBody](t, b.do(t, http.MethodGet, "/api/organizations", w.Stranger.Token, nil), http.StatusOK)
		require.Empty(t, none)
	})

	t.Run("PagesAndFiltersByStatus", func(t *testing.T) {
		t.Parallel()
		page2 := decode[[]summaryBody](t, b.do(t, http.MethodGet, "/api/organizations?page=2&limit=1", w.AdminA.Token, nil), http.StatusOK)
		require.Len(t, page2, 1)
		require.Equal(t, w.A.Slug, page2[0].Organization.Slug)
		pending := decode[[]summaryBody](t, b.do(t, http.MethodGet, "/api/organizations?status=pending", w.AdminA.Token, nil), http.StatusOK)
		require.Len(t, pending, 1)
		require.Equal(t, second.Slug, pending[0].Organization.Slug)
		requireFieldError(t, b.do(t, http.MethodGet, "/api/organizations?limit=101", w.AdminA.Token, nil), "query.limit")
		requireFieldError(t, b.do(t, http.MethodGet, "/api/organizations?status=deleted", w.AdminA.Token, nil), "query.status")
	})

	t.Run("GetBySlugCaseInsensitively", func(t *testing.T) {
		t.Parallel()
		got := decode[summaryBody](t, b.do(t, http.MethodGet, "/api/organizations/"+strings.ToUpper(w.A.Slug), w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, w.A.ID.String(), got.Organization.ID)
		require.Equal(t, "active", got.Organization.Status)
		require.Equal(t, 3, got.MembershipCount)
	})

	t.Run("UnknownOrganizationIs404", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, b.do(t, http.MethodGet, "/api/organizations/no-such-org", w.MemberA.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestUpdateOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("RenameRecordsAuditAndWebhookEvents", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.AdminA.Token, map[string]string{"name": "Renamed Org"})
		got := decode[summaryBody](t, r, http.StatusOK)
		require.Equal(t, "Renamed Org", got.Organization.Name)
		rows := b.orgAudit(t, w.A.ID, "org.updated")
		require.Len(t, rows, 1)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, string(events.ActorUser), rows[0].ActorType)
		require.Equal(t, "Renamed Org", rows[0].Details["new_name"])
		require.Len(t, b.orgAudit(t, w.A.ID, "organization.updated"), 1)
	})

	t.Run("PlatformOwnerIsAuditedAsPlatformOwner", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.PO.Token, map[string]string{"name": "Support Fix"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		rows := b.orgAudit(t, w.A.ID, "org.updated")
		require.Len(t, rows, 1)
		require.Equal(t, w.PO.ID, *rows[0].ActorID)
		require.Equal(t, string(events.ActorPlatformOwner), rows[0].ActorType)
	})

	t.Run("UnchangedOrMissingNameRecordsNothing", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		name := "Org " + w.A.Slug
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, map[string]string{"name": name}).status)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, map[string]string{}).status)
		require.Empty(t, b.orgAudit(t, w.A.ID, "org.updated"))
	})

	t.Run("NameValidation", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		requireFieldError(t, b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, map[string]string{"name": "x"}), "body.name")
		requireFieldError(t, b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, map[string]string{"name": "   "}), "body.name")
	})

	t.Run("MemberGets403BeforeValidation", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		requireProblem(t, b.do(t, http.MethodPatch, "/api/organizations/"+w.A.Slug, w.MemberA.Token, map[string]string{"name": "   "}),
			http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to manage organization settings")
	})
}

func TestDeleteOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("CascadesAndKeepsPlatformAuditRow", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		ctx := t.Context()
		// Org-owned rows of other modules: a tenant end user with an
		// identity, a login event and an org-scoped session.
		endUser := uuid.Must(uuid.NewV7())
		_, err := b.pool.Exec(ctx, `INSERT INTO users (id, org_id, email) VALUES ($1, $2, 'end@user.test')`, endUser, w.A.ID)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `INSERT INTO identities (id, user_id, provider, provider_user_id, org_id) VALUES ($1, $2, 'password', 'x', $3)`, uuid.New(), endUser, w.A.ID)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `INSERT INTO login_events (id, user_id, org_id, provider) VALUES ($1, $2, $3, 'password')`, uuid.New(), w.MemberA.ID, w.A.ID)
		require.NoError(t, err)
		sel := b.do(t, http.MethodPost, "/api/organizations/"+w.A.Slug+"/select", w.MemberA.Token, nil)
		require.Equal(t, http.StatusOK, sel.status, string(sel.body))
		require.NotEmpty(t, b.orgAudit(t, w.A.ID, ""))

		r := b.do(t, http.MethodDelete, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "null", strings.TrimSpace(string(r.body)))

		for table, q := range map[string]string{
			"organizations":          `SELECT count(*) FROM organizations WHERE id = $1`,
			"memberships":            `SELECT count(*) FROM memberships WHERE org_id = $1`,
			"users":                  `SELECT count(*) FROM users WHERE org_id = $1`,
			"identities":             `SELECT count(*) FROM identities WHERE org_id = $1`,
			"sessions":               `SELECT count(*) FROM sessions WHERE org_id = $1`,
			"login_events":           `SELECT count(*) FROM login_events WHERE org_id = $1`,
			"organization_audit_log": `SELECT count(*) FROM organization_audit_log WHERE org_id = $1`,
		} {
			var n int
			require.NoError(t, b.pool.QueryRow(ctx, q, w.A.ID).Scan(&n))
			require.Zero(t, n, table)
		}
		var members int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = ANY($1)`, []uuid.UUID{w.OwnerA.ID, w.MemberA.ID}).Scan(&members))
		require.Equal(t, 2, members, "platform users outlive the organization")

		rows := b.platformAudit(t, "org.deleted", w.A.ID.String())
		require.Len(t, rows, 1)
		require.Equal(t, w.OwnerA.ID, *rows[0].ActorID)
		require.Equal(t, w.A.Slug, rows[0].Details["org_slug"])
		require.Equal(t, "Org "+w.A.Slug, rows[0].Details["org_name"])

		requireProblem(t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug, w.OwnerA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "")
	})

	t.Run("UnknownOrganizationIs404", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "del")
		requireProblem(t, b.do(t, http.MethodDelete, "/api/organizations/missing-org", u.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestSelectOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ActiveOrgIssuesOrgSession", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[sessionBody](t, b.do(t, http.MethodPost, "/api/organizations/"+w.A.Slug+"/select", w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, w.A.ID.String(), got.Organization.ID)
		require.Equal(t, "member", got.Membership.Role)
		require.Equal(t, 86400, got.ExpiresIn)
		sess, ok := b.sessions.byAccessToken(got.AccessToken)
		require.True(t, ok)
		require.Equal(t, w.MemberA.ID, sess.UserID)
		require.Equal(t, w.A.ID, sess.OrgID)
		require.NotEmpty(t, sess.IP)
	})

	t.Run("NonActiveOrgIsRefused", func(t *testing.T) {
		t.Parallel()
		for _, status := range []tenancy.OrgStatus{tenancy.StatusPending, tenancy.StatusSuspended, tenancy.StatusRejected} {
			t.Run(string(status), func(t *testing.T) {
				t.Parallel()
				w := b.world(t)
				b.setStatus(t, w.A, status)
				r := b.do(t, http.MethodPost, "/api/organizations/"+w.A.Slug+"/select", w.OwnerA.Token, nil)
				requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: "+string(status))
			})
		}
	})

	t.Run("NonMemberLearnsNothingAboutStatus", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		requireProblem(t, b.do(t, http.MethodPost, "/api/organizations/"+w.A.Slug+"/select", w.AdminB.Token, nil),
			http.StatusForbidden, httpapi.CodeForbidden, msgNotMember)
	})
}
