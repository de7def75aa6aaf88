package billing_test

import (
	"bytes"
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
	"github.com/jackc/pgx/v5"
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

// API keys of the test router, by the principal they stand for.
const (
	keyAll          = "sk_all"           // orgA/svcA1: every subscription permission, write:users, delete:users
	keyRead         = "sk_read"          // orgA/svcA1: read:subscriptions
	keyWrite        = "sk_write"         // orgA/svcA1: write:subscriptions
	keyDelete       = "sk_delete"        // orgA/svcA1: delete:subscriptions
	keyOtherService = "sk_other_service" // orgA/svcA2: everything
	keyOtherOrg     = "sk_other_org"     // orgB/svcB1: everything
	keyUserKind     = "sk_user_kind"     // a principal that is not an API key
)

var allPerms = []string{
	"read:subscriptions", "write:subscriptions", "delete:subscriptions", "read:users", "write:users", "delete:users",
}

// identityUsers adapts the identity service to billing.ServiceUsers, as
// cmd/internal/app does.
type identityUsers struct{ id *identity.Service }

func (a identityUsers) RequireServiceUserTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID uuid.UUID) error {
	err := a.id.RequireServiceUserTx(ctx, tx, orgID, serviceID, userID)
	if errors.Is(err, identity.ErrUserNotFound) {
		return billing.ErrUserNotFound
	}
	return err
}

// dbPlans implements billing.Plans with SQL on the tenancy module's plans
// table (the tenancy module's OrgPlan and PlanNames are tested there).
type dbPlans struct{ pool *pgxpool.Pool }

func (d dbPlans) OrgPlan(ctx context.Context, orgID, planID uuid.UUID) (billing.PlanInfo, error) {
	var p billing.PlanInfo
	err := d.pool.QueryRow(ctx, `SELECT id, service_id, name FROM plans WHERE org_id = $1 AND id = $2`, orgID, planID).Scan(&p.ID, &p.ServiceID, &p.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, billing.ErrPlanNotFound
	}
	return p, err
}

