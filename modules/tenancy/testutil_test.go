package tenancy_test

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv"
)

// testBundle is one test's real database, compliance recorder and tenancy
// module, served by the production router. Only authentication is a test
// double: tokens map to user ids, and the principal is read from the users
// table on every request (so a demotion applies on the next request).
type testBundle struct {
	pool     *pgxpool.Pool
	audit    *compliance.Module
	mod      *tenancy.Module
	sessions *dbSessions
	handler  http.Handler
	tokens   sync.Map // token -> uuid.UUID
	now      time.Time
	// elapsed is how far the module's clock has moved past now (advance).
	elapsed atomic.Int64
	// ring seals email data; queue is the insert-only River client the
	// module enqueues emails with.
	ring  *crypto.KeyRing
	queue *jobs.Client
}

// testDashboardURL is the dashboard origin of the test module.
const testDashboardURL = "https://dashboard.example.test"

// clock is the module's clock: now plus whatever advance added.
func (b *testBundle) clock() time.Time { return b.now.Add(time.Duration(b.elapsed.Load())) }

// advance moves the module's clock forward. Tests that use it own their
// bundle: every test sharing it would see the jump.
func (b *testBundle) advance(d time.Duration) { b.elapsed.Add(int64(d)) }

func setup(t *testing.T, configure ...func(*tenancy.Config)) *testBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	audit, err := compliance.New(compliance.Deps{Pool: pool, NowFunc: func() time.Time { return now }})
	require.NoError(t, err)
	b := &testBundle{pool: pool, audit: audit, sessions: &dbSessions{pool: pool}, now: now}
	cfg := tenancy.Config{DashboardBaseURL: testDashboardURL + "/"}
	for _, f := range configure {
		f(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ring, err = crypto.ParseKeyRing("k1", config.DevelopmentEncryptionKey, "")
	require.NoError(t, err)
	b.queue, err = jobs.NewInsertOnlyClient(pool, logger)
	require.NoError(t, err)
	b.mod, err = tenancy.New(tenancy.Deps{
		Pool: pool, Logger: logger, Recorder: audit.Recorder(), Users: dbUsers{pool: pool}, Sessions: b.sessions,
		NowFunc: b.clock, Queue: b.queue, KeyRing: b.ring, Config: cfg,
	})
	require.NoError(t, err)
	mux, api := httpapi.New(httpapi.Options{
		Logger:         logger,
		Authenticators: map[string]httpapi.Authenticator{httpapi.SchemeBearer: httpapi.AuthenticatorFunc(b.authenticate)},
	})
	b.mod.RegisterRoutes(api)
	b.handler = mux
	return b
}

// authenticate is the test double of the bearer authenticator.
func (b *testBundle) authenticate(ctx context.Context, token string) (*httpapi.Principal, error) {
	v, ok := b.tokens.Load(token)
	if !ok {
		return nil, errors.New("unknown test token")
	}
	p := &httpapi.Principal{Kind: httpapi.PrincipalUser, UserID: v.(uuid.UUID), SessionID: uuid.New()}
	err := b.pool.QueryRow(ctx, `SELECT email, is_platform_owner FROM users WHERE id = $1 AND deleted_at IS NULL`, p.UserID).
		Scan(&p.Email, &p.IsPlatformOwner)
	return p, err
}

// ---- factories

// account is a platform user with a bearer token.
type account struct {
	ID    uuid.UUID
	Email string
	Token string
}

// user creates a platform-level user and a token for it.
func (b *testBundle) user(t *testing.T, label string) account {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	email := label + "-" + id.String()[24:] + "@example.test"
	_, err := b.pool.Exec(t.Context(), `INSERT INTO users (id, email, email_verified_at) VALUES ($1, $2, now())`, id, email)
	require.NoError(t, err)
	tok := "tok-" + id.String()
	b.tokens.Store(tok, id)
	return account{ID: id, Email: email, Token: tok}
}

// platformOwner creates a platform owner.
func (b *testBundle) platformOwner(t *testing.T) account {
	t.Helper()
	a := b.user(t, "po")
	_, err := b.pool.Exec(t.Context(), `UPDATE users SET is_platform_owner = true WHERE id = $1`, a.ID)
	require.NoError(t, err)
	return a
}

// org is an organization made through the service.
type org struct {
	ID    uuid.UUID
	Slug  string
	Owner account
}

// newSlug returns a unique valid slug.
func newSlug(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
}

// createOrg creates a pending organization owned by owner.
func (b *testBundle) createOrg(t *testing.T, owner account) org {
	t.Helper()
	slug := newSlug("org")
	res, err := b.mod.Service().CreateOrganization(t.Context(), tenancy.Actor{UserID: owner.ID, Email: owner.Email}, slug, "Org "+slug)
	require.NoError(t, err)
	return org{ID: res.Org.ID, Slug: slug, Owner: owner}
}

// activeOrg creates an organization and activates it directly.
func (b *testBundle) activeOrg(t *testing.T, owner account) org {
	t.Helper()
	o := b.createOrg(t, owner)
	b.setStatus(t, o, tenancy.StatusActive)
	return o
}

func (b *testBundle) setStatus(t *testing.T, o org, status tenancy.OrgStatus) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET status = $2 WHERE id = $1`, o.ID, string(status))
	require.NoError(t, err)
}

// addMember adds an existing user to an organization with role, inserting
// the membership directly (invitations_test.go covers joining by
// invitation). Members join a
// minute after the organization was created; ties order by the v7 id, that
// is in the order of the calls.
func (b *testBundle) addMember(t *testing.T, o org, a account, role tenancy.Role) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO memberships (id, org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)`,
		uuid.Must(uuid.NewV7()), o.ID, a.ID, string(role), b.now.Add(time.Minute))
	require.NoError(t, err)
}

