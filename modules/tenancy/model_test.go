package tenancy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/testenv"
)

func ptr[T any](v T) *T { return &v }

func TestFeaturesWiden(t *testing.T) {
	t.Parallel()
	tier := tenancy.Features{AllowPasskeys: true, AllowedSocialProviders: []string{"github"}, MaxMAU: 1000}

	t.Run("NilOverridesAreTheTier", func(t *testing.T) {
		t.Parallel()
		got := tier.Widen(nil)
		require.Equal(t, tier, got)
		got.AllowedSocialProviders[0] = "changed"
		require.Equal(t, "github", tier.AllowedSocialProviders[0], "the result does not alias the tier")
	})

	t.Run("OverridesOnlyWiden", func(t *testing.T) {
		t.Parallel()
		got := tier.Widen(&tenancy.FeatureOverrides{
			AllowPasskeys: ptr(false), AllowSCIM: ptr(true), AllowedSocialProviders: []string{"google", "github"}, MaxMAU: ptr(10),
		})
		require.True(t, got.AllowPasskeys, "false cannot narrow the tier")
		require.True(t, got.AllowSCIM)
		require.Equal(t, []string{"github", "google"}, got.AllowedSocialProviders)
		require.Equal(t, 1000, got.MaxMAU, "a smaller quota cannot narrow the tier")
	})

	t.Run("MAUQuota", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, 5000, tier.Widen(&tenancy.FeatureOverrides{MaxMAU: ptr(5000)}).MaxMAU)
		require.Equal(t, 0, tier.Widen(&tenancy.FeatureOverrides{MaxMAU: ptr(0)}).MaxMAU, "0 is unlimited, the widest")
		require.Equal(t, 0, tier.Widen(&tenancy.FeatureOverrides{MaxMAU: ptr(-1)}).MaxMAU)
		unlimited := tenancy.Features{MaxMAU: 0}
		require.Equal(t, 0, unlimited.Widen(&tenancy.FeatureOverrides{MaxMAU: ptr(50)}).MaxMAU, "an unlimited tier stays unlimited")
	})
}

func TestFeatureOverridesMerge(t *testing.T) {
	t.Parallel()
	base := tenancy.FeatureOverrides{AllowSCIM: ptr(true), MaxMAU: ptr(10)}
	got := base.Merge(tenancy.FeatureOverrides{AllowSCIM: ptr(false), AllowedSocialProviders: []string{"google"}})
	require.False(t, *got.AllowSCIM)
	require.Equal(t, 10, *got.MaxMAU)
	require.Equal(t, []string{"google"}, got.AllowedSocialProviders)
	require.True(t, *base.AllowSCIM, "merge does not modify the receiver")
	require.True(t, tenancy.FeatureOverrides{}.IsZero())
	require.False(t, got.IsZero())
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, c := range tenancy.Capabilities() {
		require.True(t, tenancy.RoleOwner.Grants(c), c)
		require.True(t, tenancy.RoleAdmin.Grants(c), c)
		require.False(t, tenancy.RoleMember.Grants(c), c)
	}
	require.Len(t, tenancy.Capabilities(), 15)
	for _, r := range []string{"owner", "admin", "member"} {
		got, err := tenancy.ParseRole(r)
		require.NoError(t, err)
		require.Equal(t, tenancy.Role(r), got)
	}
	_, err := tenancy.ParseRole("Owner")
	require.ErrorIs(t, err, tenancy.ErrInvalidRole)
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	rec := events.RecorderFunc(nil)
	full := tenancy.Deps{Pool: pool, Recorder: rec, Users: dbUsers{pool: pool}, Sessions: &dbSessions{pool: pool}}
	_, err := tenancy.New(full)
	require.NoError(t, err)
	for name, breakFunc := range map[string]func(d *tenancy.Deps){
		"Pool":     func(d *tenancy.Deps) { d.Pool = nil },
		"Recorder": func(d *tenancy.Deps) { d.Recorder = nil },
		"Users":    func(d *tenancy.Deps) { d.Users = nil },
		"Sessions": func(d *tenancy.Deps) { d.Sessions = nil },
	} {
		d := full
		breakFunc(&d)
		_, err := tenancy.New(d)
		require.Error(t, err, name)
	}
}
