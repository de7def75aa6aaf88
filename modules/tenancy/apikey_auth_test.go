package tenancy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv"
)

// replica is a second tenancy module on the bundle's database and the
// shared test Redis, as another API process would be, with Run running.
func (b *testBundle) replica(t *testing.T) *tenancy.Module {
	t.Helper()
	m, _ := b.replicaWithStop(t)
	return m
}

// replicaWithStop is replica, also returning a function that ends Run and
// waits for it (the test's cleanup calls it too).
func (b *testBundle) replicaWithStop(t *testing.T) (*tenancy.Module, func()) {
	t.Helper()
	m, err := tenancy.New(tenancy.Deps{
		Pool: b.pool, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Recorder: b.audit.Recorder(),
		Users: dbUsers{pool: b.pool}, Sessions: b.sessions, NowFunc: b.clock, Queue: b.queue, KeyRing: b.ring,
		Redis: testenv.Redis(t),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	require.Eventually(t, m.APIKeyAuthenticator().CacheActive, 5*time.Second, 10*time.Millisecond,
		"the replica subscribes to key invalidations")
	return m, stop
}

// authn verifies key on m.
func authn(t *testing.T, m *tenancy.Module, key string) (*httpapi.Principal, error) {
	t.Helper()
	return m.APIKeyAuthenticator().Authenticate(t.Context(), key)
}

// requireAuthProblem checks that err is the problem status/code/msg.
func requireAuthProblem(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var pe *httpapi.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, status, pe.Status)
	require.Equal(t, code, pe.Code)
	require.Equal(t, msg, pe.Detail)
}

func requireInvalidKey(t *testing.T, err error) {
	t.Helper()
	requireAuthProblem(t, err, http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid API key")
}

// eventuallyRejected waits (≤ 2 s) until m refuses key with the problem
// check accepts.
func eventuallyRejected(t *testing.T, m *tenancy.Module, key string, status int) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := m.APIKeyAuthenticator().Authenticate(t.Context(), key)
		var pe *httpapi.Error
		return errors.As(err, &pe) && pe.Status == status
	}, 2*time.Second, 5*time.Millisecond)
}

