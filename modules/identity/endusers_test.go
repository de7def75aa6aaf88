package identity_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/httpapi"
)

// euScopes resolves the orgs and services of setupServiceAPI for scoped
// registrations and logins (the tenancy module does it in production).
type euScopes struct {
	scopes map[string]identity.Scope // "org/service"
}

func (s euScopes) ResolveScope(_ context.Context, orgSlug, serviceSlug string) (identity.Scope, error) {
	sc, ok := s.scopes[orgSlug+"/"+serviceSlug]
	if !ok {
		return identity.Scope{}, identity.ErrScopeNotFound
	}
	return sc, nil
}

func (euScopes) MembershipRole(context.Context, uuid.UUID, uuid.UUID) (string, bool, error) {
	return "", false, nil
}

// euBundle is the Service API harness with scoped logins wired.
type euBundle struct {
	*serviceAPIBundle
	isvc *identity.Service
}

func setupEndUsers(t *testing.T) *euBundle {
	t.Helper()
	b := &euBundle{serviceAPIBundle: setupServiceAPI(t)}
	b.isvc = b.mod.Service()
	scope := func(org uuid.UUID, orgSlug string, svc uuid.UUID, svcSlug string) identity.Scope {
		return identity.Scope{OrgID: &org, OrgSlug: orgSlug, ServiceID: &svc, ServiceSlug: svcSlug, OrgStatus: "active"}
	}
	b.mod.SetScopes(euScopes{scopes: map[string]identity.Scope{
		"acme/web-app":    scope(b.org, "acme", b.svc, "web-app"),
		"acme/mobile-app": scope(b.org, "acme", b.svc2, "mobile-app"),
		"globex/web-app":  scope(b.org2, "globex", b.svc3, "web-app"),
	}})
	return b
}