// world is the standard cast of the authorization matrix: org A (active)
// with an owner, an admin and a member; org B with an owner and an admin;
// a platform owner who belongs to neither; and a user with no org.
type world struct {
	A, B                    org
	OwnerA, AdminA, MemberA account
	OwnerB, AdminB          account
	PO, Stranger            account
}

func (b *testBundle) world(t *testing.T) world {
	t.Helper()
	w := world{OwnerA: b.user(t, "owner-a"), AdminA: b.user(t, "admin-a"), MemberA: b.user(t, "member-a"),
		OwnerB: b.user(t, "owner-b"), AdminB: b.user(t, "admin-b"), PO: b.platformOwner(t), Stranger: b.user(t, "stranger")}
	w.A = b.activeOrg(t, w.OwnerA)
	b.addMember(t, w.A, w.AdminA, tenancy.RoleAdmin)
	b.addMember(t, w.A, w.MemberA, tenancy.RoleMember)
	w.B = b.activeOrg(t, w.OwnerB)
	b.addMember(t, w.B, w.AdminB, tenancy.RoleAdmin)
	return w
}

// role returns a's role in o, or "" when not a member.
func (b *testBundle) role(t *testing.T, o org, a account) string {
	t.Helper()
	var role string
	err := b.pool.QueryRow(t.Context(), `SELECT coalesce((SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2), '')`, o.ID, a.ID).Scan(&role)
	require.NoError(t, err)
	return role
}

