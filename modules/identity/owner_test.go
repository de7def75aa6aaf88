package identity_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

func TestOwnerBootstrap(t *testing.T) {
	t.Parallel()

	owner := func(email, password string) func(*identity.Config) {
		return func(c *identity.Config) { c.OwnerEmail, c.OwnerPassword = email, password }
	}

	t.Run("CreatesAVerifiedOwnerWhoCanLogIn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, owner("owner@example.test", goodPassword))
		u := b.user(t, "owner@example.test")
		require.True(t, u.IsPlatformOwner)
		require.NotNil(t, u.EmailVerifiedAt)
		require.Nil(t, u.OrgID)

		tp := b.login(t, "owner@example.test", goodPassword)
		_, claims := decodeJWT(t, tp.AccessToken)
		require.Equal(t, true, claims["is_platform_owner"])
		me, _ := decodeUser(t, b.get(t, "/api/user", bearer(tp.AccessToken)))
		require.True(t, me.IsPlatformOwner)
		var identities int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM identities WHERE user_id = $1 AND provider = 'password'`, u.ID).Scan(&identities))
		require.Equal(t, 1, identities)
	})

	t.Run("RestartDoesNotOverwriteAChangedPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t, owner("owner@example.test", goodPassword))
		tp := b.login(t, "owner@example.test", goodPassword)
		requireMessage(t, b.post(t, "/api/user/change-password",
			map[string]string{"current_password": goodPassword, "new_password": otherPassword}, bearer(tp.AccessToken)), "Password changed successfully")

		restarted := b.newApp(t, owner("owner@example.test", goodPassword))
		restarted.login(t, "owner@example.test", otherPassword)
		requireProblem(t, restarted.loginResponse(t, "owner@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		require.Equal(t, 1, b.countUsers(t, "owner@example.test"))
	})

	t.Run("PromotesAnExistingUserWithoutTouchingThePassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := b.verifiedUser(t, "ada@example.test", goodPassword)
		require.False(t, before.IsPlatformOwner)

		promoted := b.newApp(t, owner("ADA@example.test", otherPassword))
		after := b.user(t, "ada@example.test")
		require.Equal(t, before.ID, after.ID)
		require.True(t, after.IsPlatformOwner)
		require.Equal(t, before.PasswordHash, after.PasswordHash)
		promoted.login(t, "ada@example.test", goodPassword)
		requireProblem(t, promoted.loginResponse(t, "ada@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
	})

	t.Run("UnverifiedSquatterLosesTheirPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Someone registered the future owner's address and never verified it.
		b.register(t, "boss@example.test", otherPassword)
		promoted := b.newApp(t, owner("boss@example.test", goodPassword))
		u := b.user(t, "boss@example.test")
		require.True(t, u.IsPlatformOwner)
		require.NotNil(t, u.EmailVerifiedAt)
		requireProblem(t, promoted.loginResponse(t, "boss@example.test", otherPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
		promoted.login(t, "boss@example.test", goodPassword)
	})

	t.Run("GivesAPasswordlessOwnerTheConfiguredPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.oauthUser(t, "owner@example.test")
		app := b.newApp(t, owner("owner@example.test", goodPassword))
		require.True(t, b.user(t, "owner@example.test").IsPlatformOwner)
		app.login(t, "owner@example.test", goodPassword)
	})

	t.Run("EmailOnlyCreatesAnOwnerWithoutPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t, owner("owner@example.test", ""))
		u := b.user(t, "owner@example.test")
		require.True(t, u.IsPlatformOwner)
		require.False(t, u.HasPassword())
		requireProblem(t, b.loginResponse(t, "owner@example.test", goodPassword), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidLogin)
	})

	t.Run("ConcurrentStartsCreateOneOwner", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var mods []*identity.Module
		for range 3 {
			mod, err := identity.New(identity.Deps{
				Pool: b.pool, Redis: b.rdb, Queue: b.queue, KeyRing: b.ring, Recorder: b.events, NowFunc: b.clock.Now, Logger: discardLogger(),
				Config: identity.Config{BaseURL: testBaseURL, Argon2MemoryKiB: 8192, Argon2Iterations: 1, OwnerEmail: "owner@example.test", OwnerPassword: goodPassword},
			})
			require.NoError(t, err)
			mods = append(mods, mod)
		}
		errs := make(chan error, len(mods))
		for _, mod := range mods {
			go func() { errs <- mod.Start(t.Context()) }()
		}
		for range mods {
			require.NoError(t, <-errs)
		}
		require.Equal(t, 1, b.countUsers(t, "owner@example.test"))
		b.login(t, "owner@example.test", goodPassword)
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