// serviceLogin registers email with a password in org/service, verifies it
// and logs in there: a real service session with its login event.
func (b *euBundle) serviceLogin(t *testing.T, email, org, service string) (uuid.UUID, tokenPair) {
	t.Helper()
	body := map[string]string{"email": email, "password": goodPassword, "org_slug": org, "service_slug": service}
	requireMessage(t, b.api.post(t, "/api/auth/register", body), msgRegistered)
	b.verifyEmail(t, email) // the default app serves the hosted pages
	toks := decodeTokens(t, b.api.post(t, "/api/auth/login", body))
	var id uuid.UUID
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT user_id FROM sessions WHERE id = $1`, sessionID(t, toks.AccessToken)).Scan(&id))
	return id, toks
}

func (b *euBundle) identityKeys(list []identity.EndUserIdentity) []string {
	out := make([]string, 0, len(list))
	for _, i := range list {
		k := i.Provider + ":" + i.ProviderUserID
		if i.Provider == "password" {
			k = "password" // its provider_user_id is the user id
		}
		switch {
		case i.ServiceID == nil:
			k += "@org"
		case *i.ServiceID == b.svc:
			k += "@web"
		case *i.ServiceID == b.svc2:
			k += "@mobile"
		}
		out = append(out, k)
	}
	return out
}

func endUserIDs(list []identity.EndUser) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(list))
	for _, u := range list {
		out = append(out, u.User.ID)
	}
	return out
}

func TestOrgEndUserDirectory(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	ctx := t.Context()
	org, web, mobile := b.org, b.svc, b.svc2

	ada, _ := b.serviceLogin(t, "ada@example.test", "acme", "web-app")
	b.clock.Advance(time.Second)
	b.createServiceUser(t, keyOtherService, "ada@example.test", http.StatusCreated) // links ada to mobile-app
	bob := uuid.MustParse(b.createServiceUser(t, keyAll, "bob@example.test", http.StatusCreated).ID)
	b.clock.Advance(time.Second)
	eve := uuid.MustParse(b.createServiceUser(t, keyAll, "eve@example.test", http.StatusCreated).ID)
	// Eve is unlinked from her only service: still a user of the organization.
	require.Equal(t, http.StatusNoContent, b.api.do(t, http.MethodDelete, "/api/service/users/"+eve.String(), nil, apiKey(keyAll)).status)
	carol, _ := b.serviceLogin(t, "carol@example.test", "globex", "web-app")
	platform := b.oauthUser(t, "dave@example.test")

	t.Run("ListsTheOrganizationsEndUsers", func(t *testing.T) {
		t.Parallel()
		users, total, err := b.isvc.ListOrgEndUsers(ctx, org, nil, 50, 0)
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []uuid.UUID{ada, bob, eve}, endUserIDs(users))
		require.Equal(t, "ada@example.test", users[0].User.Email)
		require.Equal(t, []string{"password@web", "service_api:ada@example.test@mobile"}, b.identityKeys(users[0].Identities))
		require.Equal(t, []string{"service_api:bob@example.test@web"}, b.identityKeys(users[1].Identities))
		require.NotNil(t, users[2].Identities)
		require.Empty(t, users[2].Identities)

		users, total, err = b.isvc.ListOrgEndUsers(ctx, b.org2, nil, 50, 0)
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, []uuid.UUID{carol}, endUserIDs(users))
	})

	t.Run("FiltersByService", func(t *testing.T) {
		t.Parallel()
		users, total, err := b.isvc.ListOrgEndUsers(ctx, org, &web, 50, 0)
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, []uuid.UUID{ada, bob}, endUserIDs(users))
		// The identities shown are all the organization's, not only the service's.
		require.Len(t, users[0].Identities, 2)

		users, total, err = b.isvc.ListOrgEndUsers(ctx, org, &mobile, 50, 0)
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, []uuid.UUID{ada}, endUserIDs(users))

		// Another organization's service names nobody here.
		svc3 := b.svc3
		users, total, err = b.isvc.ListOrgEndUsers(ctx, org, &svc3, 50, 0)
		require.NoError(t, err)
		require.Zero(t, total)
		require.Empty(t, users)
	})

	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		users, total, err := b.isvc.ListOrgEndUsers(ctx, org, nil, 1, 1)
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []uuid.UUID{bob}, endUserIDs(users))
		users, total, err = b.isvc.ListOrgEndUsers(ctx, org, nil, 10, 3)
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Empty(t, users)
	})

	t.Run("NotEndUsersAreNotFound", func(t *testing.T) {
		t.Parallel()
		for name, tc := range map[string]struct{ org, user uuid.UUID }{
			"OtherOrgsUser": {org, carol},
			"OtherOrg":      {b.org2, ada},
			"PlatformUser":  {org, platform.ID},
			"Unknown":       {org, uuid.New()},
		} {
			_, err := b.isvc.GetOrgEndUser(ctx, tc.org, tc.user)
			require.ErrorIs(t, err, identity.ErrUserNotFound, name)
			_, err = b.isvc.RevokeOrgEndUserSessions(ctx, tc.org, tc.user)
			require.ErrorIs(t, err, identity.ErrUserNotFound, name)
		}
	})
}

func TestOrgEndUserDetail(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	ctx := t.Context()
	st := identity.NewStore(b.pool)
	ada, toks := b.serviceLogin(t, "ada@example.test", "acme", "web-app")
	web := b.svc
	serviceSess := sessionID(t, toks.AccessToken)
	b.clock.Advance(time.Minute)
	orgToks, err := b.isvc.IssueOrgSession(ctx, ada, b.org, "acme", identity.RequestMeta{IP: "198.51.100.7", UserAgent: "dashboard"})
	require.NoError(t, err)
	// Sessions that do not count: one that expired, one revoked, one in
	// another organization and a platform one.
	now := b.clock.Now()
	orgID := b.org
	past := now.Add(-time.Hour)
	require.NoError(t, st.SessionInsert(ctx, identity.Session{
		ID: uuid.New(), UserID: ada, OrgID: &orgID, ServiceID: &web, Audience: "x", AuthMethod: "password",
		AccessJTI: uuid.NewString(), TokenHash: uuid.NewString(), AccessExpiresAt: past, RefreshExpiresAt: &past, CreatedAt: past,
	}, ""))
	revoked := b.serviceSession(t, ada, b.org, web)
	_, err = b.pool.Exec(ctx, `UPDATE sessions SET revoked_at = now() WHERE id = $1`, revoked)
	require.NoError(t, err)
	b.serviceSession(t, ada, b.org2, b.svc3)
	_, err = b.mod.IssueSession(ctx, ada, "github")
	require.NoError(t, err)
	// 25 more logins to the organization (the detail keeps the 20 newest),
	// one to another organization and one outside any.
	for i := range 25 {
		b.clock.Advance(time.Second)
		sc := identity.Scope{OrgID: &orgID}
		if i%2 == 0 {
			sc.ServiceID = &web
		}
		require.NoError(t, st.LoginEventInsert(ctx, ada, sc, "password", identity.RequestMeta{IP: "203.0.113.1"}, b.clock.Now()))
	}
	org2 := b.org2
	b.clock.Advance(time.Second)
	require.NoError(t, st.LoginEventInsert(ctx, ada, identity.Scope{OrgID: &org2}, "github", identity.RequestMeta{}, b.clock.Now()))
	require.NoError(t, st.LoginEventInsert(ctx, ada, identity.Scope{}, "github", identity.RequestMeta{}, b.clock.Now()))
	_, err = b.pool.Exec(ctx, `UPDATE login_events SET risk_score = 40, risk_factors = '["new_device"]', geo_country = 'NL'
		WHERE id = (SELECT id FROM login_events WHERE user_id = $1 AND org_id = $2 ORDER BY created_at DESC LIMIT 1)`, ada, b.org)
	require.NoError(t, err)

	d, err := b.isvc.GetOrgEndUser(ctx, b.org, ada)
	require.NoError(t, err)
	require.Equal(t, ada, d.User.ID)
	require.Equal(t, []string{"password@web"}, b.identityKeys(d.Identities))

	require.Equal(t, 2, d.SessionCount)
	require.Len(t, d.Sessions, 2)
	require.Equal(t, sessionID(t, orgToks.AccessToken), d.Sessions[0].ID, "newest first")
	require.Nil(t, d.Sessions[0].ServiceID)
	require.Equal(t, "acme", d.Sessions[0].OrgSlug)
	require.Equal(t, "198.51.100.7", d.Sessions[0].IP)
	require.Equal(t, "dashboard", d.Sessions[0].UserAgent)
	require.Equal(t, serviceSess, d.Sessions[1].ID)
	require.Equal(t, &web, d.Sessions[1].ServiceID)
	require.Equal(t, "web-app", d.Sessions[1].ServiceSlug)
	require.NotNil(t, d.Sessions[1].RefreshExpiresAt)
	require.True(t, d.Sessions[1].ExpiresAt.After(now))

	require.Len(t, d.RecentLogins, 20)
	for i, l := range d.RecentLogins {
		if i > 0 {
			require.False(t, l.CreatedAt.After(d.RecentLogins[i-1].CreatedAt), "newest first")
		}
		require.Equal(t, "password", l.Provider)
		require.NotNil(t, l.RiskFactors)
	}
	require.Equal(t, 40, d.RecentLogins[0].RiskScore)
	require.Equal(t, []string{"new_device"}, d.RecentLogins[0].RiskFactors)
	require.Equal(t, "NL", *d.RecentLogins[0].GeoCountry)
	require.Equal(t, "203.0.113.1", d.RecentLogins[0].IP)
	require.Equal(t, &web, d.RecentLogins[0].ServiceID, "the 25th login was a service login")
	require.Nil(t, d.RecentLogins[1].ServiceID)
}

func TestRevokeOrgEndUserSessions(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	ctx := t.Context()
	ada, service := b.serviceLogin(t, "ada@example.test", "acme", "web-app")
	orgToks, err := b.isvc.IssueOrgSession(ctx, ada, b.org, "acme", identity.RequestMeta{})
	require.NoError(t, err)
	platformToks, err := b.mod.IssueSession(ctx, ada, "github")
	require.NoError(t, err)
	otherOrgToks, err := b.isvc.IssueOrgSession(ctx, ada, b.org2, "globex", identity.RequestMeta{})
	require.NoError(t, err)
	bob, bobToks := b.serviceLogin(t, "bob@example.test", "acme", "web-app")
	for _, tok := range []string{service.AccessToken, orgToks.AccessToken, platformToks.AccessToken, otherOrgToks.AccessToken, bobToks.AccessToken} {
		b.api.requireTokenWorks(t, tok) // every session is cached as live
	}

	n, err := b.isvc.RevokeOrgEndUserSessions(ctx, b.org, ada)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// This organization's sessions fail on the next request, though their
	// cache entries said live a moment ago.
	b.api.requireTokenRejected(t, service.AccessToken)
	b.api.requireTokenRejected(t, orgToks.AccessToken)
	requireProblem(t, b.api.refresh(t, service.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	require.Equal(t, "end_user_sessions_revoked", b.revokedReason(t, sessionID(t, service.AccessToken)))
	// The platform session, another organization's session and another
	// end user's session survive.
	b.api.requireTokenWorks(t, platformToks.AccessToken)
	b.api.requireTokenWorks(t, otherOrgToks.AccessToken)
	b.api.requireTokenWorks(t, bobToks.AccessToken)
	require.Empty(t, b.revokedReason(t, sessionID(t, bobToks.AccessToken)))

	// Nothing left to revoke; the user is still an end user.
	n, err = b.isvc.RevokeOrgEndUserSessions(ctx, b.org, ada)
	require.NoError(t, err)
	require.Zero(t, n)
	d, err := b.isvc.GetOrgEndUser(ctx, b.org, bob)
	require.NoError(t, err)
	require.Equal(t, 1, d.SessionCount)
}

func TestRequireServiceUserTx(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	ctx := t.Context()
	ada := uuid.MustParse(b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated).ID)
	bob := uuid.MustParse(b.createServiceUser(t, keyOtherService, "bob@example.test", http.StatusCreated).ID)
	carol := uuid.MustParse(b.createServiceUser(t, keyOtherOrg, "carol@example.test", http.StatusCreated).ID)
	web := b.svc
	check := func(org, svc, user uuid.UUID) error {
		return db.InTx(ctx, b.pool, func(tx pgx.Tx) error { return b.isvc.RequireServiceUserTx(ctx, tx, org, svc, user) })
	}
	require.NoError(t, check(b.org, web, ada))
	require.ErrorIs(t, check(b.org, web, bob), identity.ErrUserNotFound, "user of another service")
	require.ErrorIs(t, check(b.org, web, carol), identity.ErrUserNotFound, "user of another organization")
	require.ErrorIs(t, check(b.org2, b.svc3, ada), identity.ErrUserNotFound, "another organization's key")
	require.ErrorIs(t, check(b.org, web, uuid.New()), identity.ErrUserNotFound)

	t.Run("WaitsForAConcurrentUnlink", func(t *testing.T) {
		// The unlink holds the user's row; the check waits for it and then
		// sees the identity gone.
		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		_, err = tx.Exec(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, ada)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1`, ada)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- check(b.org, web, ada) }()
		select {
		case err := <-done:
			t.Fatalf("check did not wait for the unlink: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		require.NoError(t, tx.Commit(ctx))
		require.ErrorIs(t, <-done, identity.ErrUserNotFound)
	})
}

