package tenancy

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/events"
)

// DefaultMaxOrgsPerUser is MAX_ORGS_PER_USER's default (spec §1.1).
const DefaultMaxOrgsPerUser = 5

// Config holds the tenancy settings, as values.
type Config struct {
	// MaxOrgsPerUser caps how many organizations one user may own
	// (MAX_ORGS_PER_USER); <= 0 means DefaultMaxOrgsPerUser.
	MaxOrgsPerUser int
	// DashboardBaseURL is the dashboard origin (PLATFORM_DASHBOARD_BASE_URL)
	// that emailed invitation links and the legacy accept redirect point to.
	DashboardBaseURL string
}

// Deps are the module's dependencies, passed in by cmd/*.
type Deps struct {
	Pool     *pgxpool.Pool
	Logger   *slog.Logger
	Recorder events.Recorder
	// Users and Sessions are adapters over the identity module.
	Users    Users
	Sessions Sessions
	NowFunc  func() time.Time
	// Queue is the insert-only River client the invitation email is
	// enqueued with, in the transaction that creates the invitation. It may
	// be nil in a process that never creates invitations (the worker): the
	// create operation then fails.
	Queue *jobs.Client
	// KeyRing seals the invitation email's data (it carries the token).
	// Required along with Queue to create invitations.
	KeyRing *crypto.KeyRing
	// Redis carries the X-Api-Key cache invalidations between replicas
	// (see APIKeyAuthenticator). Optional: nil disables the cache, and
	// every key verification queries PostgreSQL.
	Redis  goredis.UniversalClient
	Config Config
}

// Module is the tenancy module.
type Module struct {
	svc    *Service
	apiKey *APIKeyAuthenticator
}

// New builds the module, refusing missing dependencies. It touches no
// database.
func New(d Deps) (*Module, error) {
	switch {
	case d.Pool == nil:
		return nil, errors.New("tenancy: pool is required")
	case d.Recorder == nil:
		return nil, errors.New("tenancy: recorder is required")
	case d.Users == nil:
		return nil, errors.New("tenancy: users are required")
	case d.Sessions == nil:
		return nil, errors.New("tenancy: sessions are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.NowFunc == nil {
		d.NowFunc = time.Now
	}
	if d.Config.MaxOrgsPerUser <= 0 {
		d.Config.MaxOrgsPerUser = DefaultMaxOrgsPerUser
	}
	d.Config.DashboardBaseURL = strings.TrimRight(d.Config.DashboardBaseURL, "/")
	svc := &Service{
		pool: d.Pool, store: NewStore(d.Pool), recorder: d.Recorder, users: d.Users, sessions: d.Sessions,
		logger: d.Logger, nowFunc: d.NowFunc, cfg: d.Config, queue: d.Queue, ring: d.KeyRing,
	}
	svc.apiKeys = newAPIKeyCache(svc, d.Redis)
	return &Module{svc: svc, apiKey: &APIKeyAuthenticator{cache: svc.apiKeys}}, nil
}

// APIKeyAuthenticator returns the X-Api-Key authenticator, for
// httpapi.SchemeAPIKey. It caches verified keys only while Run is running
// with Redis (see APIKeyAuthenticator.CacheActive).
func (m *Module) APIKeyAuthenticator() *APIKeyAuthenticator { return m.apiKey }

// Run runs the module's background work in an API process until ctx ends:
// the API key cache's invalidation subscriber (with Redis) and the
// last_used_at flusher, which flushes once more on the way out. It returns
// when that is done.
func (m *Module) Run(ctx context.Context) { m.svc.apiKeys.run(ctx) }

// Service exposes the module's service (composition root, tests).
func (m *Module) Service() *Service { return m.svc }

// RegisterRoutes registers the module's HTTP operations: the organization
// core, members and ownership, branding, services, plans, API keys and invitations
// under /api/organizations (branding also publicly, for login pages), the invitee's side under /api/invitations (plus the
// emailed /invitations/accept/{token} redirect) and the platform owner's
// API under /api/platform.
func (m *Module) RegisterRoutes(api huma.API) {
	registerOrgRoutes(api, m.svc)
	registerMemberRoutes(api, m.svc)
	registerServiceRoutes(api, m.svc)
	registerPlanRoutes(api, m.svc)
	registerAPIKeyRoutes(api, m.svc)
	registerPlatformRoutes(api, m.svc)
	registerInvitationRoutes(api, m.svc)
	registerBrandingRoutes(api, m.svc)
	registerServiceInfoRoutes(api, m.svc)
}

// RegisterWorkers adds the module's River workers: the invitation expiry
// sweep.
func (m *Module) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, NewExpireInvitationsWorker(m.svc))
}

// PeriodicJobs returns the module's rows of the periodic-job table: the
// invitation expiry sweep every ten minutes (and once at start).
func (m *Module) PeriodicJobs() []jobs.PeriodicJob {
	return []jobs.PeriodicJob{{
		ID:         ExpireInvitationsArgs{}.Kind(),
		Schedule:   river.PeriodicInterval(expireInvitationsInterval),
		Construct:  func() (river.JobArgs, *river.InsertOpts) { return ExpireInvitationsArgs{}, nil },
		RunOnStart: true,
	}}
}
