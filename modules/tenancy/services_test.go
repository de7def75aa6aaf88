package tenancy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/httpapi"
)

// RevokeServiceSessionsTx revokes a service's session rows like the
// identity adapter will (see tenancy's serviceSessionRevoker).
func (d *dbSessions) RevokeServiceSessionsTx(ctx context.Context, tx pgx.Tx, orgID, serviceID uuid.UUID, reason string) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = now(), revoked_reason = $3
		WHERE org_id = $1 AND service_id = $2 AND revoked_at IS NULL RETURNING id`, orgID, serviceID, reason)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.revoked = append(d.revoked, ids...)
	return ids, nil
}

// forgot reports whether ForgetSessions was asked to forget id.
func (d *dbSessions) forgot(id uuid.UUID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.forgotten {
		if f == id {
			return true
		}
	}
	return false
}

// serviceSession inserts a live session of a new end user scoped to s.
func (b *testBundle) serviceSession(t *testing.T, s svc) uuid.UUID {
	t.Helper()
	userID, id := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := b.pool.Exec(t.Context(), `INSERT INTO users (id, org_id, email) VALUES ($1, $2, $3)`,
		userID, s.Org.ID, "session-"+userID.String()[24:]+"@example.test")
	require.NoError(t, err)
	_, err = b.pool.Exec(t.Context(), `INSERT INTO sessions (id, user_id, org_id, service_id, org_slug, service_slug, audience, access_jti,
			token_hash, access_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + interval '1 day')`,
		id, userID, s.Org.ID, s.ID, s.Org.Slug, s.Slug, "service:"+s.Org.Slug+"/"+s.Slug, randomToken(), randomToken())
	require.NoError(t, err)
	return id
}

// serviceFixture is one matrix case's world with a service of org A and a
// second (non-default) plan of it.
type serviceFixture struct {
	w      world
	s      svc
	planID uuid.UUID
}

const (
	msgCreateServices = "Insufficient permissions to create services"
	msgViewService    = "Insufficient permissions to view this service"
	msgManageService  = "Insufficient permissions to update this service"
	msgOwnerDeletes   = "Only organization owners can delete services"
)

func statusCase(name string, caller func(world) string, status int) matrixCase {
	return matrixCase{Name: name, Caller: caller, WantStatus: status}
}

// TestServiceAuthorizationMatrix runs every service and plan endpoint
// against every kind of caller; each case gets a fresh world. Platform
// owners are not implicitly members of organizations here (spec §1.5).
func TestServiceAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)

	planPath := func(f serviceFixture) string {
		return servicesPath(f.w.A, f.s.Slug, "plans", f.planID.String())
	}
	endpoints := []struct {
		Name   string
		Method string
		Path   func(f serviceFixture) string
		Body   func(f serviceFixture) any
		Cases  []matrixCase
	}{
		{
			Name: "CreateService", Method: http.MethodPost, Path: func(f serviceFixture) string { return servicesPath(f.w.A) },
			Body: func(serviceFixture) any {
				return map[string]any{"slug": newSlug("new"), "name": "New App", "service_type": "web",
					"redirect_uris": []string{"https://new.example.com/cb"}}
			},
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("Stranger", stranger, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgCreateServices),
				statusCase("Admin", adminA, http.StatusCreated), statusCase("Owner", ownerA, http.StatusCreated)},
		},
		{
			Name: "ListServices", Method: http.MethodGet, Path: func(f serviceFixture) string { return servicesPath(f.w.A) },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				okCase("MemberFiltered", memberA), okCase("Admin", adminA)},
		},
		{
			Name: "GetService", Method: http.MethodGet, Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug) },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgViewService), okCase("Admin", adminA), okCase("Owner", ownerA)},
		},
		{
			Name: "UpdateService", Method: http.MethodPatch, Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug) },
			Body: func(serviceFixture) any { return map[string]any{"name": "Renamed App"} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgManageService), okCase("Admin", adminA), okCase("Owner", ownerA)},
		},
		{
			Name: "RotateServiceSecret", Method: http.MethodPost,
			Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug, "secret", "rotate") },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgManageService), okCase("Admin", adminA), okCase("Owner", ownerA)},
		},
		{
			Name: "DeleteService", Method: http.MethodDelete, Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug) },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("Member", memberA, msgOwnerDeletes), forbiddenCase("Admin", adminA, msgOwnerDeletes),
				statusCase("Owner", ownerA, http.StatusNoContent)},
		},
		{
			Name: "ListPlans", Method: http.MethodGet, Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug, "plans") },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgViewService), okCase("Admin", adminA)},
		},
		{
			Name: "CreatePlan", Method: http.MethodPost, Path: func(f serviceFixture) string { return servicesPath(f.w.A, f.s.Slug, "plans") },
			Body: func(serviceFixture) any { return map[string]any{"name": "Team", "price_cents": 900, "currency": "usd"} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgManageService), statusCase("Admin", adminA, http.StatusCreated)},
		},
		{
			Name: "GetPlan", Method: http.MethodGet, Path: planPath,
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgViewService), okCase("Admin", adminA)},
		},
		{
			Name: "UpdatePlan", Method: http.MethodPatch, Path: planPath,
			Body: func(serviceFixture) any { return map[string]any{"price_cents": 1900} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgManageService), okCase("Admin", adminA)},
		},
		{
			Name: "DeletePlan", Method: http.MethodDelete, Path: planPath,
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgManageService), statusCase("Admin", adminA, http.StatusNoContent)},
		},
	}

	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					s := b.createService(t, w.A)
					f := serviceFixture{w: w, s: s, planID: b.createPlan(t, s, "Pro", 1900)}
					var body any
					if ep.Body != nil {
						body = ep.Body(f)
					}
					r := b.do(t, ep.Method, ep.Path(f), tc.Caller(w), body)
					if tc.WantCode == "" {
						require.Equal(t, tc.WantStatus, r.status, string(r.body))
						return
					}
					requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
					// A refused caller never sees the organization's data.
					for _, secret := range []string{w.A.ID.String(), s.ID.String(), s.ClientID, s.Slug, f.planID.String(), w.OwnerA.Email} {
						require.NotContains(t, string(r.body), secret)
					}
				})
			}
		})
	}

	t.Run("InactiveOrganizationGate", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		f := serviceFixture{w: w, s: s, planID: b.createPlan(t, s, "Pro", 1900)}
		for _, status := range []tenancy.OrgStatus{tenancy.StatusSuspended, tenancy.StatusPending, tenancy.StatusRejected} {
			b.setStatus(t, w.A, status)
			for _, ep := range endpoints {
				var body any
				if ep.Body != nil {
					body = ep.Body(f)
				}
				r := b.do(t, ep.Method, ep.Path(f), w.OwnerA.Token, body)
				requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive,
					"Organization is not active. Current status: "+string(status))
				// Non-members learn nothing about the status.
				r = b.do(t, ep.Method, ep.Path(f), w.AdminB.Token, body)
				requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, msgNotMember)
			}
		}
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM services WHERE org_id = $1`, w.A.ID).Scan(&n))
		require.Equal(t, 1, n, "nothing changed behind the gate")
	})

	t.Run("UnknownOrganizationIs404", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, "unknown-org")
		r := b.do(t, http.MethodGet, "/api/organizations/"+newSlug("nope")+"/services", u.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestCreateService(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("SecretShownOnceWithDefaultPlanAndUsage", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		slug := newSlug("Web")
		r := b.do(t, http.MethodPost, servicesPath(w.A), w.AdminA.Token, map[string]any{
			"slug": slug, "name": "  Web App  ", "service_type": "web",
			"redirect_uris":         []string{"HTTPS://App.Example.com/Callback?x=1", "http://localhost:3000/cb", "https://app.example.com/Callback?x=1"},
			"device_activation_uri": "https://app.example.com/activate",
			"github_scopes":         []string{"read:user", "user:email", "read:user"},
			"google_scopes":         []string{"openid", "https://www.googleapis.com/auth/drive.readonly"},
		})
		got := decode[createdServiceJSON](t, r, http.StatusCreated)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))

		sv := got.Service
		require.Equal(t, slug, sv.Slug)
		require.Equal(t, "Web App", sv.Name)
		require.Equal(t, "web", sv.ServiceType)
		require.Equal(t, w.A.ID.String(), sv.OrgID)
		_, err := uuid.Parse(sv.ClientID)
		require.NoError(t, err, "client_id is a UUID")
		require.Equal(t, []string{"https://app.example.com/Callback?x=1", "http://localhost:3000/cb"}, sv.RedirectURIs,
			"normalised (scheme and host only) and de-duplicated")
		require.Equal(t, "https://app.example.com/activate", *sv.DeviceActivationURI)
		require.Equal(t, []string{"read:user", "user:email"}, sv.GithubScopes)
		require.Equal(t, []string{"openid", "https://www.googleapis.com/auth/drive.readonly"}, sv.GoogleScopes)
		require.Equal(t, []string{}, sv.MicrosoftScopes)
		require.Equal(t, []string{}, sv.ResourceURIs)
		require.Equal(t, b.now, sv.CreatedAt.UTC())

		require.NotNil(t, sv.ClientSecret)
		secret := *sv.ClientSecret
		require.GreaterOrEqual(t, len(secret), 43, "256-bit secret")
		var stored string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT client_secret_hash FROM services WHERE id = $1`, sv.ID).Scan(&stored))
		require.Equal(t, crypto.HashToken(secret), stored, "only the SHA-256 is stored")
		require.NotContains(t, string(r.body), stored)

		require.Equal(t, "free", got.DefaultPlan.Name)
		require.Equal(t, int64(0), got.DefaultPlan.PriceCents)
		require.Equal(t, "usd", got.DefaultPlan.Currency)
		require.Equal(t, []string{}, got.DefaultPlan.Features)
		require.True(t, got.DefaultPlan.IsDefault)
		require.Equal(t, sv.ID, got.DefaultPlan.ServiceID)
		require.Equal(t, usageJSON{CurrentServices: 1, MaxServices: 2, Tier: "free"}, got.Usage)

		// The secret and its hash never appear again.
		for _, rr := range []response{
			b.do(t, http.MethodGet, servicesPath(w.A, slug), w.OwnerA.Token, nil),
			b.do(t, http.MethodGet, servicesPath(w.A), w.OwnerA.Token, nil),
			b.do(t, http.MethodPatch, servicesPath(w.A, slug), w.OwnerA.Token, map[string]any{"name": "Renamed"}),
			b.do(t, http.MethodGet, servicesPath(w.A, slug, "plans"), w.OwnerA.Token, nil),
		} {
			require.Equal(t, http.StatusOK, rr.status, string(rr.body))
			require.NotContains(t, string(rr.body), secret)
			require.NotContains(t, string(rr.body), stored)
			require.NotContains(t, string(rr.body), "client_secret")
		}
		ok, err := b.mod.Service().VerifyClientSecret(t.Context(), sv.ClientID, secret)
		require.NoError(t, err)
		require.True(t, ok)

		rows := b.orgAudit(t, w.A.ID, "service.created")
		require.Len(t, rows, 1)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, "service", rows[0].TargetType)
		require.Equal(t, sv.ID, rows[0].TargetID)
		require.Equal(t, map[string]any{"service_slug": slug, "service_name": "Web App", "service_type": "web", "client_id": sv.ClientID},
			rows[0].Details)
		require.NotContains(t, rows[0].Details, "client_secret")
		plans := b.orgAudit(t, w.A.ID, "plan.created")
		require.Len(t, plans, 1)
		require.Equal(t, got.DefaultPlan.ID, plans[0].TargetID)
		require.Equal(t, "free", plans[0].Details["plan_name"])
		require.Equal(t, true, plans[0].Details["is_default"])

		sum := decode[summaryBody](t, b.do(t, http.MethodGet, "/api/organizations/"+w.A.Slug, w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, 1, sum.ServiceCount)
	})

	t.Run("EveryServiceGetsItsOwnCredentials", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s1, s2 := b.createService(t, w.A), b.createService(t, w.A)
		require.NotEqual(t, s1.ClientID, s2.ClientID)
		require.NotEqual(t, s1.Secret, s2.Secret)
		ok, err := b.mod.Service().VerifyClientSecret(t.Context(), s1.ClientID, s2.Secret)
		require.NoError(t, err)
		require.False(t, ok, "one service's secret does not open another")
	})

	t.Run("ServiceLimitOfTierAndOverride", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.createService(t, w.A)
		b.createService(t, w.A)
		body := func() map[string]any {
			return map[string]any{"slug": newSlug("over"), "name": "Over", "service_type": "api"}
		}
		r := b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, body())
		requireProblem(t, r, http.StatusBadRequest, tenancy.CodeServiceLimitExceeded, "Organization has reached maximum service limit (2/2)")
		require.Len(t, b.orgAudit(t, w.A.ID, "service.created"), 2, "the refused creation recorded nothing")

		// The platform owner's override raises the limit.
		_, err := b.mod.Service().SetOrganizationTier(t.Context(), tenancy.Actor{UserID: w.PO.ID, IsPlatformOwner: true}, w.A.ID,
			tenancy.TierUpdate{TierID: "tier_free", MaxServices: ptr(3)})
		require.NoError(t, err)
		got := decode[createdServiceJSON](t, b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, body()), http.StatusCreated)
		require.Equal(t, usageJSON{CurrentServices: 3, MaxServices: 3, Tier: "free"}, got.Usage)
		r = b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, body())
		requireProblem(t, r, http.StatusBadRequest, tenancy.CodeServiceLimitExceeded, "Organization has reached maximum service limit (3/3)")

		// A bigger tier without override uses the tier's default.
		_, err = b.mod.Service().SetOrganizationTier(t.Context(), tenancy.Actor{UserID: w.PO.ID, IsPlatformOwner: true}, w.A.ID,
			tenancy.TierUpdate{TierID: "tier_starter"})
		require.NoError(t, err)
		got = decode[createdServiceJSON](t, b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, body()), http.StatusCreated)
		require.Equal(t, usageJSON{CurrentServices: 4, MaxServices: 10, Tier: "starter"}, got.Usage)
	})

	t.Run("ConcurrentCreationsCannotPassTheLimit", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		const n = 5
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := b.mod.Service().CreateService(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug,
					tenancy.NewApplication{Slug: newSlug("race"), Name: "Race", Type: "api"})
				errs <- err
			}()
		}
		created := 0
		for range n {
			err := <-errs
			var limit *tenancy.ServiceLimitError
			if err == nil {
				created++
				continue
			}
			require.ErrorAs(t, err, &limit)
		}
		require.Equal(t, 2, created)
	})

	t.Run("DuplicateSlugIs409InAnyCase", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		for _, slug := range []string{s.Slug, strings.ToUpper(s.Slug)} {
			r := b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, map[string]any{"slug": slug, "name": "Dup", "service_type": "web"})
			requireProblem(t, r, http.StatusConflict, httpapi.CodeDuplicateConstraint, "Service with this slug already exists in this organization")
		}
		// Slugs are per organization.
		r := b.do(t, http.MethodPost, servicesPath(w.B), w.OwnerB.Token, map[string]any{"slug": s.Slug, "name": "Same slug", "service_type": "web"})
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
	})

	t.Run("ValidationIs422", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		many := make([]string, 21)
		for i := range many {
			many[i] = "https://app.example.com/cb" + string(rune('a'+i))
		}
		valid := func(over map[string]any) map[string]any {
			m := map[string]any{"slug": newSlug("v"), "name": "Valid", "service_type": "web"}
			for k, v := range over {
				m[k] = v
			}
			return m
		}
		for _, tc := range []struct {
			Name      string
			Body      map[string]any
			Locations []string
		}{
			{"SlugReserved", valid(map[string]any{"slug": "admin"}), []string{"body.slug"}},
			{"SlugBadCharacters", valid(map[string]any{"slug": "my app"}), []string{"body.slug"}},
			{"NameTooShort", valid(map[string]any{"name": " A "}), []string{"body.name"}},
			{"UnknownServiceType", valid(map[string]any{"service_type": "tv"}), []string{"body.service_type"}},
			{"EmptyRedirectURIs", valid(map[string]any{"redirect_uris": []string{}}), []string{"body.redirect_uris"}},
			{"TooManyRedirectURIs", valid(map[string]any{"redirect_uris": many}), []string{"body.redirect_uris"}},
			{"HTTPRedirectOnPublicHost", valid(map[string]any{"redirect_uris": []string{"http://app.example.com/cb"}}), []string{"body.redirect_uris[0]"}},
			{"EveryBadRedirectIsListed", valid(map[string]any{"redirect_uris": []string{
				"https://ok.example.com/cb", "https://*.example.com/cb", "javascript:alert(1)", "https://app.example.com/cb#x",
			}}), []string{"body.redirect_uris[1]", "body.redirect_uris[2]", "body.redirect_uris[3]"}},
			{"RedirectWithUserInfo", valid(map[string]any{"redirect_uris": []string{"https://app.example.com@evil.com/cb"}}), []string{"body.redirect_uris[0]"}},
			{"BadDeviceActivationURI", valid(map[string]any{"device_activation_uri": "http://evil.example.com/activate"}), []string{"body.device_activation_uri"}},
			{"ScopeWithSpace", valid(map[string]any{"github_scopes": []string{"read user"}}), []string{"body.github_scopes[0]"}},
			{"EmptyScope", valid(map[string]any{"microsoft_scopes": []string{""}}), []string{"body.microsoft_scopes[0]"}},
			{"SeveralFieldsAtOnce", valid(map[string]any{"slug": "www", "name": " x ", "redirect_uris": []string{"ftp://x.example/cb"}}),
				[]string{"body.slug", "body.name", "body.redirect_uris[0]"}},
		} {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				r := b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token, tc.Body)
				for _, loc := range tc.Locations {
					requireFieldError(t, r, loc)
				}
			})
		}
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM services WHERE org_id = $1`, w.A.ID).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("RedirectURIsAreOptional", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		got := decode[createdServiceJSON](t, b.do(t, http.MethodPost, servicesPath(w.A), w.OwnerA.Token,
			map[string]any{"slug": newSlug("cli"), "name": "CLI", "service_type": "desktop"}), http.StatusCreated)
		require.Equal(t, []string{}, got.Service.RedirectURIs)
		require.Nil(t, got.Service.DeviceActivationURI)
	})

	t.Run("PendingOrganizationCannotCreate", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "pending"))
		r := b.do(t, http.MethodPost, servicesPath(o), o.Owner.Token, map[string]any{"slug": newSlug("p"), "name": "Pending", "service_type": "web"})
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: pending")
	})
}

func TestListAndGetServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	_, err := b.mod.Service().SetOrganizationTier(t.Context(), tenancy.Actor{UserID: w.PO.ID, IsPlatformOwner: true}, w.A.ID,
		tenancy.TierUpdate{TierID: "tier_pro"})
	require.NoError(t, err)
	web := b.createService(t, w.A)
	owner := tenancy.Actor{UserID: w.OwnerA.ID}
	_, err = b.mod.Service().CreateService(t.Context(), owner, w.A.Slug, tenancy.NewApplication{Slug: "mobile-app", Name: "Mobile", Type: "mobile"})
	require.NoError(t, err)
	_, err = b.mod.Service().CreateService(t.Context(), owner, w.A.Slug, tenancy.NewApplication{Slug: "backend", Name: "Backend", Type: "api"})
	require.NoError(t, err)
	pro := b.createPlan(t, web, "Pro", 1900)
	b.subscribe(t, web, pro, "active")
	b.subscribe(t, web, web.DefaultPlanID, "active")
	b.subscribe(t, web, pro, "canceled")
	other := b.createService(t, w.B)

	t.Run("AdminSeesAllWithCountsOldestFirst", func(t *testing.T) {
		t.Parallel()
		got := decode[serviceListJSON](t, b.do(t, http.MethodGet, servicesPath(w.A), w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, 3, got.Total)
		require.Equal(t, usageJSON{CurrentServices: 3, MaxServices: 50, Tier: "pro"}, got.Usage)
		require.Len(t, got.Services, 3)
		require.Equal(t, []string{web.Slug, "mobile-app", "backend"},
			[]string{got.Services[0].Slug, got.Services[1].Slug, got.Services[2].Slug})
		require.Equal(t, 2, *got.Services[0].PlanCount)
		require.Equal(t, 2, *got.Services[0].SubscriptionCount, "active subscriptions only")
		require.Equal(t, 1, *got.Services[1].PlanCount)
		require.Zero(t, *got.Services[1].SubscriptionCount)
		require.NotContains(t, string(b.do(t, http.MethodGet, servicesPath(w.A), w.AdminA.Token, nil).body), other.ClientID)
	})

	t.Run("FilterAndPage", func(t *testing.T) {
		t.Parallel()
		got := decode[serviceListJSON](t, b.do(t, http.MethodGet, servicesPath(w.A)+"?service_type=mobile", w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, 1, got.Total)
		require.Equal(t, "mobile-app", got.Services[0].Slug)
		got = decode[serviceListJSON](t, b.do(t, http.MethodGet, servicesPath(w.A)+"?limit=1&offset=1", w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, 3, got.Total)
		require.Len(t, got.Services, 1)
		require.Equal(t, "mobile-app", got.Services[0].Slug)
		requireFieldError(t, b.do(t, http.MethodGet, servicesPath(w.A)+"?service_type=tv", w.OwnerA.Token, nil), "query.service_type")
		requireFieldError(t, b.do(t, http.MethodGet, servicesPath(w.A)+"?limit=101", w.OwnerA.Token, nil), "query.limit")
	})

	t.Run("MemberWithoutCapabilitySeesNoService", func(t *testing.T) {
		t.Parallel()
		got := decode[serviceListJSON](t, b.do(t, http.MethodGet, servicesPath(w.A), w.MemberA.Token, nil), http.StatusOK)
		require.Empty(t, got.Services)
		require.Zero(t, got.Total)
		require.Equal(t, 3, got.Usage.CurrentServices)
	})

	t.Run("GetIsCaseInsensitiveAndScopedToTheOrganization", func(t *testing.T) {
		t.Parallel()
		got := decode[serviceJSON](t, b.do(t, http.MethodGet, servicesPath(w.A, strings.ToUpper(web.Slug)), w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, web.ID.String(), got.ID)
		require.Equal(t, web.ClientID, got.ClientID)
		require.Nil(t, got.ClientSecret)
		require.Nil(t, got.PlanCount)
		// Another organization's service is not found through this one.
		r := b.do(t, http.MethodGet, servicesPath(w.A, other.Slug), w.AdminA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
	})
}

func TestUpdateService(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ChangesFieldsAndRecordsThem", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.AdminA.Token, map[string]any{
			"name": "Renamed", "service_type": "desktop", "redirect_uris": []string{"http://127.0.0.1:8765/cb"},
			"device_activation_uri": "https://app.example.com/activate", "microsoft_scopes": []string{"User.Read"},
		})
		got := decode[serviceJSON](t, r, http.StatusOK)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, "desktop", got.ServiceType)
		require.Equal(t, []string{"http://127.0.0.1:8765/cb"}, got.RedirectURIs)
		require.Equal(t, "https://app.example.com/activate", *got.DeviceActivationURI)
		require.Equal(t, []string{"User.Read"}, got.MicrosoftScopes)
		require.Equal(t, s.ClientID, got.ClientID, "the client id never changes")
		require.Nil(t, got.ClientSecret)

		rows := b.orgAudit(t, w.A.ID, "service.updated")
		require.Len(t, rows, 1)
		require.Equal(t, s.ID.String(), rows[0].TargetID)
		require.Equal(t, s.Slug, rows[0].Details["service_slug"])
		require.Equal(t, "Service "+s.Slug, rows[0].Details["old_name"])
		require.ElementsMatch(t, []any{"name", "service_type", "redirect_uris", "device_activation_uri", "microsoft_scopes"},
			rows[0].Details["changed_fields"])

		// The old redirect URI no longer resolves for logins.
		sc, err := b.mod.Service().ResolveScope(t.Context(), w.A.Slug, s.Slug)
		require.NoError(t, err)
		require.False(t, tenancy.MatchRedirectURI(sc.RedirectURIs, "https://app.example.com/callback"))
		require.True(t, tenancy.MatchRedirectURI(sc.RedirectURIs, "http://127.0.0.1:8765/cb"))

		// null clears the activation URI.
		got = decode[serviceJSON](t, b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.AdminA.Token,
			map[string]any{"device_activation_uri": nil}), http.StatusOK)
		require.Nil(t, got.DeviceActivationURI)
		require.Len(t, b.orgAudit(t, w.A.ID, "service.updated"), 2)
	})

	t.Run("NoChangeRecordsNothing", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.OwnerA.Token, map[string]any{
			"name": "Service " + s.Slug, "redirect_uris": []string{"HTTPS://APP.EXAMPLE.COM/callback"},
		})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Empty(t, b.orgAudit(t, w.A.ID, "service.updated"))
	})

	t.Run("EmptyPatchIs400", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.OwnerA.Token, map[string]any{})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "No fields to update")
	})

	t.Run("ValidationIs422AndChangesNothing", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.OwnerA.Token, map[string]any{
			"name": "Fine name", "redirect_uris": []string{"https://app.example.com/cb/../admin"},
		})
		requireFieldError(t, r, "body.redirect_uris[0]")
		requireFieldError(t, b.do(t, http.MethodPatch, servicesPath(w.A, s.Slug), w.OwnerA.Token,
			map[string]any{"redirect_uris": []string{}}), "body.redirect_uris")
		got := decode[serviceJSON](t, b.do(t, http.MethodGet, servicesPath(w.A, s.Slug), w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, "Service "+s.Slug, got.Name)
		require.Equal(t, []string{"https://app.example.com/callback"}, got.RedirectURIs)
	})

	t.Run("UnknownServiceIs404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, servicesPath(w.A, "missing-svc"), w.OwnerA.Token, map[string]any{"name": "Nope"})
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
	})
}

func TestRotateServiceSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	s := b.createService(t, w.A)

	r := b.do(t, http.MethodPost, servicesPath(w.A, s.Slug, "secret", "rotate"), w.AdminA.Token, nil)
	got := decode[struct {
		Service      serviceJSON `json:"service"`
		ClientSecret string      `json:"client_secret"`
	}](t, r, http.StatusOK)
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.NotEmpty(t, got.ClientSecret)
	require.NotEqual(t, s.Secret, got.ClientSecret)
	require.Equal(t, s.ClientID, got.Service.ClientID)
	require.Nil(t, got.Service.ClientSecret)

	svc := b.mod.Service()
	ok, err := svc.VerifyClientSecret(t.Context(), s.ClientID, s.Secret)
	require.NoError(t, err)
	require.False(t, ok, "the old secret stops matching")
	ok, err = svc.VerifyClientSecret(t.Context(), s.ClientID, got.ClientSecret)
	require.NoError(t, err)
	require.True(t, ok)

	rows := b.orgAudit(t, w.A.ID, "service.secret_rotated")
	require.Len(t, rows, 1)
	require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
	require.Equal(t, map[string]any{"service_slug": s.Slug, "client_id": s.ClientID}, rows[0].Details)

	// Shown once: nothing answers it again.
	r = b.do(t, http.MethodGet, servicesPath(w.A, s.Slug), w.AdminA.Token, nil)
	require.NotContains(t, string(r.body), got.ClientSecret)
	requireProblem(t, b.do(t, http.MethodPost, servicesPath(w.A, "missing-svc", "secret", "rotate"), w.AdminA.Token, nil),
		http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
}