func TestServiceUserStatsSince(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	ctx := t.Context()
	st := identity.NewStore(b.pool)
	web := b.svc
	ada, _ := b.serviceLogin(t, "ada@example.test", "acme", "web-app")
	bob := uuid.MustParse(b.createServiceUser(t, keyAll, "bob@example.test", http.StatusCreated).ID)
	b.createServiceUser(t, keyOtherService, "carol@example.test", http.StatusCreated)
	b.serviceLogin(t, "dave@example.test", "globex", "web-app")
	org := b.org
	since := b.clock.Now().Add(-30 * 24 * time.Hour)
	for _, l := range []struct {
		user uuid.UUID
		svc  *uuid.UUID
		at   time.Time
	}{
		{ada, &web, b.clock.Now()},
		{bob, &web, b.clock.Now()},
		{bob, &web, b.clock.Now()},
		{bob, &web, since.Add(-time.Hour)}, // too old
		{bob, nil, b.clock.Now()},          // not a service login
		{bob, &b.svc2, b.clock.Now()},      // another service
	} {
		require.NoError(t, st.LoginEventInsert(ctx, l.user, identity.Scope{OrgID: &org, ServiceID: l.svc}, "password", identity.RequestMeta{}, l.at))
	}
	got, err := b.isvc.ServiceUserStatsSince(ctx, b.org, web, since)
	require.NoError(t, err)
	// ada's real login plus the three inserts in the window.
	require.Equal(t, identity.ServiceUserStats{Users: 2, Logins: 4, UniqueUsers: 2}, got)

	got, err = b.isvc.ServiceUserStatsSince(ctx, b.org2, web, since)
	require.NoError(t, err)
	require.Equal(t, identity.ServiceUserStats{}, got, "the key's organization scopes every count")
}