func (d dbPlans) PlanNames(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, name FROM plans WHERE org_id = $1 AND id = ANY($2)`, orgID, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

// testBundle is one test's database with the billing module and, for the
// users of services and the unlink, the real identity module, both served
// by one production router behind a fake API-key authenticator.
type testBundle struct {
	pool    *pgxpool.Pool
	audit   *compliance.Module
	billing *billing.Module
	ident   *identity.Module
	handler http.Handler
	now     time.Time

	orgA, orgB                uuid.UUID
	svcA1, svcA2, svcB1       uuid.UUID
	freeA1, proA1, basicA2    uuid.UUID
	freeB1                    uuid.UUID
	keyIDs                    map[string]uuid.UUID
	ada, bob, carol, dave, po uuid.UUID // ada, bob: svcA1; carol: svcA2; dave: svcB1; po: platform user
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit, err := compliance.New(compliance.Deps{Pool: pool, Logger: logger, NowFunc: clock})
	require.NoError(t, err)
	ring, err := crypto.ParseKeyRing("k1", config.DevelopmentEncryptionKey, "")
	require.NoError(t, err)
	ident, err := identity.New(identity.Deps{
		Pool: pool, Redis: testenv.Redis(t), KeyRing: ring, Recorder: audit.Recorder(), Logger: logger, NowFunc: clock,
		Config: identity.Config{BaseURL: "http://auth.billing.test", RedisKeyPrefix: testenv.KeyPrefix(t)},
	})
	require.NoError(t, err)
	bill, err := billing.New(billing.Deps{
		Pool: pool, Logger: logger, Recorder: audit.Recorder(), Plans: dbPlans{pool: pool},
		Users: identityUsers{id: ident.Service()}, NowFunc: clock,
	})
	require.NoError(t, err)
	ident.SetServiceUnlinkHook(bill.Service())
	b := &testBundle{pool: pool, audit: audit, billing: bill, ident: ident, now: now, keyIDs: map[string]uuid.UUID{}}

	b.orgA, b.orgB = b.insertOrg(t), b.insertOrg(t)
	b.svcA1, b.svcA2, b.svcB1 = b.insertService(t, b.orgA), b.insertService(t, b.orgA), b.insertService(t, b.orgB)
	b.freeA1, b.proA1 = b.insertPlan(t, b.orgA, b.svcA1, "free"), b.insertPlan(t, b.orgA, b.svcA1, "pro")
	b.basicA2, b.freeB1 = b.insertPlan(t, b.orgA, b.svcA2, "basic"), b.insertPlan(t, b.orgB, b.svcB1, "free")

	keys := map[string]httpapi.Principal{
		keyAll:          b.keyPrincipal(keyAll, b.orgA, b.svcA1, allPerms...),
		keyRead:         b.keyPrincipal(keyRead, b.orgA, b.svcA1, "read:subscriptions"),
		keyWrite:        b.keyPrincipal(keyWrite, b.orgA, b.svcA1, "write:subscriptions"),
		keyDelete:       b.keyPrincipal(keyDelete, b.orgA, b.svcA1, "delete:subscriptions"),
		keyOtherService: b.keyPrincipal(keyOtherService, b.orgA, b.svcA2, allPerms...),
		keyOtherOrg:     b.keyPrincipal(keyOtherOrg, b.orgB, b.svcB1, allPerms...),
		keyUserKind:     {Kind: httpapi.PrincipalUser, UserID: uuid.New(), OrgID: &b.orgA, ServiceID: &b.svcA1, Permissions: allPerms},
	}
	authn := httpapi.AuthenticatorFunc(func(_ context.Context, cred string) (*httpapi.Principal, error) {
		p, ok := keys[cred]
		if !ok {
			return nil, errors.New("unknown api key")
		}
		return &p, nil
	})
	mux, api := httpapi.New(httpapi.Options{
		Logger: logger,
		Authenticators: map[string]httpapi.Authenticator{
			httpapi.SchemeAPIKey: authn,
			httpapi.SchemeBearer: httpapi.AuthenticatorFunc(func(context.Context, string) (*httpapi.Principal, error) {
				return nil, errors.New("no bearer tokens here")
			}),
		},
	})
	bill.RegisterRoutes(api)
	ident.RegisterRoutes(api)
	b.handler = mux

	b.ada = b.linkUser(t, keyAll, "ada@example.test")
	b.bob = b.linkUser(t, keyAll, "bob@example.test")
	b.carol = b.linkUser(t, keyOtherService, "carol@example.test")
	b.dave = b.linkUser(t, keyOtherOrg, "dave@example.test")
	b.po = uuid.Must(uuid.NewV7())
	_, err = pool.Exec(t.Context(), `INSERT INTO users (id, email) VALUES ($1, 'po@example.test')`, b.po)
	require.NoError(t, err)
	return b
}

func (b *testBundle) keyPrincipal(name string, org, svc uuid.UUID, perms ...string) httpapi.Principal {
	id := uuid.New()
	b.keyIDs[name] = id
	return httpapi.Principal{Kind: httpapi.PrincipalAPIKey, APIKeyID: id, OrgID: &org, ServiceID: &svc, Permissions: perms}
}

func (b *testBundle) insertOrg(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, 'Org', 'active')`, id, "org-"+id.String()[:8])
	require.NoError(t, err)
	return id
}

func (b *testBundle) insertService(t *testing.T, org uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO services (id, org_id, slug, name, service_type, client_id, client_secret_hash)
		VALUES ($1, $2, $3, 'Service', 'web', $4, $5)`, id, org, "svc-"+id.String()[:8], uuid.NewString(), strings.Repeat("ab", 32))
	require.NoError(t, err)
	return id
}

func (b *testBundle) insertPlan(t *testing.T, org, svc uuid.UUID, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO plans (id, org_id, service_id, name) VALUES ($1, $2, $3, $4)`, id, org, svc, name)
	require.NoError(t, err)
	return id
}

