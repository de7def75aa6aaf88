package tenancy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
)

// brandingJSON is the branding body; pointers tell null from a value.
type brandingJSON struct {
	LogoURL      *string `json:"logo_url"`
	PrimaryColor *string `json:"primary_color"`
}

const (
	seededLogo  = "https://cdn.example.test/seeded-logo.png"
	seededColor = "#123abc"
	msgBranding = "The feature 'Custom Branding' is not available on your current plan. Please upgrade to access it."
)

func brandingPath(o org, rest ...string) string {
	return "/api/organizations/" + o.Slug + "/branding" + strings.Join(rest, "")
}

// setBranding writes an organization's branding and tier directly.
func (b *testBundle) setBranding(t *testing.T, o org, tierID string, logo, color *string) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET tier_id = $2, brand_logo_url = $3, brand_primary_color = $4 WHERE id = $1`,
		o.ID, tierID, logo, color)
	require.NoError(t, err)
}

// branding reads an organization's stored branding.
func (b *testBundle) branding(t *testing.T, o org) brandingJSON {
	t.Helper()
	var out brandingJSON
	err := b.pool.QueryRow(t.Context(), `SELECT brand_logo_url, brand_primary_color FROM organizations WHERE id = $1`, o.ID).
		Scan(&out.LogoURL, &out.PrimaryColor)
	require.NoError(t, err)
	return out
}

// TestBrandingAuthorization runs the member and settings routes against
// every kind of caller, each on a fresh world whose org A is on tier_pro
// with seeded branding. Refused callers never see the branding, and a
// refused PATCH changes nothing.
func TestBrandingAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const msgSettings = "Insufficient permissions to manage organization settings"

	endpoints := []struct {
		Name   string
		Method string
		Body   any
		Cases  []matrixCase
	}{
		{
			Name: "GetBranding", Method: http.MethodGet,
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("Stranger", stranger, msgNotMember),
				forbiddenCase("PlatformOwner", platformOwner, msgNotMember), okCase("Member", memberA), okCase("Owner", ownerA)},
		},
		{
			Name: "UpdateBranding", Method: http.MethodPatch, Body: map[string]string{"logo_url": "https://cdn.example.test/new.png"},
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgSettings), okCase("Admin", adminA), okCase("Owner", ownerA)},
		},
	}
	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					b.setBranding(t, w.A, "tier_pro", ptr(seededLogo), ptr(seededColor))
					r := b.do(t, ep.Method, brandingPath(w.A), tc.Caller(w), ep.Body)
					if tc.WantStatus != http.StatusOK {
						requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
						require.NotContains(t, string(r.body), seededLogo)
						require.NotContains(t, string(r.body), seededColor)
						require.Equal(t, brandingJSON{LogoURL: ptr(seededLogo), PrimaryColor: ptr(seededColor)}, b.branding(t, w.A))
						return
					}
					got := decode[brandingJSON](t, r, http.StatusOK)
					if ep.Method == http.MethodGet {
						require.Equal(t, brandingJSON{LogoURL: ptr(seededLogo), PrimaryColor: ptr(seededColor)}, got)
						return
					}
					// PATCH overwrites both fields: the missing color is cleared.
					want := brandingJSON{LogoURL: ptr("https://cdn.example.test/new.png")}
					require.Equal(t, want, got)
					require.Equal(t, want, b.branding(t, w.A))
				})
			}
		})
	}

	t.Run("UnsetBrandingIsNull", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, brandingPath(w.A), w.MemberA.Token, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"logo_url": null, "primary_color": null}`, string(r.body))
	})

	t.Run("UnknownOrganization", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, "/api/organizations/"+newSlug("nope")+"/branding", w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

// TestBrandingTierGate checks that PATCH needs allow_branding from the tier
// or the feature overrides, and an active organization.
func TestBrandingTierGate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := map[string]string{"primary_color": "#FF5733"}

	t.Run("FreeTierIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token, body)
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeFeatureNotAvailableInTier, msgBranding)
		require.Equal(t, brandingJSON{}, b.branding(t, w.A))
		require.Empty(t, b.orgAudit(t, w.A.ID, "branding.updated"))
	})

	t.Run("ApprovedOnProTier", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		o := b.createOrg(t, w.OwnerA)
		r := b.do(t, http.MethodPatch, brandingPath(o), w.OwnerA.Token, body)
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: pending")

		r = b.do(t, http.MethodPost, "/api/platform/organizations/"+o.ID.String()+"/approve", w.PO.Token, map[string]string{"tier_id": "tier_pro"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		r = b.do(t, http.MethodPatch, brandingPath(o), w.OwnerA.Token, body)
		require.Equal(t, brandingJSON{PrimaryColor: ptr("#ff5733")}, decode[brandingJSON](t, r, http.StatusOK))
	})

	t.Run("WidenedByFeatureOverrides", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, "/api/platform/organizations/"+w.A.ID.String()+"/features", w.PO.Token,
			map[string]any{"allow_branding": true})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		r = b.do(t, http.MethodPatch, brandingPath(w.A), w.AdminA.Token, body)
		require.Equal(t, brandingJSON{PrimaryColor: ptr("#ff5733")}, decode[brandingJSON](t, r, http.StatusOK))
	})

	t.Run("OverrideCannotNarrowTier", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", nil, nil)
		r := b.do(t, http.MethodPatch, "/api/platform/organizations/"+w.A.ID.String()+"/features", w.PO.Token,
			map[string]any{"allow_branding": false})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		r = b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token, body)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	})

	t.Run("SuspendedIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", nil, nil)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token, body)
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: suspended")
	})
}

