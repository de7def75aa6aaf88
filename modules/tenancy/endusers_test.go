package tenancy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv"
)

// ---- adapters (the same as cmd/internal/app's)

// endUserDirectory adapts the identity service to tenancy.EndUserDirectory.
type endUserDirectory struct{ id *identity.Service }

func endUserErr(err error) error {
	if errors.Is(err, identity.ErrUserNotFound) {
		return tenancy.ErrUserNotFound
	}
	return err
}

func toEndUser(u identity.EndUser) tenancy.EndUser {
	out := tenancy.EndUser{
		User:       tenancy.UserInfo{ID: u.User.ID, Email: u.User.Email, IsPlatformOwner: u.User.IsPlatformOwner, CreatedAt: u.User.CreatedAt},
		Identities: make([]tenancy.EndUserIdentity, 0, len(u.Identities)),
	}
	for _, i := range u.Identities {
		out.Identities = append(out.Identities, tenancy.EndUserIdentity{Provider: i.Provider, ProviderUserID: i.ProviderUserID, ServiceID: i.ServiceID, CreatedAt: i.CreatedAt})
	}
	return out
}

func (a endUserDirectory) ListEndUsers(ctx context.Context, orgID uuid.UUID, serviceID *uuid.UUID, limit, offset int) ([]tenancy.EndUser, int, error) {
	users, total, err := a.id.ListOrgEndUsers(ctx, orgID, serviceID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := make([]tenancy.EndUser, len(users))
	for i, u := range users {
		out[i] = toEndUser(u)
	}
	return out, total, nil
}

func (a endUserDirectory) GetEndUser(ctx context.Context, orgID, userID uuid.UUID) (tenancy.EndUserDetail, error) {
	d, err := a.id.GetOrgEndUser(ctx, orgID, userID)
	if err != nil {
		return tenancy.EndUserDetail{}, endUserErr(err)
	}
	out := tenancy.EndUserDetail{EndUser: toEndUser(d.EndUser), SessionCount: d.SessionCount}
	for _, x := range d.Sessions {
		out.Sessions = append(out.Sessions, tenancy.EndUserSession{
			ID: x.ID, ServiceID: x.ServiceID, OrgSlug: x.OrgSlug, IP: x.IP, UserAgent: x.UserAgent,
			ExpiresAt: x.ExpiresAt, RefreshExpiresAt: x.RefreshExpiresAt, CreatedAt: x.CreatedAt,
		})
	}
	for _, l := range d.RecentLogins {
		out.RecentLogins = append(out.RecentLogins, tenancy.EndUserLogin{
			ID: l.ID, ServiceID: l.ServiceID, Provider: l.Provider, IP: l.IP, UserAgent: l.UserAgent, RiskScore: l.RiskScore,
			RiskFactors: l.RiskFactors, GeoCountry: l.GeoCountry, GeoCity: l.GeoCity, CreatedAt: l.CreatedAt,
		})
	}
	return out, nil
}

func (a endUserDirectory) RevokeEndUserSessions(ctx context.Context, orgID, userID uuid.UUID) (int, error) {
	n, err := a.id.RevokeOrgEndUserSessions(ctx, orgID, userID)
	return n, endUserErr(err)
}

// endUserSubscriptions adapts the billing service to tenancy.EndUserSubscriptions.
type endUserSubscriptions struct{ b *billing.Service }

func (a endUserSubscriptions) SubscriptionsOfUsers(ctx context.Context, orgID uuid.UUID, userIDs []uuid.UUID) ([]tenancy.EndUserSubscription, error) {
	subs, err := a.b.UserSubscriptions(ctx, orgID, userIDs)
	if err != nil {
		return nil, err
	}
	out := make([]tenancy.EndUserSubscription, len(subs))
	for i, x := range subs {
		out[i] = tenancy.EndUserSubscription{
			UserID: x.UserID, ServiceID: x.ServiceID, PlanID: x.PlanID, Status: string(x.Status),
			CurrentPeriodEnd: x.CurrentPeriodEnd, CreatedAt: x.CreatedAt,
		}
	}
	return out, nil
}

// ---- harness

// endUserBundle is the tenancy bundle rebuilt with the real identity
// module as the end-user directory (its sessions, Redis cache and bearer
// authentication included) and the real billing module's subscriptions.
// Administrators keep their test tokens; end users carry real JWTs.
type endUserBundle struct {
	*testBundle
	ident *identity.Module
	w     world
	a1    svc // two services of org A and one of org B
	a2    svc
	b1    svc
	proA1 uuid.UUID
	// End users: ada uses a1 and a2 (subscribed to a1's pro plan), bob a1,
	// carol org B's b1.
	ada, bob, carol uuid.UUID
}

func setupEndUsers(t *testing.T, wire bool) *endUserBundle {
	t.Helper()
	b := &endUserBundle{testBundle: setup(t)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	b.ident, err = identity.New(identity.Deps{
		Pool: b.pool, Redis: testenv.Redis(t), KeyRing: b.ring, Recorder: b.audit.Recorder(), Logger: logger,
		Config: identity.Config{BaseURL: "http://auth.tenancy.test", RedisKeyPrefix: testenv.KeyPrefix(t)},
	})
	require.NoError(t, err)
	require.NoError(t, b.ident.Start(t.Context()))
	bill, err := billing.New(billing.Deps{Pool: b.pool, Logger: logger, Recorder: b.audit.Recorder()})
	require.NoError(t, err)
	deps := tenancy.Deps{
		Pool: b.pool, Logger: logger, Recorder: b.audit.Recorder(), Users: dbUsers{pool: b.pool}, Sessions: b.sessions,
		NowFunc: b.clock, Queue: b.queue, KeyRing: b.ring,
	}
	if wire {
		deps.EndUsers = endUserDirectory{id: b.ident.Service()}
	}
	b.mod, err = tenancy.New(deps)
	require.NoError(t, err)
	if wire {
		b.mod.SetEndUserSubscriptions(endUserSubscriptions{b: bill.Service()})
	}
	idAuth := b.ident.Authenticator()
	mux, api := httpapi.New(httpapi.Options{
		Logger: logger,
		Authenticators: map[string]httpapi.Authenticator{httpapi.SchemeBearer: httpapi.AuthenticatorFunc(
			func(ctx context.Context, token string) (*httpapi.Principal, error) {
				if _, ok := b.tokens.Load(token); ok {
					return b.authenticate(ctx, token)
				}
				return idAuth.Authenticate(ctx, token)
			})},
	})
	b.mod.RegisterRoutes(api)
	b.ident.RegisterRoutes(api)
	b.handler = mux

	b.w = b.world(t)
	b.a1, b.a2, b.b1 = b.createService(t, b.w.A), b.createService(t, b.w.A), b.createService(t, b.w.B)
	b.proA1 = b.createPlan(t, b.a1, "pro", 900)
	b.ada = b.link(t, b.a1, "ada@example.test")
	b.advance(time.Second)
	require.Equal(t, b.ada, b.link(t, b.a2, "ada@example.test"))
	b.bob = b.link(t, b.a1, "bob@example.test")
	b.carol = b.link(t, b.b1, "carol@example.test")
	_, err = b.pool.Exec(t.Context(), `INSERT INTO subscriptions (id, org_id, user_id, service_id, plan_id, status, current_period_end, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6, $7)`, uuid.New(), b.w.A.ID, b.ada, b.a1.ID, b.proA1, b.now.Add(30*24*time.Hour), b.now)
	require.NoError(t, err)
	return b
}

// link makes email a user of service s through the identity module.
func (b *endUserBundle) link(t *testing.T, s svc, email string) uuid.UUID {
	t.Helper()
	u, _, err := b.ident.Service().LinkServiceUser(t.Context(), identity.ServiceKey{OrgID: s.Org.ID, ServiceID: s.ID}, email, identity.RequestMeta{})
	require.NoError(t, err)
	return u.ID
}

// orgSession starts a real session of the user scoped to organization o
// and returns its access token.
func (b *endUserBundle) orgSession(t *testing.T, user uuid.UUID, o org) string {
	t.Helper()
	toks, err := b.ident.Service().IssueOrgSession(t.Context(), user, o.ID, o.Slug, identity.RequestMeta{IP: "203.0.113.5", UserAgent: "end-user-app"})
	require.NoError(t, err)
	return toks.AccessToken
}

// serviceSession inserts a live session row of the user scoped to service s.
func (b *endUserBundle) serviceSession(t *testing.T, user uuid.UUID, s svc) uuid.UUID {
	t.Helper()
	id, now := uuid.New(), time.Now()
	orgID, svcID := s.Org.ID, s.ID
	refresh := now.Add(24 * time.Hour)
	require.NoError(t, identity.NewStore(b.pool).SessionInsert(t.Context(), identity.Session{
		ID: id, UserID: user, OrgID: &orgID, ServiceID: &svcID, OrgSlug: s.Org.Slug, ServiceSlug: s.Slug, Audience: "service",
		AuthMethod: "password", AccessJTI: uuid.NewString(), TokenHash: uuid.NewString(), AccessExpiresAt: now.Add(time.Hour),
		RefreshExpiresAt: &refresh, CreatedAt: now,
	}, crypto.HashToken(uuid.NewString())))
	return id
}

func (b *endUserBundle) usersPath(o org, rest string) string {
	return "/api/organizations/" + o.Slug + "/users" + rest
}

// ---- bodies

type endUserSubscriptionJSON struct {
	ServiceID        string     `json:"service_id"`
	ServiceSlug      string     `json:"service_slug"`
	ServiceName      string     `json:"service_name"`
	PlanID           *string    `json:"plan_id"`
	PlanName         *string    `json:"plan_name"`
	Status           string     `json:"status"`
	CurrentPeriodEnd *time.Time `json:"current_period_end"`
	CreatedAt        time.Time  `json:"created_at"`
}

type endUserIdentityJSON struct {
	Provider       string  `json:"provider"`
	ProviderUserID string  `json:"provider_user_id"`
	ServiceID      *string `json:"service_id"`
}

type endUserJSON struct {
	User          userBody                  `json:"user"`
	Subscriptions []endUserSubscriptionJSON `json:"subscriptions"`
	Identities    []endUserIdentityJSON     `json:"identities"`
}

type endUserListJSON struct {
	Users []endUserJSON `json:"users"`
	Total int           `json:"total"`
	Page  int           `json:"page"`
	Limit int           `json:"limit"`
}

type endUserSessionJSON struct {
	ID                    string     `json:"id"`
	ServiceID             *string    `json:"service_id"`
	ServiceName           *string    `json:"service_name"`
	OrgSlug               *string    `json:"org_slug"`
	IPAddress             *string    `json:"ip_address"`
	UserAgent             *string    `json:"user_agent"`
	ExpiresAt             time.Time  `json:"expires_at"`
	RefreshTokenExpiresAt *time.Time `json:"refresh_token_expires_at"`
}

type endUserLoginJSON struct {
	ID          string   `json:"id"`
	ServiceID   *string  `json:"service_id"`
	ServiceName *string  `json:"service_name"`
	Provider    string   `json:"provider"`
	IPAddress   *string  `json:"ip_address"`
	RiskScore   int      `json:"risk_score"`
	RiskFactors []string `json:"risk_factors"`
}

type endUserDetailJSON struct {
	endUserJSON
	SessionCount int                  `json:"session_count"`
	Sessions     []endUserSessionJSON `json:"sessions"`
	RecentLogins []endUserLoginJSON   `json:"recent_logins"`
}

func ids(list []endUserJSON) []string {
	out := make([]string, 0, len(list))
	for _, u := range list {
		out = append(out, u.User.ID)
	}
	return out
}

// ---- tests

func TestEndUsersAuthorization(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, true)
	w := b.w
	adaToken := b.orgSession(t, b.ada, w.A)
	list, one, revoke := b.usersPath(w.A, ""), b.usersPath(w.A, "/"+b.bob.String()), b.usersPath(w.A, "/"+b.bob.String()+"/sessions")

	for _, who := range []struct {
		name string
		acc  account
	}{{"Owner", w.OwnerA}, {"Admin", w.AdminA}} {
		t.Run(who.name+"MayViewAndManage", func(t *testing.T) {
			t.Parallel()
			l := decode[endUserListJSON](t, b.do(t, http.MethodGet, list, who.acc.Token, nil), http.StatusOK)
			require.Equal(t, 2, l.Total)
			d := decode[endUserDetailJSON](t, b.do(t, http.MethodGet, one, who.acc.Token, nil), http.StatusOK)
			require.Equal(t, b.bob.String(), d.User.ID)
			r := decode[map[string]any](t, b.do(t, http.MethodDelete, revoke, who.acc.Token, nil), http.StatusOK)
			require.Equal(t, map[string]any{"message": "Sessions revoked successfully", "revoked_count": float64(0)}, r)
		})
	}

	t.Run("MemberWithoutCapability", func(t *testing.T) {
		t.Parallel()
		tok := w.MemberA.Token
		requireProblem(t, b.do(t, http.MethodGet, list, tok, nil), http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to view end users")
		requireProblem(t, b.do(t, http.MethodGet, one, tok, nil), http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to view end users")
		requireProblem(t, b.do(t, http.MethodDelete, revoke, tok, nil), http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to manage end users")
	})

	for _, who := range []struct {
		name  string
		token string
	}{
		{"OtherOrgsOwner", w.OwnerB.Token}, {"OtherOrgsAdmin", w.AdminB.Token}, {"PlatformOwner", w.PO.Token},
		{"Stranger", w.Stranger.Token}, {"EndUserOfTheOrg", adaToken},
	} {
		t.Run(who.name+"IsNotAMember", func(t *testing.T) {
			t.Parallel()
			for _, req := range []struct{ method, path string }{{http.MethodGet, list}, {http.MethodGet, one}, {http.MethodDelete, revoke}} {
				r := b.do(t, req.method, req.path, who.token, nil)
				requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, "Not a member of this organization")
				require.NotContains(t, string(r.body), "bob@example.test")
			}
		})
	}

	t.Run("NoToken", func(t *testing.T) {
		t.Parallel()
		for _, req := range []struct{ method, path string }{{http.MethodGet, list}, {http.MethodGet, one}, {http.MethodDelete, revoke}} {
			requireProblem(t, b.do(t, req.method, req.path, "", nil), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		}
	})

	t.Run("UnknownOrganization", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, http.MethodGet, "/api/organizations/no-such-org/users", w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})

	t.Run("AdminOfOtherOrgSeesOnlyItsOwn", func(t *testing.T) {
		t.Parallel()
		l := decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(w.B, ""), w.AdminB.Token, nil), http.StatusOK)
		require.Equal(t, []string{b.carol.String()}, ids(l.Users))
		// Org A's end users through org B's path are not found.
		r := b.do(t, http.MethodGet, b.usersPath(w.B, "/"+b.ada.String()), w.AdminB.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "End-user not found")
		r = b.do(t, http.MethodDelete, b.usersPath(w.B, "/"+b.ada.String()+"/sessions"), w.AdminB.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "End-user not found")
	})
}

func TestEndUsersInactiveOrganization(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, true)
	for _, status := range []tenancy.OrgStatus{tenancy.StatusSuspended, tenancy.StatusPending} {
		b.setStatus(t, b.w.A, status)
		for _, req := range []struct{ method, path string }{
			{http.MethodGet, b.usersPath(b.w.A, "")},
			{http.MethodGet, b.usersPath(b.w.A, "/"+b.ada.String())},
			{http.MethodDelete, b.usersPath(b.w.A, "/"+b.ada.String()+"/sessions")},
		} {
			requireProblem(t, b.do(t, req.method, req.path, b.w.OwnerA.Token, nil), http.StatusForbidden,
				tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: "+string(status))
		}
	}
}

func TestListEndUsers(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, true)
	tok := b.w.AdminA.Token

	t.Run("WithSubscriptionsAndIdentities", func(t *testing.T) {
		t.Parallel()
		l := decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, ""), tok, nil), http.StatusOK)
		require.Equal(t, 2, l.Total)
		require.Equal(t, 1, l.Page)
		require.Equal(t, 50, l.Limit)
		require.Equal(t, []string{b.ada.String(), b.bob.String()}, ids(l.Users))
		ada := l.Users[0]
		require.Equal(t, "ada@example.test", ada.User.Email)
		require.False(t, ada.User.IsPlatformOwner)
		proID := b.proA1.String()
		name := "pro"
		require.Len(t, ada.Subscriptions, 1)
		sub := ada.Subscriptions[0]
		require.Equal(t, endUserSubscriptionJSON{
			ServiceID: b.a1.ID.String(), ServiceSlug: b.a1.Slug, ServiceName: "Service " + b.a1.Slug, PlanID: &proID, PlanName: &name,
			Status: "active", CurrentPeriodEnd: sub.CurrentPeriodEnd, CreatedAt: sub.CreatedAt,
		}, sub)
		require.True(t, b.now.Add(30*24*time.Hour).Equal(*sub.CurrentPeriodEnd))
		a1, a2 := b.a1.ID.String(), b.a2.ID.String()
		require.Equal(t, []endUserIdentityJSON{
			{Provider: "service_api", ProviderUserID: "ada@example.test", ServiceID: &a1},
			{Provider: "service_api", ProviderUserID: "ada@example.test", ServiceID: &a2},
		}, ada.Identities)
		require.NotNil(t, l.Users[1].Subscriptions)
		require.Empty(t, l.Users[1].Subscriptions)
	})

	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		l := decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?page=2&limit=1"), tok, nil), http.StatusOK)
		require.Equal(t, endUserListJSON{Users: l.Users, Total: 2, Page: 2, Limit: 1}, l)
		require.Equal(t, []string{b.bob.String()}, ids(l.Users))
		l = decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?page=3&limit=1"), tok, nil), http.StatusOK)
		require.Equal(t, 2, l.Total)
		require.NotNil(t, l.Users)
		require.Empty(t, l.Users)
		requireFieldError(t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?limit=101"), tok, nil), "query.limit")
		requireFieldError(t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?limit=0"), tok, nil), "query.limit")
		requireFieldError(t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?page=0"), tok, nil), "query.page")
	})

	t.Run("FiltersByService", func(t *testing.T) {
		t.Parallel()
		l := decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?service_slug="+b.a2.Slug), tok, nil), http.StatusOK)
		require.Equal(t, 1, l.Total)
		require.Equal(t, []string{b.ada.String()}, ids(l.Users))
		// Slugs match case-insensitively, like every service slug.
		l = decode[endUserListJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "?service_slug="+upper(b.a1.Slug)), tok, nil), http.StatusOK)
		require.Equal(t, 2, l.Total)
	})

	t.Run("UnknownService", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, http.MethodGet, b.usersPath(b.w.A, "?service_slug=nope"), tok, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Service 'nope' not found")
		// Another organization's service is unknown here.
		r = b.do(t, http.MethodGet, b.usersPath(b.w.A, "?service_slug="+b.b1.Slug), tok, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Service '"+b.b1.Slug+"' not found")
	})
}