// linkUser makes email a user of the key's service through the identity
// module's Service API.
func (b *testBundle) linkUser(t *testing.T, key, email string) uuid.UUID {
	t.Helper()
	r := b.do(t, http.MethodPost, "/api/service/users", key, map[string]string{"email": email})
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.status, string(r.body))
	var u struct {
		ID uuid.UUID `json:"id"`
	}
	require.NoError(t, json.Unmarshal(r.body, &u))
	return u.ID
}

// ---- HTTP

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request through the router; key "" sends no X-Api-Key.
func (b *testBundle) do(t *testing.T, method, path, key string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "billing-test")
	if key != "" {
		req.Header.Set(httpapi.APIKeyHeader, key)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

type problem struct {
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Detail    string `json:"detail"`
	ErrorCode string `json:"error_code"`
	Errors    []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// requireProblem checks status, error_code and (unless empty) message.
func requireProblem(t *testing.T, r response, status int, code, msg string) problem {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, httpapi.ProblemContentType, r.header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, code, p.ErrorCode, string(r.body))
	require.Equal(t, p.Detail, p.Error)
	if msg != "" {
		require.Equal(t, msg, p.Error)
	}
	return p
}

// requireFieldError checks a 422 naming location, and its message unless empty.
func requireFieldError(t *testing.T, r response, location, msg string) {
	t.Helper()
	p := requireProblem(t, r, http.StatusUnprocessableEntity, httpapi.CodeValidationError, "")
	for _, e := range p.Errors {
		if e.Location == location {
			if msg != "" {
				require.Equal(t, msg, e.Message)
			}
			return
		}
	}
	require.Failf(t, "no error at "+location, "%s", r.body)
}

// subscription is a Service API subscription body.
type subscription struct {
	ID               uuid.UUID  `json:"id"`
	UserID           uuid.UUID  `json:"user_id"`
	PlanID           *uuid.UUID `json:"plan_id"`
	PlanName         *string    `json:"plan_name"`
	Status           string     `json:"status"`
	CurrentPeriodEnd *time.Time `json:"current_period_end"`
}

func decodeSubscription(t *testing.T, r response) subscription {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"id", "user_id", "plan_id", "plan_name", "status", "current_period_end"}, keys, string(r.body))
	var s subscription
	require.NoError(t, json.Unmarshal(r.body, &s))
	return s
}

// subscribe POSTs a subscription with keyAll and returns it.
func (b *testBundle) subscribe(t *testing.T, key string, body map[string]any) subscription {
	t.Helper()
	return decodeSubscription(t, b.do(t, http.MethodPost, "/api/service/subscriptions", key, body))
}

type subscriptionList struct {
	Subscriptions []subscription `json:"subscriptions"`
	Total         int            `json:"total"`
}

func (b *testBundle) list(t *testing.T, key, query string) subscriptionList {
	t.Helper()
	r := b.do(t, http.MethodGet, "/api/service/subscriptions"+query, key, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var l subscriptionList
	require.NoError(t, json.Unmarshal(r.body, &l))
	require.NotNil(t, l.Subscriptions, string(r.body))
	return l
}

// audit returns the organization's audit rows of one action, newest first.
func (b *testBundle) auditRows(t *testing.T, org uuid.UUID, action string) []compliance.AuditEntry {
	t.Helper()
	rows, err := b.audit.Store().ListOrganizationAudit(t.Context(), org, action, 100)
	require.NoError(t, err)
	return rows
}

// countSubscriptions counts the rows of a user.
func (b *testBundle) countSubscriptions(t *testing.T, user uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM subscriptions WHERE user_id = $1`, user).Scan(&n))
	return n
}