// unlinkHook records the identity module's unlink hook calls and fails
// when told to.
type unlinkHook struct {
	mu    sync.Mutex
	calls [][4]uuid.UUID // org, service, user, api key
	fail  bool
}

func (h *unlinkHook) setFail(fail bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = fail
}

func (h *unlinkHook) recorded() [][4]uuid.UUID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][4]uuid.UUID(nil), h.calls...)
}

func (h *unlinkHook) ServiceUserUnlinkedTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID, apiKeyID uuid.UUID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, [4]uuid.UUID{orgID, serviceID, userID, apiKeyID})
	if h.fail {
		return errors.New("hook failed")
	}
	// The hook runs in the unlink's transaction: the identities are gone there.
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM identities WHERE user_id = $1 AND service_id = $2`, userID, serviceID).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return errors.New("identities still present in the unlink transaction")
	}
	return nil
}

func TestServiceUnlinkHook(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t)
	hook := &unlinkHook{}
	b.mod.SetServiceUnlinkHook(hook)
	ada := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
	id := uuid.MustParse(ada.ID)
	sess := b.serviceSession(t, id, b.org, b.svc)

	t.Run("FailureRollsTheUnlinkBack", func(t *testing.T) {
		hook.setFail(true)
		r := b.api.do(t, http.MethodDelete, "/api/service/users/"+ada.ID, nil, apiKey(keyAll))
		requireKeyProblem(t, r, http.StatusInternalServerError, httpapi.CodeInternalServerError, "")
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc))
		require.Nil(t, b.session(t, sess).RevokedAt)
		hook.setFail(false)
	})

	t.Run("RunsOnceInTheUnlinkTransaction", func(t *testing.T) {
		before := len(hook.recorded())
		r := b.api.do(t, http.MethodDelete, "/api/service/users/"+ada.ID, nil, apiKey(keyAll))
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		calls := hook.recorded()
		require.Len(t, calls, before+1)
		c := calls[before]
		require.Equal(t, [3]uuid.UUID{b.org, b.svc, id}, [3]uuid.UUID{c[0], c[1], c[2]})
		require.NotEqual(t, uuid.Nil, c[3], "the calling key is passed on")
		require.NotNil(t, b.session(t, sess).RevokedAt)
		// A refused unlink (not a user of the service) does not call it.
		r = b.api.do(t, http.MethodDelete, "/api/service/users/"+ada.ID, nil, apiKey(keyAll))
		require.Equal(t, http.StatusNotFound, r.status)
		require.Len(t, hook.recorded(), before+1)
	})
}