func TestGetEndUser(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, true)
	tok := b.w.AdminA.Token
	b.orgSession(t, b.ada, b.w.A)
	svcSess := b.serviceSession(t, b.ada, b.a1)
	b.orgSession(t, b.ada, b.w.B) // another organization's session is not listed
	st := identity.NewStore(b.pool)
	orgID, a2 := b.w.A.ID, b.a2.ID
	for i := range 22 {
		sc := identity.Scope{OrgID: &orgID}
		if i == 21 {
			sc.ServiceID = &a2
		}
		require.NoError(t, st.LoginEventInsert(t.Context(), b.ada, sc, "password", identity.RequestMeta{IP: "198.51.100.1"}, time.Now().Add(time.Duration(i)*time.Second)))
	}

	d := decode[endUserDetailJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "/"+b.ada.String()), tok, nil), http.StatusOK)
	require.Equal(t, b.ada.String(), d.User.ID)
	require.Len(t, d.Subscriptions, 1)
	require.Equal(t, "pro", *d.Subscriptions[0].PlanName)
	require.Len(t, d.Identities, 2)

	require.Equal(t, 2, d.SessionCount)
	require.Len(t, d.Sessions, 2)
	byID := map[string]endUserSessionJSON{}
	for _, x := range d.Sessions {
		byID[x.ID] = x
	}
	s := byID[svcSess.String()]
	require.Equal(t, b.a1.ID.String(), *s.ServiceID)
	require.Equal(t, "Service "+b.a1.Slug, *s.ServiceName)
	require.Equal(t, b.w.A.Slug, *s.OrgSlug)
	require.NotNil(t, s.RefreshTokenExpiresAt)
	for id, x := range byID {
		if id == svcSess.String() {
			continue
		}
		require.Nil(t, x.ServiceID, "the organization session")
		require.Equal(t, "203.0.113.5", *x.IPAddress)
		require.Equal(t, "end-user-app", *x.UserAgent)
	}

	require.Len(t, d.RecentLogins, 20)
	newest := d.RecentLogins[0]
	require.Equal(t, a2.String(), *newest.ServiceID)
	require.Equal(t, "Service "+b.a2.Slug, *newest.ServiceName)
	require.Equal(t, "password", newest.Provider)
	require.Equal(t, "198.51.100.1", *newest.IPAddress)
	require.NotNil(t, newest.RiskFactors)
	require.Nil(t, d.RecentLogins[1].ServiceID)

	for name, tc := range map[string]struct{ id, msg string }{
		"Unknown":             {uuid.NewString(), "End-user not found"},
		"Malformed":           {"not-a-uuid", "End-user not found"},
		"OtherOrgsEndUser":    {b.carol.String(), "End-user not found"},
		"OtherOrgsMember":     {b.w.AdminB.ID.String(), "End-user not found"},
		"MemberIsNotAnEndUse": {b.w.MemberA.ID.String(), "User is not an end-user of this organization"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodGet, b.usersPath(b.w.A, "/"+tc.id), tok, nil)
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, tc.msg)
			r = b.do(t, http.MethodDelete, b.usersPath(b.w.A, "/"+tc.id+"/sessions"), tok, nil)
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, tc.msg)
		})
	}
}

