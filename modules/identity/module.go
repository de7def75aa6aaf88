package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/redis"
)

// ScopeResolver resolves org_slug/service_slug of scoped logins and
// registrations. The tenancy module implements it; until it is wired, every
// scoped request answers 404.
type ScopeResolver interface {
	// ResolveScope returns ErrScopeNotFound for an unknown org or service.
	ResolveScope(ctx context.Context, orgSlug, serviceSlug string) (Scope, error)
	// MembershipRole reports a platform user's role in an organization.
	MembershipRole(ctx context.Context, orgID, userID uuid.UUID) (role string, member bool, err error)
}

// Config holds the identity settings, as values.
type Config struct {
	BaseURL          string // JWT iss, links to hosted pages
	DashboardBaseURL string
	AccessLifetime   time.Duration
	RefreshLifetime  time.Duration
	Keys             KeyConfig
	// Argon2id parameters; zero values mean the OWASP defaults.
	Argon2MemoryKiB   uint32
	Argon2Iterations  uint32
	Argon2Parallelism uint8
	HashConcurrency   int
	OwnerEmail        string
	OwnerPassword     string
	EmailEnabled      bool // platform SMTP configured
	LockoutAttempts   int
	LockoutDuration   time.Duration
	RateLimits        bool // false disables the Redis rate limits (load tests)
	RedisKeyPrefix    string
	// Providers are the platform's social-login apps by provider name
	// (github, google, microsoft); a provider without a client id has no
	// platform app.
	Providers map[string]ProviderConfig
	// PageKey keys the hosted pages' CSRF tokens; the same on every
	// replica (derived from the encryption key by the composition root).
	PageKey []byte
}

// ProviderConfig is a platform OAuth app (PLATFORM_<PROVIDER>_*). The URL
// overrides replace the provider's endpoints (tests, proxies); they apply
// to organizations' own apps too.
type ProviderConfig struct {
	ClientID, ClientSecret, RedirectURI string
	AuthURL, TokenURL, UserAPIURL       string
}

// OAuthApps resolves organizations' own OAuth apps (spec §4.3); the tenancy
// module implements it.
type OAuthApps interface {
	// OrgOAuthCredentials returns found=false when the organization has no
	// app for the provider.
	OrgOAuthCredentials(ctx context.Context, orgID uuid.UUID, provider string) (clientID, secret string, found bool, err error)
}

// Deps are the identity module's dependencies.
type Deps struct {
	Pool     *pgxpool.Pool
	Redis    goredis.UniversalClient
	Queue    *jobs.Client // insert-only River client (InsertTx)
	KeyRing  *crypto.KeyRing
	Recorder events.Recorder
	Scopes   ScopeResolver
	Logger   *slog.Logger
	NowFunc  func() time.Time
	Config   Config
	// HTTPClient talks to the OAuth providers; it must be SSRF-safe
	// (platform/outbound). Nil: a default outbound client.
	HTTPClient *http.Client
}

// Module is the identity module.
type Module struct {
	pages   *pages
	svc     *Service
	limiter *redis.Limiter
	logger  *slog.Logger
}

// New builds the module. It touches no database: Start loads the signing
// keys and bootstraps the platform owner.
func New(d Deps) (*Module, error) {
	switch {
	case d.Pool == nil:
		return nil, errors.New("identity: pool is required")
	case d.Redis == nil:
		return nil, errors.New("identity: redis is required")
	case d.KeyRing == nil:
		return nil, errors.New("identity: key ring is required")
	case d.Recorder == nil:
		return nil, errors.New("identity: recorder is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.NowFunc == nil {
		d.NowFunc = time.Now
	}
	c := d.Config
	if c.AccessLifetime <= 0 {
		c.AccessLifetime = 24 * time.Hour
	}
	if c.RefreshLifetime <= 0 {
		c.RefreshLifetime = 30 * 24 * time.Hour
	}
	if c.LockoutAttempts <= 0 {
		c.LockoutAttempts = 10
	}
	if c.LockoutDuration <= 0 {
		c.LockoutDuration = 15 * time.Minute
	}
	params := password.DefaultParams()
	if c.Argon2MemoryKiB > 0 {
		params.MemoryKiB = c.Argon2MemoryKiB
	}
	if c.Argon2Iterations > 0 {
		params.Iterations = c.Argon2Iterations
	}
	if c.Argon2Parallelism > 0 {
		params.Parallelism = c.Argon2Parallelism
	}
	if c.Keys.Algorithm == "" {
		c.Keys.Algorithm = string(token.ES256)
	}
	c.Keys.TokenLifetime = c.AccessLifetime
	hasher, err := password.NewHasher(params, c.HashConcurrency)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	limiter := redis.NewLimiter(d.Redis, c.RedisKeyPrefix+"rl")
	limiter.Disabled = !c.RateLimits
	limiter.Logger = d.Logger
	svc := &Service{
		pool: d.Pool, rdb: d.Redis, queue: d.Queue, ring: d.KeyRing, recorder: d.Recorder, scopes: d.Scopes,
		hasher: hasher, limiter: limiter, logger: d.Logger, nowFunc: d.NowFunc, cfg: c, httpClient: d.HTTPClient,
	}
	if svc.httpClient == nil {
		svc.httpClient = outbound.NewHTTPClient(outbound.Policy{}, 10*time.Second)
	}
	pg, err := newPages(svc)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return &Module{svc: svc, pages: pg, limiter: limiter, logger: d.Logger}, nil
}

// VerificationHook runs inside the transaction that verifies a platform
// user's email address: the tenancy module accepts the pending invitations
// of that (now proven) address there.
type VerificationHook interface {
	EmailVerifiedTx(ctx context.Context, tx pgx.Tx, userID uuid.UUID, email string) error
}

// SetVerificationHook wires the hook (composition root, before serving).
func (m *Module) SetVerificationHook(h VerificationHook) { m.svc.verified = h }

// ServiceUnlinkHook runs inside the transaction that unlinks a user from a
// service (Service API DELETE /api/service/users/{user-id}, spec §9.2): the
// billing module deletes the user's subscription to the service there, so
// the unlink and the deletion commit or fail together. apiKeyID is the key
// that asked.
type ServiceUnlinkHook interface {
	ServiceUserUnlinkedTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID, apiKeyID uuid.UUID) error
}