func lastUsedAt(t *testing.T, b *testBundle, id uuid.UUID) *time.Time {
	t.Helper()
	var at *time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT last_used_at FROM api_keys WHERE id = $1`, id).Scan(&at))
	return at
}

func TestAPIKeyAuthenticator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repA, repB := b.replica(t), b.replica(t)
	po := b.platformOwner(t)
	poActor := tenancy.Actor{UserID: po.ID, Email: po.Email, IsPlatformOwner: true}

	t.Run("ValidKeyReturnsPrincipal", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Backend", "read:users", "read:provider_tokens:github")
		for _, m := range []*tenancy.Module{repA, repB, b.mod} {
			p, err := authn(t, m, k.Secret)
			require.NoError(t, err)
			require.Equal(t, httpapi.PrincipalAPIKey, p.Kind)
			require.Equal(t, k.Key.ID, p.APIKeyID)
			require.Equal(t, &w.A.ID, p.OrgID)
			require.Equal(t, &s.ID, p.ServiceID)
			require.Equal(t, []string{"read:users", "read:provider_tokens:github"}, p.Permissions)
			require.True(t, p.HasPermission("read:users"))
			require.False(t, p.HasPermission("write:users"))
		}
	})

	t.Run("WrongSecretIsUnauthorized", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		k := b.createAPIKey(t, b.createService(t, w.A), "Backend")
		wrong := k.Key.Prefix + "_" + strings.Repeat("0", 64)
		for _, m := range []*tenancy.Module{repA, b.mod} {
			_, err := authn(t, m, k.Secret) // warm the cache
			require.NoError(t, err)
			_, err = authn(t, m, wrong)
			requireInvalidKey(t, err)
		}
	})

	t.Run("MalformedOrUnknownIsUnauthorized", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{
			"", "sk_", "not-a-key", "Bearer sk_a1b2c3d4e5f6_" + strings.Repeat("0", 64),
			"sk_A1B2C3D4E5F6_" + strings.Repeat("0", 64), "sk_a1b2c3d4e5f6_" + strings.Repeat("0", 63),
			"sk_a1b2c3d4e5f6-" + strings.Repeat("0", 64),
			"sk_000000000000_" + strings.Repeat("0", 64), // well formed, unknown
		} {
			_, err := authn(t, repA, key)
			requireInvalidKey(t, err)
			_, err = authn(t, repA, key) // the negative entry answers the same
			requireInvalidKey(t, err)
		}
	})

	t.Run("DeletedKeyIsRejectedOnEveryReplica", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Backend")
		for _, m := range []*tenancy.Module{repA, repB} {
			_, err := authn(t, m, k.Secret)
			require.NoError(t, err)
		}
		err := repA.Service().DeleteAPIKey(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug, s.Slug, k.Key.ID)
		require.NoError(t, err)
		_, err = authn(t, repA, k.Secret)
		requireInvalidKey(t, err) // the deleting replica at once
		eventuallyRejected(t, repB, k.Secret, http.StatusUnauthorized)
		_, err = authn(t, repB, k.Secret)
		requireInvalidKey(t, err)
	})

	t.Run("SuspendedOrgIsForbiddenOnEveryReplica", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		k := b.createAPIKey(t, b.createService(t, w.A), "Backend")
		for _, m := range []*tenancy.Module{repA, repB} {
			_, err := authn(t, m, k.Secret)
			require.NoError(t, err)
		}
		_, err := repA.Service().SuspendOrganization(t.Context(), poActor, w.A.ID)
		require.NoError(t, err)
		_, err = authn(t, repA, k.Secret)
		requireAuthProblem(t, err, http.StatusForbidden, tenancy.CodeOrganizationNotActive,
			"Organization is not active. Current status: suspended")
		eventuallyRejected(t, repB, k.Secret, http.StatusForbidden)
		_, err = authn(t, repB, k.Secret)
		requireAuthProblem(t, err, http.StatusForbidden, tenancy.CodeOrganizationNotActive,
			"Organization is not active. Current status: suspended")

		// Reactivation applies on every replica too.
		_, err = repB.Service().ActivateOrganization(t.Context(), poActor, w.A.ID)
		require.NoError(t, err)
		_, err = authn(t, repB, k.Secret)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := repA.APIKeyAuthenticator().Authenticate(t.Context(), k.Secret)
			return err == nil
		}, 2*time.Second, 5*time.Millisecond)
	})

	t.Run("DeletedOrgIsRejectedOnEveryReplica", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		k := b.createAPIKey(t, b.createService(t, w.A), "Backend")
		other := b.createAPIKey(t, b.createService(t, w.B), "Other org")
		for _, m := range []*tenancy.Module{repA, repB} {
			for _, key := range []string{k.Secret, other.Secret} {
				_, err := authn(t, m, key)
				require.NoError(t, err)
			}
		}
		require.NoError(t, repA.Service().DeleteOrganization(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug))
		_, err := authn(t, repA, k.Secret)
		requireInvalidKey(t, err)
		eventuallyRejected(t, repB, k.Secret, http.StatusUnauthorized)
		_, err = authn(t, repB, other.Secret)
		require.NoError(t, err, "another organization's keys stay valid")
	})

	t.Run("PlatformDeletedOrgIsRejectedOnEveryReplica", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		k := b.createAPIKey(t, b.createService(t, w.A), "Backend")
		for _, m := range []*tenancy.Module{repA, repB} {
			_, err := authn(t, m, k.Secret)
			require.NoError(t, err)
		}
		require.NoError(t, repB.Service().DeletePlatformOrganization(t.Context(), poActor, w.A.ID))
		_, err := authn(t, repB, k.Secret)
		requireInvalidKey(t, err)
		eventuallyRejected(t, repA, k.Secret, http.StatusUnauthorized)
	})

	t.Run("RevokedKeyIsUnauthorized", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		k := b.createAPIKey(t, b.createService(t, w.A), "Backend")
		_, err := b.pool.Exec(t.Context(), `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, k.Key.ID)
		require.NoError(t, err)
		_, err = authn(t, b.mod, k.Secret)
		requireInvalidKey(t, err)
	})
}