// TestUpdateBranding checks validation, normalisation, the overwrite
// semantics and the branding.updated event.
func TestUpdateBranding(t *testing.T) {
	t.Parallel()
	b := setup(t)

	invalid := []struct {
		Name     string
		Body     map[string]any
		Location string
	}{
		{"ColorWithoutHash", map[string]any{"primary_color": "ff5733"}, "body.primary_color"},
		{"ColorNotHex", map[string]any{"primary_color": "#gg5733"}, "body.primary_color"},
		{"ColorFourDigits", map[string]any{"primary_color": "#ff57"}, "body.primary_color"},
		{"ColorName", map[string]any{"primary_color": "red"}, "body.primary_color"},
		{"LogoHTTP", map[string]any{"logo_url": "http://cdn.example.test/logo.png"}, "body.logo_url"},
		{"LogoRelative", map[string]any{"logo_url": "/logo.png"}, "body.logo_url"},
		{"LogoJavascript", map[string]any{"logo_url": "javascript:alert(1)"}, "body.logo_url"},
		{"LogoUserinfo", map[string]any{"logo_url": "https://user:pw@cdn.example.test/logo.png"}, "body.logo_url"},
		{"LogoFragment", map[string]any{"logo_url": "https://cdn.example.test/logo.png#x"}, "body.logo_url"},
		{"LogoNoHost", map[string]any{"logo_url": "https:///logo.png"}, "body.logo_url"},
		{"LogoWithSpace", map[string]any{"logo_url": "https://cdn.example.test/my logo.png"}, "body.logo_url"},
		{"LogoTooLong", map[string]any{"logo_url": "https://cdn.example.test/" + strings.Repeat("a", 2030)}, "body.logo_url"},
	}
	for _, tc := range invalid {
		t.Run("Rejects"+tc.Name, func(t *testing.T) {
			t.Parallel()
			w := b.world(t)
			b.setBranding(t, w.A, "tier_pro", ptr(seededLogo), ptr(seededColor))
			r := b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token, tc.Body)
			requireFieldError(t, r, tc.Location)
			require.Equal(t, brandingJSON{LogoURL: ptr(seededLogo), PrimaryColor: ptr(seededColor)}, b.branding(t, w.A))
			require.Empty(t, b.orgAudit(t, w.A.ID, "branding.updated"))
		})
	}

	t.Run("ReportsBothFields", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", nil, nil)
		r := b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token,
			map[string]any{"primary_color": "#12", "logo_url": "ftp://cdn.example.test/logo.png"})
		requireFieldError(t, r, "body.primary_color")
		requireFieldError(t, r, "body.logo_url")
		p := requireProblem(t, r, http.StatusUnprocessableEntity, httpapi.CodeValidationError, "")
		var msgs []string
		for _, e := range p.Errors {
			msgs = append(msgs, e.Message)
		}
		require.Contains(t, msgs, "Invalid color format. Must be a hex color (e.g., #FF5733 or #F57)")
	})

	t.Run("NormalisesAndRecordsEvent", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", nil, nil)
		logo := "https://cdn.example.test/logo.png?v=2"
		r := b.do(t, http.MethodPatch, brandingPath(w.A), w.AdminA.Token, map[string]any{"logo_url": logo, "primary_color": "#ABC"})
		want := brandingJSON{LogoURL: ptr(logo), PrimaryColor: ptr("#abc")}
		require.Equal(t, want, decode[brandingJSON](t, r, http.StatusOK))
		require.Equal(t, want, b.branding(t, w.A))

		rows := b.orgAudit(t, w.A.ID, "branding.updated")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"logo_url": logo, "primary_color": "#abc"}, rows[0].Details)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, w.A.ID.String(), rows[0].TargetID)

		// The member GET sees what was written.
		got := decode[brandingJSON](t, b.do(t, http.MethodGet, brandingPath(w.A), w.MemberA.Token, nil), http.StatusOK)
		require.Equal(t, want, got)
	})

	t.Run("MissingFieldsClear", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", ptr(seededLogo), ptr(seededColor))
		r := b.do(t, http.MethodPatch, brandingPath(w.A), w.OwnerA.Token, map[string]any{})
		require.JSONEq(t, `{"logo_url": null, "primary_color": null}`, string(r.body))
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, brandingJSON{}, b.branding(t, w.A))

		rows := b.orgAudit(t, w.A.ID, "branding.updated")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"logo_url": nil, "primary_color": nil}, rows[0].Details)
	})
}

// TestPublicBranding checks the anonymous endpoint: active organizations
// only, everything else is 404 without data.
func TestPublicBranding(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ActiveWithoutToken", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setBranding(t, w.A, "tier_pro", ptr(seededLogo), ptr(seededColor))
		r := b.do(t, http.MethodGet, brandingPath(w.A, "/public"), "", nil)
		require.Equal(t, brandingJSON{LogoURL: ptr(seededLogo), PrimaryColor: ptr(seededColor)}, decode[brandingJSON](t, r, http.StatusOK))
	})

	t.Run("ActiveUnsetIsNull", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, brandingPath(w.B, "/public"), "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"logo_url": null, "primary_color": null}`, string(r.body))
	})

	for _, status := range []tenancy.OrgStatus{tenancy.StatusPending, tenancy.StatusSuspended, tenancy.StatusRejected} {
		t.Run("NotFoundWhen"+strings.ToUpper(string(status[:1]))+string(status[1:]), func(t *testing.T) {
			t.Parallel()
			w := b.world(t)
			b.setBranding(t, w.A, "tier_pro", ptr(seededLogo), ptr(seededColor))
			b.setStatus(t, w.A, status)
			r := b.do(t, http.MethodGet, brandingPath(w.A, "/public"), "", nil)
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
			require.NotContains(t, string(r.body), seededLogo)
		})
	}

	t.Run("UnknownSlug", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, http.MethodGet, "/api/organizations/"+newSlug("nope")+"/branding/public", "", nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}