// SetServiceUnlinkHook wires the hook (composition root, before serving).
func (m *Module) SetServiceUnlinkHook(h ServiceUnlinkHook) { m.svc.unlinked = h }

// SetOAuthApps wires the resolver of organizations' own OAuth apps
// (composition root, before serving).
func (m *Module) SetOAuthApps(a OAuthApps) { m.svc.oauthApps = a }

// SetScopes wires the resolver of org- and service-scoped requests. The
// tenancy module implements it but is built after identity (it needs
// identity's sessions), so the composition root sets it once both exist,
// before serving.
func (m *Module) SetScopes(r ScopeResolver) { m.svc.scopes = r }

// Service exposes the module's service (composition root, tests).
func (m *Module) Service() *Service { return m.svc }

// Start loads (or creates) the signing keys, bootstraps the platform owner
// and keeps the key set fresh until ctx ends. The API process calls it
// before serving.
func (m *Module) Start(ctx context.Context) error {
	if err := m.svc.start(ctx); err != nil {
		return err
	}
	go m.svc.keys.RunReloader(ctx, time.Minute)
	return nil
}

// Authenticator verifies bearer access tokens for the platform's auth middleware.
func (m *Module) Authenticator() httpapi.Authenticator { return bearerAuthenticator{svc: m.svc} }

// RotateKeys makes a new active signing key (`authos keys rotate`).
func (m *Module) RotateKeys(ctx context.Context) (string, error) {
	if err := m.svc.loadKeys(ctx); err != nil {
		return "", err
	}
	return m.svc.keys.Rotate(ctx)
}

// RegisterRoutes registers the identity operations.
func (m *Module) RegisterRoutes(api huma.API) {
	registerAuthRoutes(api, m.svc, m.limiter)
	registerUserRoutes(api, m.svc)
	registerMFARoutes(api, m.svc, m.limiter)
	registerServiceAPIRoutes(api, m.svc)
	write := func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
		httpapi.WriteProblem(w, r, status, code, msg)
	}
	registerOAuthRoutes(api, m.svc, m.limiter.HumaMiddleware(api, redis.Rule{Name: redis.RuleAuth, Rate: redis.AuthRate()}, write))
	registerDeviceRoutes(api, m.svc, m.limiter)
	registerProviderTokenRoutes(api, m.svc)
}

// RegisterPages mounts the server-rendered pages on the router: email
// verification, provider callbacks and the hosted login, MFA, device
// activation and password reset pages.
func (m *Module) RegisterPages(r PageRouter) {
	m.pages.register(r)
}

// RegisterWorkers adds the identity jobs.
func (m *Module) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &sendResetWorker{svc: m.svc})
	river.AddWorker(w, &resendVerificationWorker{svc: m.svc})
	river.AddWorker(w, NewRefreshProviderTokensWorker(m.svc))
	river.AddWorker(w, NewPurgeExpiredFlowsWorker(m.svc))
}

// PeriodicJobs returns the module's rows of the periodic-job table: the
// provider token refresh every hour and the purge of expired OAuth states
// and device codes every ten minutes (both also once at start).
func (m *Module) PeriodicJobs() []jobs.PeriodicJob { return oauthPeriodicJobs() }