func TestDeleteService(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("RefusedWithActiveSubscriptions", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		sub := b.subscribe(t, s, s.DefaultPlanID, "active")
		r := b.do(t, http.MethodDelete, servicesPath(w.A, s.Slug), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot delete service with active subscriptions")
		require.Empty(t, b.orgAudit(t, w.A.ID, "service.deleted"))

		// Once the subscription ends, the service can go.
		_, err := b.pool.Exec(t.Context(), `UPDATE subscriptions SET status = 'canceled' WHERE id = $1`, sub)
		require.NoError(t, err)
		r = b.do(t, http.MethodDelete, servicesPath(w.A, s.Slug), w.OwnerA.Token, nil)
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Empty(t, r.body)
	})

	t.Run("DeletesPlansSessionsAndIdentitiesKeepsLoginEvents", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		keep := b.createService(t, w.A)
		b.createPlan(t, s, "Pro", 1900)
		b.subscribe(t, s, s.DefaultPlanID, "canceled")
		sess := b.serviceSession(t, s)
		other := b.serviceSession(t, keep)
		var userID uuid.UUID
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT user_id FROM sessions WHERE id = $1`, sess).Scan(&userID))
		_, err := b.pool.Exec(t.Context(), `INSERT INTO identities (id, user_id, provider, provider_user_id, org_id, service_id)
			VALUES (gen_random_uuid(), $1, 'password', $4, $2, $3)`, userID, w.A.ID, s.ID, userID.String())
		require.NoError(t, err)
		_, err = b.pool.Exec(t.Context(), `INSERT INTO login_events (id, user_id, org_id, service_id, provider)
			VALUES (gen_random_uuid(), $1, $2, $3, 'password')`, userID, w.A.ID, s.ID)
		require.NoError(t, err)

		r := b.do(t, http.MethodDelete, servicesPath(w.A, s.Slug), w.OwnerA.Token, nil)
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))

		count := func(q string, args ...any) int {
			var n int
			require.NoError(t, b.pool.QueryRow(t.Context(), q, args...).Scan(&n))
			return n
		}
		require.Zero(t, count(`SELECT count(*) FROM services WHERE id = $1`, s.ID))
		require.Zero(t, count(`SELECT count(*) FROM plans WHERE service_id = $1`, s.ID))
		require.Zero(t, count(`SELECT count(*) FROM subscriptions WHERE service_id = $1`, s.ID))
		require.Zero(t, count(`SELECT count(*) FROM sessions WHERE service_id = $1`, s.ID))
		require.Zero(t, count(`SELECT count(*) FROM identities WHERE service_id = $1`, s.ID))
		require.Equal(t, 1, count(`SELECT count(*) FROM login_events WHERE user_id = $1 AND org_id = $2 AND service_id IS NULL`, userID, w.A.ID),
			"login events stay with the organization (MAU, analytics)")
		require.True(t, b.sessions.forgot(sess), "the deleted service's sessions are dropped from the session cache")
		require.False(t, b.sessions.forgot(other))
		require.Equal(t, 1, count(`SELECT count(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL`, other))

		rows := b.orgAudit(t, w.A.ID, "service.deleted")
		require.Len(t, rows, 1)
		require.Equal(t, s.ID.String(), rows[0].TargetID)
		require.Equal(t, map[string]any{"service_slug": s.Slug, "service_name": "Service " + s.Slug, "service_type": "web", "client_id": s.ClientID},
			rows[0].Details)

		requireProblem(t, b.do(t, http.MethodGet, servicesPath(w.A, s.Slug), w.OwnerA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
		ok, err := b.mod.Service().VerifyClientSecret(t.Context(), s.ClientID, s.Secret)
		require.NoError(t, err)
		require.False(t, ok)
		// The freed slot counts again.
		got := decode[serviceListJSON](t, b.do(t, http.MethodGet, servicesPath(w.A), w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, 1, got.Usage.CurrentServices)
	})

	t.Run("UnknownServiceIs404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		requireProblem(t, b.do(t, http.MethodDelete, servicesPath(w.A, "missing-svc"), w.OwnerA.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
	})
}

// TestServiceSchemaConstraints checks the invariants the migration
// enforces by itself.
func TestServiceSchemaConstraints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	exec := func(q string, args ...any) error {
		_, err := b.pool.Exec(ctx, q, args...)
		return db.MapError(err)
	}
	w := b.world(t)
	a := b.createService(t, w.A)
	other := b.createService(t, w.B)
	u := b.user(t, "schema")

	t.Run("OneDefaultPlanPerService", func(t *testing.T) {
		t.Parallel()
		err := exec(`INSERT INTO plans (id, org_id, service_id, name, is_default) VALUES (gen_random_uuid(), $1, $2, 'second', true)`, w.A.ID, a.ID)
		require.ErrorIs(t, err, db.ErrUnique)
		require.Equal(t, "plans_one_default_key", db.ConstraintName(err))
	})

	t.Run("PlanNamesUniquePerServiceInAnyCase", func(t *testing.T) {
		t.Parallel()
		err := exec(`INSERT INTO plans (id, org_id, service_id, name) VALUES (gen_random_uuid(), $1, $2, 'FREE')`, w.A.ID, a.ID)
		require.ErrorIs(t, err, db.ErrUnique)
		require.Equal(t, "plans_service_name_key", db.ConstraintName(err))
	})

	t.Run("RowsCannotNameAnotherOrganizationsService", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO plans (id, org_id, service_id, name) VALUES (gen_random_uuid(), $1, $2, 'x')`, []any{w.A.ID, other.ID}},
			{`INSERT INTO subscriptions (id, org_id, user_id, service_id, status) VALUES (gen_random_uuid(), $1, $2, $3, 'active')`,
				[]any{w.A.ID, u.ID, other.ID}},
			{`INSERT INTO sessions (id, user_id, org_id, service_id, audience, access_jti, token_hash, access_expires_at)
				VALUES (gen_random_uuid(), $1, $2, $3, 'x', 'j', md5(random()::text), now())`, []any{u.ID, w.A.ID, other.ID}},
			{`INSERT INTO identities (id, user_id, provider, provider_user_id, org_id, service_id)
				VALUES (gen_random_uuid(), $1, 'github', '1', $2, $3)`, []any{u.ID, w.A.ID, other.ID}},
			{`INSERT INTO login_events (id, user_id, org_id, service_id, provider) VALUES (gen_random_uuid(), $1, $2, $3, 'password')`,
				[]any{u.ID, w.A.ID, other.ID}},
			// A subscription's plan belongs to its service.
			{`INSERT INTO subscriptions (id, org_id, user_id, service_id, plan_id, status) VALUES (gen_random_uuid(), $1, $2, $3, $4, 'active')`,
				[]any{w.B.ID, u.ID, other.ID, a.DefaultPlanID}},
		} {
			require.ErrorIs(t, exec(tc.q, tc.args...), db.ErrForeignKey, tc.q)
		}
	})

	t.Run("ServiceScopedRowsNameTheirOrganization", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, exec(`INSERT INTO sessions (id, user_id, service_id, audience, access_jti, token_hash, access_expires_at)
			VALUES (gen_random_uuid(), $1, $2, 'x', 'j', md5(random()::text), now())`, u.ID, a.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`INSERT INTO login_events (id, user_id, service_id, provider) VALUES (gen_random_uuid(), $1, $2, 'password')`,
			u.ID, a.ID), db.ErrCheck)
	})

	t.Run("Checks", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, exec(`UPDATE services SET service_type = 'tv' WHERE id = $1`, a.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE services SET client_secret_hash = 'plaintext' WHERE id = $1`, a.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE services SET redirect_uris = '{}' WHERE id = $1`, a.ID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE plans SET currency = 'USD' WHERE id = $1`, a.DefaultPlanID), db.ErrCheck)
		require.ErrorIs(t, exec(`UPDATE plans SET price_cents = -1 WHERE id = $1`, a.DefaultPlanID), db.ErrCheck)
		require.ErrorIs(t, exec(`INSERT INTO subscriptions (id, org_id, user_id, service_id, status) VALUES (gen_random_uuid(), $1, $2, $3, 'cancelled')`,
			w.A.ID, u.ID, a.ID), db.ErrCheck)
	})

	t.Run("OneSubscriptionPerUserAndService", func(t *testing.T) {
		t.Parallel()
		sub := b.subscribe(t, a, a.DefaultPlanID, "canceled")
		var userID uuid.UUID
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT user_id FROM subscriptions WHERE id = $1`, sub).Scan(&userID))
		err := exec(`INSERT INTO subscriptions (id, org_id, user_id, service_id, status) VALUES (gen_random_uuid(), $1, $2, $3, 'active')`,
			w.A.ID, userID, a.ID)
		require.ErrorIs(t, err, db.ErrUnique)
	})
}