// TestAPIKeyAuthenticatorCache moves the clock, so it owns its bundle.
func TestAPIKeyAuthenticatorCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rep := b.replica(t)
	w := b.world(t)
	s := b.createService(t, w.A)

	t.Run("CachedKeyDoesNotQueryPostgres", func(t *testing.T) {
		k := b.createAPIKey(t, s, "Cached")
		_, err := authn(t, rep, k.Secret)
		require.NoError(t, err)
		_, err = authn(t, b.mod, k.Secret)
		require.NoError(t, err)

		// Deleted behind the module's back (nothing publishes): the cached
		// replica does not look again until the TTL runs out, while the
		// module without Redis (no cache) queries on every request.
		_, err = b.pool.Exec(t.Context(), `DELETE FROM api_keys WHERE id = $1`, k.Key.ID)
		require.NoError(t, err)
		_, err = authn(t, b.mod, k.Secret)
		requireInvalidKey(t, err)
		b.advance(29 * time.Second)
		_, err = authn(t, rep, k.Secret)
		require.NoError(t, err, "served from the cache")

		b.advance(2 * time.Second) // past the 30 s TTL
		_, err = authn(t, rep, k.Secret)
		requireInvalidKey(t, err)
	})

	t.Run("UnknownPrefixIsCachedBriefly", func(t *testing.T) {
		k := b.createAPIKey(t, s, "Hidden")
		_, err := b.pool.Exec(t.Context(), `UPDATE api_keys SET prefix = 'sk_ffffffffffff' WHERE id = $1`, k.Key.ID)
		require.NoError(t, err)
		_, err = authn(t, rep, k.Secret)
		requireInvalidKey(t, err)
		// The key appears under its prefix: the negative entry still
		// answers, until its 5 s run out.
		_, err = b.pool.Exec(t.Context(), `UPDATE api_keys SET prefix = $2 WHERE id = $1`, k.Key.ID, k.Key.Prefix)
		require.NoError(t, err)
		_, err = authn(t, rep, k.Secret)
		requireInvalidKey(t, err)
		b.advance(6 * time.Second)
		_, err = authn(t, rep, k.Secret)
		require.NoError(t, err)
	})

	t.Run("ExpiredKeyIsUnauthorizedEvenWhenCached", func(t *testing.T) {
		days := 1
		k, err := rep.Service().CreateAPIKey(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug, s.Slug,
			tenancy.NewAPIKey{Name: "Short", Permissions: []string{"read:service"}, ExpiresInDays: &days})
		require.NoError(t, err)
		_, err = authn(t, rep, k.Secret)
		require.NoError(t, err)
		b.advance(24*time.Hour - time.Second)
		_, err = authn(t, rep, k.Secret)
		require.NoError(t, err)
		b.advance(time.Second)
		for _, m := range []*tenancy.Module{rep, b.mod} {
			_, err = authn(t, m, k.Secret)
			requireAuthProblem(t, err, http.StatusUnauthorized, httpapi.CodeUnauthorized, "API key expired")
		}
	})
}

// TestAPIKeyUsageFlush owns its bundle: it reads the clock.
func TestAPIKeyUsageFlush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	s := b.createService(t, w.A)
	k1, k2, unused := b.createAPIKey(t, s, "One"), b.createAPIKey(t, s, "Two"), b.createAPIKey(t, s, "Unused")
	auth := b.mod.APIKeyAuthenticator()

	for range 50 {
		_, err := auth.Authenticate(t.Context(), k1.Secret)
		require.NoError(t, err)
	}
	b.advance(time.Minute)
	_, err := auth.Authenticate(t.Context(), k2.Secret)
	require.NoError(t, err)
	require.Nil(t, lastUsedAt(t, b, k1.Key.ID), "a use is not written per request")
	require.Nil(t, lastUsedAt(t, b, k2.Key.ID))

	require.NoError(t, auth.FlushUsage(t.Context()))
	at1, at2 := lastUsedAt(t, b, k1.Key.ID), lastUsedAt(t, b, k2.Key.ID)
	require.NotNil(t, at1)
	require.NotNil(t, at2)
	require.True(t, b.now.Equal(*at1), "k1 last used at %v", *at1)
	require.True(t, b.now.Add(time.Minute).Equal(*at2), "k2 last used at %v", *at2)
	require.Nil(t, lastUsedAt(t, b, unused.Key.ID))

	// Nothing pending: a second flush writes nothing.
	_, err = b.pool.Exec(t.Context(), `UPDATE api_keys SET last_used_at = NULL WHERE id = $1`, k1.Key.ID)
	require.NoError(t, err)
	require.NoError(t, auth.FlushUsage(t.Context()))
	require.Nil(t, lastUsedAt(t, b, k1.Key.ID))

	t.Run("BatchKeepsTheLatestUse", func(t *testing.T) {
		st := tenancy.NewStore(b.pool)
		later := b.now.Add(time.Hour)
		require.NoError(t, st.APIKeyTouchBatch(t.Context(), map[uuid.UUID]time.Time{k2.Key.ID: later}))
		require.NoError(t, st.APIKeyTouchBatch(t.Context(), map[uuid.UUID]time.Time{
			k2.Key.ID: b.now, uuid.New(): b.now, // an older use from another replica; a deleted key
		}))
		require.True(t, later.Equal(*lastUsedAt(t, b, k2.Key.ID)))
	})

	t.Run("RunFlushesOnExit", func(t *testing.T) {
		rep, stop := b.replicaWithStop(t)
		_, err := authn(t, rep, unused.Key.Prefix+"_"+strings.Repeat("0", 64))
		requireInvalidKey(t, err)
		_, err = authn(t, rep, unused.Secret)
		require.NoError(t, err)
		require.Nil(t, lastUsedAt(t, b, unused.Key.ID))
		stop()
		require.NotNil(t, lastUsedAt(t, b, unused.Key.ID))
		require.False(t, rep.APIKeyAuthenticator().CacheActive())
	})
}
