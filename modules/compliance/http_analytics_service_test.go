package compliance_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv"
)

// identityStats and billingStats adapt the owners' counts to the
// compliance interfaces, as cmd/internal/app does.
type identityStats struct{ id *identity.Service }

func (a identityStats) ServiceUserCounts(ctx context.Context, orgID, serviceID uuid.UUID, since time.Time) (compliance.ServiceUserCounts, error) {
	s, err := a.id.ServiceUserStatsSince(ctx, orgID, serviceID, since)
	return compliance.ServiceUserCounts{Users: s.Users, Logins: s.Logins, UniqueUsers: s.UniqueUsers}, err
}

type billingStats struct{ b *billing.Service }

func (a billingStats) ServiceSubscriptionCounts(ctx context.Context, orgID, serviceID uuid.UUID) (int, int, error) {
	c, err := a.b.ServiceSubscriptionCounts(ctx, orgID, serviceID)
	return c.Total, c.Active, err
}

type analyticsBundle struct {
	pool      *pgxpool.Pool
	ident     *identity.Service
	handler   http.Handler
	now       time.Time
	org, org2 uuid.UUID
	svc, svc2 uuid.UUID
	svc3      uuid.UUID
}

const (
	keyAnalytics      = "sk_analytics"       // org/svc: read:analytics
	keyNoAnalytics    = "sk_no_analytics"    // org/svc: every permission but read:analytics
	keyOtherSvcStats  = "sk_other_svc_stats" // org/svc2: read:analytics
	keyOtherOrgStats  = "sk_other_org_stats" // org2/svc3: read:analytics
	keyUserPrincipal  = "sk_user_principal"  // not an API key
	permReadAnalytics = "read:analytics"
)

func setupAnalytics(t *testing.T, wire bool) *analyticsBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mod, err := compliance.New(compliance.Deps{Pool: pool, Logger: logger, NowFunc: clock})
	require.NoError(t, err)
	ring, err := crypto.ParseKeyRing("k1", config.DevelopmentEncryptionKey, "")
	require.NoError(t, err)
	ident, err := identity.New(identity.Deps{
		Pool: pool, Redis: testenv.Redis(t), KeyRing: ring, Recorder: mod.Recorder(), Logger: logger, NowFunc: clock,
		Config: identity.Config{BaseURL: "http://auth.compliance.test", RedisKeyPrefix: testenv.KeyPrefix(t)},
	})
	require.NoError(t, err)
	bill, err := billing.New(billing.Deps{Pool: pool, Logger: logger, Recorder: mod.Recorder(), NowFunc: clock})
	require.NoError(t, err)
	if wire {
		mod.SetServiceAnalyticsSources(identityStats{id: ident.Service()}, billingStats{b: bill.Service()})
	}
	b := &analyticsBundle{pool: pool, ident: ident.Service(), now: now}
	b.org, b.org2 = b.insertOrg(t), b.insertOrg(t)
	b.svc, b.svc2, b.svc3 = b.insertService(t, b.org), b.insertService(t, b.org), b.insertService(t, b.org2)

	all := []string{"read:users", "write:users", "read:subscriptions", "write:subscriptions", "read:service"}
	key := func(org, svc uuid.UUID, perms ...string) httpapi.Principal {
		return httpapi.Principal{Kind: httpapi.PrincipalAPIKey, APIKeyID: uuid.New(), OrgID: &org, ServiceID: &svc, Permissions: perms}
	}
	keys := map[string]httpapi.Principal{
		keyAnalytics:     key(b.org, b.svc, permReadAnalytics),
		keyNoAnalytics:   key(b.org, b.svc, all...),
		keyOtherSvcStats: key(b.org, b.svc2, permReadAnalytics),
		keyOtherOrgStats: key(b.org2, b.svc3, permReadAnalytics),
		keyUserPrincipal: {Kind: httpapi.PrincipalUser, UserID: uuid.New(), OrgID: &b.org, ServiceID: &b.svc, Permissions: []string{permReadAnalytics}},
	}
	mux, api := httpapi.New(httpapi.Options{
		Logger: logger,
		Authenticators: map[string]httpapi.Authenticator{
			httpapi.SchemeAPIKey: httpapi.AuthenticatorFunc(func(_ context.Context, cred string) (*httpapi.Principal, error) {
				p, ok := keys[cred]
				if !ok {
					return nil, errors.New("unknown api key")
				}
				return &p, nil
			}),
		},
	})
	mod.RegisterRoutes(api)
	b.handler = mux
	return b
}

func (b *analyticsBundle) insertOrg(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, 'Org', 'active')`, id, "org-"+id.String()[:8])
	require.NoError(t, err)
	return id
}

func (b *analyticsBundle) insertService(t *testing.T, org uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO services (id, org_id, slug, name, service_type, client_id, client_secret_hash)
		VALUES ($1, $2, $3, 'Service', 'web', $4, $5)`, id, org, "svc-"+id.String()[:8], uuid.NewString(), strings.Repeat("ab", 32))
	require.NoError(t, err)
	return id
}

// user links email to the organization's service through the identity module.
func (b *analyticsBundle) user(t *testing.T, org, svc uuid.UUID, email string) uuid.UUID {
	t.Helper()
	u, _, err := b.ident.LinkServiceUser(t.Context(), identity.ServiceKey{OrgID: org, ServiceID: svc}, email, identity.RequestMeta{})
	require.NoError(t, err)
	return u.ID
}