func TestRevokeEndUserSessions(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, true)
	adaOrgA := b.orgSession(t, b.ada, b.w.A)
	adaSvc := b.serviceSession(t, b.ada, b.a1)
	adaOrgB := b.orgSession(t, b.ada, b.w.B)
	bobOrgA := b.orgSession(t, b.bob, b.w.A)
	for _, tok := range []string{adaOrgA, adaOrgB, bobOrgA} {
		require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/user", tok, nil).status)
	}

	r := decode[map[string]any](t, b.do(t, http.MethodDelete, b.usersPath(b.w.A, "/"+b.ada.String()+"/sessions"), b.w.OwnerA.Token, nil), http.StatusOK)
	require.Equal(t, map[string]any{"message": "Sessions revoked successfully", "revoked_count": float64(2)}, r)

	// The revoked token fails on the very next request.
	requireProblem(t, b.do(t, http.MethodGet, "/api/user", adaOrgA, nil), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Session revoked or expired")
	var revoked *time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT revoked_at FROM sessions WHERE id = $1`, adaSvc).Scan(&revoked))
	require.NotNil(t, revoked)
	// Another organization's session of the same person and another end
	// user's session survive.
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/user", adaOrgB, nil).status)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/user", bobOrgA, nil).status)

	d := decode[endUserDetailJSON](t, b.do(t, http.MethodGet, b.usersPath(b.w.A, "/"+b.ada.String()), b.w.OwnerA.Token, nil), http.StatusOK)
	require.Zero(t, d.SessionCount)
	require.Empty(t, d.Sessions)
}

func TestEndUsersNotConfigured(t *testing.T) {
	t.Parallel()
	b := setupEndUsers(t, false)
	r := b.do(t, http.MethodGet, b.usersPath(b.w.A, ""), b.w.OwnerA.Token, nil)
	requireProblem(t, r, http.StatusInternalServerError, httpapi.CodeInternalServerError, "")
	// The authorization checks still come first.
	r = b.do(t, http.MethodGet, b.usersPath(b.w.A, ""), b.w.MemberA.Token, nil)
	requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, "Insufficient permissions to view end users")
}

func TestPlanLookupsForBilling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	a1, a2, b1 := b.createService(t, w.A), b.createService(t, w.A), b.createService(t, w.B)
	pro := b.createPlan(t, a1, "pro", 900)
	s := b.mod.Service()

	p, err := s.OrgPlan(t.Context(), w.A.ID, pro)
	require.NoError(t, err)
	require.Equal(t, a1.ID, p.ServiceID)
	require.Equal(t, "pro", p.Name)
	p, err = s.OrgPlan(t.Context(), w.A.ID, a2.DefaultPlanID)
	require.NoError(t, err)
	require.Equal(t, a2.ID, p.ServiceID, "any service of the organization")
	_, err = s.OrgPlan(t.Context(), w.A.ID, b1.DefaultPlanID)
	require.ErrorIs(t, err, tenancy.ErrPlanNotFound, "another organization's plan")
	_, err = s.OrgPlan(t.Context(), w.A.ID, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrPlanNotFound)

	names, err := s.PlanNames(t.Context(), w.A.ID, []uuid.UUID{pro, a1.DefaultPlanID, b1.DefaultPlanID, uuid.New()})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]string{pro: "pro", a1.DefaultPlanID: "free"}, names)
	names, err = s.PlanNames(t.Context(), w.A.ID, nil)
	require.NoError(t, err)
	require.Empty(t, names)
}
