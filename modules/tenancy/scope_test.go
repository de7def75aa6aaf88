package tenancy_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
)

func TestResolveScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.mod.Service()
	w := b.world(t)
	s := b.createService(t, w.A, "https://app.example.com/callback", "http://localhost:3000/cb")

	t.Run("OrganizationOnly", func(t *testing.T) {
		t.Parallel()
		got, err := svc.ResolveScope(t.Context(), strings.ToUpper(w.A.Slug), "")
		require.NoError(t, err)
		require.Equal(t, tenancy.ScopeInfo{
			OrgID: w.A.ID, OrgSlug: w.A.Slug, OrgStatus: tenancy.StatusActive, MaxMAU: 1000,
			OrgName: "Org " + w.A.Slug, AllowedProviders: []string{"github"},
		}, got)
	})

	t.Run("WithService", func(t *testing.T) {
		t.Parallel()
		got, err := svc.ResolveScope(t.Context(), w.A.Slug, strings.ToUpper(s.Slug))
		require.NoError(t, err)
		require.Equal(t, w.A.ID, got.OrgID)
		require.Equal(t, &s.ID, got.ServiceID)
		require.Equal(t, s.Slug, got.ServiceSlug)
		require.Equal(t, "Service "+s.Slug, got.ServiceName)
		require.Equal(t, []string{"https://app.example.com/callback", "http://localhost:3000/cb"}, got.RedirectURIs)
		require.True(t, tenancy.MatchRedirectURI(got.RedirectURIs, "https://APP.example.com/callback"))
		require.False(t, tenancy.MatchRedirectURI(got.RedirectURIs, "https://app.example.com/callback/x"))
	})

	t.Run("UnknownOrganizationOrService", func(t *testing.T) {
		t.Parallel()
		_, err := svc.ResolveScope(t.Context(), "missing-org", "")
		require.ErrorIs(t, err, tenancy.ErrOrgNotFound)
		_, err = svc.ResolveScope(t.Context(), "", s.Slug)
		require.ErrorIs(t, err, tenancy.ErrOrgNotFound)
		_, err = svc.ResolveScope(t.Context(), w.A.Slug, "missing-svc")
		require.ErrorIs(t, err, tenancy.ErrServiceNotFound)
		// A service is only found through its own organization.
		_, err = svc.ResolveScope(t.Context(), w.B.Slug, s.Slug)
		require.ErrorIs(t, err, tenancy.ErrServiceNotFound)
	})

	t.Run("StatusIsReportedNotGated", func(t *testing.T) {
		t.Parallel()
		o := b.createOrg(t, b.user(t, "pending-scope"))
		got, err := svc.ResolveScope(t.Context(), o.Slug, "")
		require.NoError(t, err)
		require.Equal(t, tenancy.StatusPending, got.OrgStatus)
	})

	t.Run("MAUQuotaFromTierWidenedByOverrides", func(t *testing.T) {
		t.Parallel()
		ww := b.world(t)
		po := tenancy.Actor{UserID: ww.PO.ID, IsPlatformOwner: true}
		_, err := svc.SetOrganizationTier(t.Context(), po, ww.A.ID, tenancy.TierUpdate{TierID: "tier_starter"})
		require.NoError(t, err)
		got, err := svc.ResolveScope(t.Context(), ww.A.Slug, "")
		require.NoError(t, err)
		require.Equal(t, 5000, got.MaxMAU)
		require.False(t, got.AllowOverage)

		_, err = svc.SetOrganizationFeatures(t.Context(), po, ww.A.ID, tenancy.FeatureOverrides{MaxMAU: ptr(20000), AllowOverage: ptr(true)})
		require.NoError(t, err)
		got, err = svc.ResolveScope(t.Context(), ww.A.Slug, "")
		require.NoError(t, err)
		require.Equal(t, 20000, got.MaxMAU)
		require.True(t, got.AllowOverage)

		// Overrides only widen: a smaller quota leaves the tier's.
		_, err = svc.SetOrganizationFeatures(t.Context(), po, ww.A.ID, tenancy.FeatureOverrides{MaxMAU: ptr(10)})
		require.NoError(t, err)
		got, err = svc.ResolveScope(t.Context(), ww.A.Slug, "")
		require.NoError(t, err)
		require.Equal(t, 5000, got.MaxMAU)
	})
}

func TestMembershipRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	for _, tc := range []struct {
		Name   string
		User   account
		Role   tenancy.Role
		Member bool
	}{
		{"Owner", w.OwnerA, tenancy.RoleOwner, true},
		{"Admin", w.AdminA, tenancy.RoleAdmin, true},
		{"Member", w.MemberA, tenancy.RoleMember, true},
		{"MemberOfAnotherOrganization", w.AdminB, "", false},
		{"PlatformOwner", w.PO, "", false},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			role, member, err := b.mod.Service().MembershipRole(t.Context(), w.A.ID, tc.User.ID)
			require.NoError(t, err)
			require.Equal(t, tc.Role, role)
			require.Equal(t, tc.Member, member)
		})
	}
}

func TestServiceByClientID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.mod.Service()
	w := b.world(t)
	res, err := svc.CreateService(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug, tenancy.NewApplication{
		Slug: newSlug("tv"), Name: "TV app", Type: "mobile", DeviceActivationURI: ptr("https://app.example.com/activate"),
	})
	require.NoError(t, err)

	got, err := svc.ServiceByClientID(t.Context(), res.App.ClientID)
	require.NoError(t, err)
	require.Equal(t, res.App.ClientID, got.ClientID)
	require.Equal(t, w.A.ID, got.Scope.OrgID)
	require.Equal(t, w.A.Slug, got.Scope.OrgSlug)
	require.Equal(t, &res.App.ID, got.Scope.ServiceID)
	require.Equal(t, tenancy.ServiceMobile, got.ServiceType)
	require.True(t, got.PublicClient())
	require.Equal(t, "https://app.example.com/activate", got.DeviceActivationURI)
	require.Equal(t, []string{}, got.ResourceURIs)

	for _, id := range []string{"", uuid.NewString(), strings.ToUpper(res.App.ClientID)} {
		_, err = svc.ServiceByClientID(t.Context(), id)
		require.ErrorIs(t, err, tenancy.ErrServiceNotFound, id)
	}
}

func TestVerifyClientSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.mod.Service()
	w := b.world(t)
	s := b.createService(t, w.A)
	for _, tc := range []struct {
		Name     string
		ClientID string
		Secret   string
		Want     bool
	}{
		{"Correct", s.ClientID, s.Secret, true},
		{"Wrong", s.ClientID, s.Secret + "x", false},
		{"Prefix", s.ClientID, s.Secret[:len(s.Secret)-1], false},
		{"Empty", s.ClientID, "", false},
		{"TheStoredHashIsNotTheSecret", s.ClientID, "", false},
		{"UnknownClient", uuid.NewString(), s.Secret, false},
		{"EmptyClient", "", s.Secret, false},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			secret := tc.Secret
			if tc.Name == "TheStoredHashIsNotTheSecret" {
				require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT client_secret_hash FROM services WHERE id = $1`, s.ID).Scan(&secret))
			}
			ok, err := svc.VerifyClientSecret(t.Context(), tc.ClientID, secret)
			require.NoError(t, err)
			require.Equal(t, tc.Want, ok)
		})
	}
}