// subscribe inserts a subscription row (the billing module's endpoints are
// tested there).
func (b *analyticsBundle) subscribe(t *testing.T, org, svc, user uuid.UUID, status string) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO subscriptions (id, org_id, user_id, service_id, status) VALUES ($1, $2, $3, $4, $5)`,
		uuid.New(), org, user, svc, status)
	require.NoError(t, err)
}

func (b *analyticsBundle) login(t *testing.T, org, svc, user uuid.UUID, at time.Time) {
	t.Helper()
	sc := identity.Scope{OrgID: &org, ServiceID: &svc}
	require.NoError(t, identity.NewStore(b.pool).LoginEventInsert(t.Context(), user, sc, "password", identity.RequestMeta{}, at))
}

type analyticsBody struct {
	TotalUsers          int `json:"total_users"`
	TotalSubscriptions  int `json:"total_subscriptions"`
	ActiveSubscriptions int `json:"active_subscriptions"`
	TotalLogins30d      int `json:"total_logins_30d"`
	UniqueUsers30d      int `json:"unique_users_30d"`
}

func (b *analyticsBundle) get(t *testing.T, key string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/service/analytics", nil)
	if key != "" {
		req.Header.Set(httpapi.APIKeyHeader, key)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (b *analyticsBundle) analytics(t *testing.T, key string) analyticsBody {
	t.Helper()
	status, body := b.get(t, key)
	require.Equal(t, http.StatusOK, status, string(body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	require.Len(t, raw, 5, string(body))
	var a analyticsBody
	require.NoError(t, json.Unmarshal(body, &a))
	return a
}

func requireAnalyticsProblem(t *testing.T, status int, body []byte, wantStatus int, code, msg string) {
	t.Helper()
	require.Equal(t, wantStatus, status, string(body))
	var p struct {
		Error     string `json:"error"`
		ErrorCode string `json:"error_code"`
	}
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, code, p.ErrorCode)
	if msg != "" {
		require.Equal(t, msg, p.Error)
	}
}

func TestServiceAnalytics(t *testing.T) {
	t.Parallel()
	b := setupAnalytics(t, true)
	ada := b.user(t, b.org, b.svc, "ada@example.test")
	bob := b.user(t, b.org, b.svc, "bob@example.test")
	carol := b.user(t, b.org, b.svc, "carol@example.test")
	require.Equal(t, ada, b.user(t, b.org, b.svc2, "ada@example.test"), "ada uses both services")
	dave := b.user(t, b.org2, b.svc3, "dave@example.test")
	b.subscribe(t, b.org, b.svc, ada, "active")
	b.subscribe(t, b.org, b.svc, bob, "past_due")
	b.subscribe(t, b.org, b.svc, carol, "canceled")
	b.subscribe(t, b.org, b.svc2, ada, "active")
	b.subscribe(t, b.org2, b.svc3, dave, "active")
	day := 24 * time.Hour
	b.login(t, b.org, b.svc, ada, b.now.Add(-time.Hour))
	b.login(t, b.org, b.svc, ada, b.now.Add(-29*day))
	b.login(t, b.org, b.svc, bob, b.now.Add(-2*day))
	b.login(t, b.org, b.svc, carol, b.now.Add(-31*day)) // outside the window
	b.login(t, b.org, b.svc2, carol, b.now)             // another service
	b.login(t, b.org2, b.svc3, dave, b.now)

	t.Run("CountsTheKeysService", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, analyticsBody{
			TotalUsers: 3, TotalSubscriptions: 3, ActiveSubscriptions: 1, TotalLogins30d: 3, UniqueUsers30d: 2,
		}, b.analytics(t, keyAnalytics))
	})

	t.Run("OtherServicesAndOrganizationsCountTheirOwn", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, analyticsBody{
			TotalUsers: 1, TotalSubscriptions: 1, ActiveSubscriptions: 1, TotalLogins30d: 1, UniqueUsers30d: 1,
		}, b.analytics(t, keyOtherSvcStats))
		require.Equal(t, analyticsBody{
			TotalUsers: 1, TotalSubscriptions: 1, ActiveSubscriptions: 1, TotalLogins30d: 1, UniqueUsers30d: 1,
		}, b.analytics(t, keyOtherOrgStats))
	})

	t.Run("NoKey", func(t *testing.T) {
		t.Parallel()
		status, body := b.get(t, "")
		requireAnalyticsProblem(t, status, body, http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	})

	t.Run("UnknownKey", func(t *testing.T) {
		t.Parallel()
		status, body := b.get(t, "sk_nope")
		requireAnalyticsProblem(t, status, body, http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	})

	t.Run("MissingPermission", func(t *testing.T) {
		t.Parallel()
		status, body := b.get(t, keyNoAnalytics)
		requireAnalyticsProblem(t, status, body, http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: read:analytics")
	})

	t.Run("NonKeyPrincipal", func(t *testing.T) {
		t.Parallel()
		status, body := b.get(t, keyUserPrincipal)
		requireAnalyticsProblem(t, status, body, http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
	})
}

func TestServiceAnalyticsEmptyAndUnwired(t *testing.T) {
	t.Parallel()

	t.Run("NewServiceCountsZero", func(t *testing.T) {
		t.Parallel()
		b := setupAnalytics(t, true)
		require.Equal(t, analyticsBody{}, b.analytics(t, keyAnalytics))
	})

	t.Run("UnwiredSourcesAreAServerError", func(t *testing.T) {
		t.Parallel()
		b := setupAnalytics(t, false)
		status, body := b.get(t, keyAnalytics)
		requireAnalyticsProblem(t, status, body, http.StatusInternalServerError, httpapi.CodeInternalServerError, "")
		require.NotContains(t, string(body), "not configured", "internal details stay in the logs")
	})
}