// ---- HTTP

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request through the router; token "" sends no Authorization.
func (b *testBundle) do(t *testing.T, method, path, token string, body any) response {
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
	req.Header.Set("User-Agent", "tenancy-test")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func decode[T any](t *testing.T, r response, status int) T {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// problem is an AuthOS problem+json body.
type problem struct {
	Status    int    `json:"status"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
	Error     string `json:"error"`
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
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.ErrorCode)
	require.Equal(t, p.Detail, p.Error)
	if msg != "" {
		require.Equal(t, msg, p.Error)
	}
	return p
}

// requireFieldError checks a 422 naming location.
func requireFieldError(t *testing.T, r response, location string) {
	t.Helper()
	p := requireProblem(t, r, http.StatusUnprocessableEntity, httpapi.CodeValidationError, "")
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	require.Contains(t, locs, location, string(r.body))
}

// ---- bodies

type orgBody struct {
	ID               string     `json:"id"`
	Slug             string     `json:"slug"`
	Name             string     `json:"name"`
	OwnerUserID      *string    `json:"owner_user_id"`
	Status           string     `json:"status"`
	TierID           string     `json:"tier_id"`
	MaxServices      *int       `json:"max_services"`
	MaxUsers         *int       `json:"max_users"`
	ApprovedBy       *string    `json:"approved_by"`
	ApprovedAt       *time.Time `json:"approved_at"`
	RejectedBy       *string    `json:"rejected_by"`
	RejectionReason  *string    `json:"rejection_reason"`
	FeatureOverrides *string    `json:"feature_overrides"`
	DomainVerified   bool       `json:"domain_verified"`
	CreatedAt        time.Time  `json:"created_at"`
}

type tierBody struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	DisplayName        string `json:"display_name"`
	DefaultMaxServices int    `json:"default_max_services"`
	DefaultMaxUsers    int    `json:"default_max_users"`
	PriceCents         int    `json:"price_cents"`
	Currency           string `json:"currency"`
	Features           struct {
		AllowCustomDomain      bool     `json:"allow_custom_domain"`
		AllowSAMLIdP           bool     `json:"allow_saml_idp"`
		AllowSCIM              bool     `json:"allow_scim"`
		AllowSIEM              bool     `json:"allow_siem"`
		AllowBranding          bool     `json:"allow_branding"`
		AllowPasskeys          bool     `json:"allow_passkeys"`
		AllowedSocialProviders []string `json:"allowed_social_providers"`
		MaxMAU                 int      `json:"max_mau"`
		AllowOverage           bool     `json:"allow_overage"`
	} `json:"features"`
}

type summaryBody struct {
	Organization    orgBody   `json:"organization"`
	MembershipCount int       `json:"membership_count"`
	ServiceCount    int       `json:"service_count"`
	Tier            *tierBody `json:"tier"`
}

type userBody struct {
	ID              string    `json:"id"`
	Email           string    `json:"email"`
	IsPlatformOwner bool      `json:"is_platform_owner"`
	CreatedAt       time.Time `json:"created_at"`
}

type membershipBody struct {
	ID     string `json:"id"`
	OrgID  string `json:"org_id"`
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

type memberBody struct {
	User       userBody       `json:"user"`
	Membership membershipBody `json:"membership"`
}

type sessionBody struct {
	Organization orgBody        `json:"organization"`
	Owner        *userBody      `json:"owner"`
	Membership   membershipBody `json:"membership"`
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	ExpiresIn    int            `json:"expires_in"`
}

// ---- audit

// orgAudit returns an organization's audit rows of one action, newest first.
func (b *testBundle) orgAudit(t *testing.T, orgID uuid.UUID, action string) []compliance.AuditEntry {
	t.Helper()
	rows, err := b.audit.Store().ListOrganizationAudit(t.Context(), orgID, action, 100)
	require.NoError(t, err)
	return rows
}

// platformAudit returns the platform audit rows of one action targeting
// targetID, newest first.
func (b *testBundle) platformAudit(t *testing.T, action, targetID string) []compliance.AuditEntry {
	t.Helper()
	rows, err := b.audit.Store().ListPlatformAudit(t.Context(), action, 1000)
	require.NoError(t, err)
	var out []compliance.AuditEntry
	for _, r := range rows {
		if r.TargetID == targetID {
			out = append(out, r)
		}
	}
	return out
}

// ---- services and plans

// svc is a service made through the service API, with the secret shown at
// its creation.
type svc struct {
	ID            uuid.UUID
	Slug          string
	ClientID      string
	Secret        string
	DefaultPlanID uuid.UUID
	Org           org
}

// servicesPath is /api/organizations/{slug}/services, plus rest.
func servicesPath(o org, rest ...string) string {
	p := "/api/organizations/" + o.Slug + "/services"
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// createService registers a web service in o as its owner.
func (b *testBundle) createService(t *testing.T, o org, redirectURIs ...string) svc {
	t.Helper()
	if len(redirectURIs) == 0 {
		redirectURIs = []string{"https://app.example.com/callback"}
	}
	slug := newSlug("svc")
	res, err := b.mod.Service().CreateService(t.Context(), tenancy.Actor{UserID: o.Owner.ID, Email: o.Owner.Email}, o.Slug,
		tenancy.NewApplication{Slug: slug, Name: "Service " + slug, Type: "web", RedirectURIs: redirectURIs})
	require.NoError(t, err)
	return svc{ID: res.App.ID, Slug: slug, ClientID: res.App.ClientID, Secret: res.ClientSecret, DefaultPlanID: res.DefaultPlan.ID, Org: o}
}

// createPlan adds a plan to s as its organization's owner.
func (b *testBundle) createPlan(t *testing.T, s svc, name string, priceCents int64) uuid.UUID {
	t.Helper()
	p, err := b.mod.Service().CreatePlan(t.Context(), tenancy.Actor{UserID: s.Org.Owner.ID, Email: s.Org.Owner.Email}, s.Org.Slug, s.Slug,
		tenancy.NewPlan{Name: name, PriceCents: priceCents, Currency: "usd"})
	require.NoError(t, err)
	return p.Plan.ID
}

// subscribe inserts a subscription of a new end user of s's organization
// to planID (billing writes these rows in production) and returns its id.
func (b *testBundle) subscribe(t *testing.T, s svc, planID uuid.UUID, status string) uuid.UUID {
	t.Helper()
	userID, subID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := b.pool.Exec(t.Context(), `INSERT INTO users (id, org_id, email) VALUES ($1, $2, $3)`,
		userID, s.Org.ID, "end-user-"+userID.String()[24:]+"@example.test")
	require.NoError(t, err)
	_, err = b.pool.Exec(t.Context(), `INSERT INTO subscriptions (id, org_id, user_id, service_id, plan_id, status, current_period_end)
		VALUES ($1, $2, $3, $4, $5, $6, now() + interval '30 days')`, subID, s.Org.ID, userID, s.ID, planID, status)
	require.NoError(t, err)
	return subID
}

type serviceJSON struct {
	ID                  string    `json:"id"`
	OrgID               string    `json:"org_id"`
	Slug                string    `json:"slug"`
	Name                string    `json:"name"`
	ServiceType         string    `json:"service_type"`
	ClientID            string    `json:"client_id"`
	ClientSecret        *string   `json:"client_secret"`
	GithubScopes        []string  `json:"github_scopes"`
	GoogleScopes        []string  `json:"google_scopes"`
	MicrosoftScopes     []string  `json:"microsoft_scopes"`
	RedirectURIs        []string  `json:"redirect_uris"`
	DeviceActivationURI *string   `json:"device_activation_uri"`
	ResourceURIs        []string  `json:"resource_uris"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	PlanCount           *int      `json:"plan_count"`
	SubscriptionCount   *int      `json:"subscription_count"`
}

type usageJSON struct {
	CurrentServices int    `json:"current_services"`
	MaxServices     int    `json:"max_services"`
	Tier            string `json:"tier"`
}

type planJSON struct {
	ID            string    `json:"id"`
	ServiceID     string    `json:"service_id"`
	Name          string    `json:"name"`
	Description   *string   `json:"description"`
	PriceCents    int64     `json:"price_cents"`
	Currency      string    `json:"currency"`
	Features      []string  `json:"features"`
	StripePriceID *string   `json:"stripe_price_id"`
	IsDefault     bool      `json:"is_default"`
	CreatedAt     time.Time `json:"created_at"`
}

type planWithCountJSON struct {
	Plan              planJSON `json:"plan"`
	SubscriptionCount int      `json:"subscription_count"`
}

type createdServiceJSON struct {
	Service     serviceJSON `json:"service"`
	DefaultPlan planJSON    `json:"default_plan"`
	Usage       usageJSON   `json:"usage"`
}

type serviceListJSON struct {
	Services []serviceJSON `json:"services"`
	Total    int           `json:"total"`
	Usage    usageJSON     `json:"usage"`
}
