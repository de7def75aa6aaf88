package tenancy

import (
	"context"
	"crypto/x509"
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
	"github.com/authos/authos/platform/outbound"
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
	// PageKey keys the hosted pages' CSRF tokens (the same key as the
	// identity module's pages, so one CSRF cookie serves both); Secure
	// selects the Secure (__Host-) cookie for https deployments.
	PageKey       []byte
	SecureCookies bool
	// Outbound is the SSRF policy of the connections to hosts that
	// organizations name: their SMTP servers and the custom-domain HTTP
	// check. Its AllowPrivate is OUTBOUND_ALLOW_PRIVATE (development and
	// tests only).
	Outbound outbound.Policy
	// DNSServer ("host:port") answers the custom-domain TXT lookups and
	// resolves those hosts; "" uses the system resolver.
	DNSServer string
	// DomainHTTPPort is the port of the custom-domain HTTP file check; 0
	// means 80. Only tests change it.
	DomainHTTPPort int
	// SMTPRootCAs verifies the certificates of organizations' SMTP servers;
	// nil means the system roots.
	SMTPRootCAs *x509.CertPool
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
	// EndUsers is an adapter over the identity module's end-user directory
	// (spec §4.5). Optional: without it the end-user endpoints answer an
	// internal error. Their subscriptions are wired with
	// Module.SetEndUserSubscriptions once the billing module exists.
	EndUsers EndUserDirectory
}

// Module is the tenancy module.
type Module struct {
	svc      *Service
	apiKey   *APIKeyAuthenticator
	endUsers *EndUserService
	settings *Settings // SMTP and custom domain
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
	settings, err := newSettings(svc, d.Config)
	if err != nil {
		return nil, err
	}
	return &Module{svc: svc, apiKey: &APIKeyAuthenticator{cache: svc.apiKeys}, endUsers: &EndUserService{svc: svc, dir: d.EndUsers},
		settings: settings}, nil
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

// EndUsers exposes the end-user service (composition root, tests).
func (m *Module) EndUsers() *EndUserService { return m.endUsers }

// SetEndUserSubscriptions wires the billing side of the end-user views
// (composition root, before serving): billing is built after this module,
// since it needs this module's plans.
func (m *Module) SetEndUserSubscriptions(s EndUserSubscriptions) { m.endUsers.subs = s }

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
	registerOAuthCredentialRoutes(api, m.svc)
	registerEndUserRoutes(api, m.endUsers)
	registerSMTPRoutes(api, m.settings)
	registerDomainRoutes(api, m.settings)
}

// RegisterWorkers adds the module's River workers: the invitation expiry
// sweep and the custom domain re-check.
func (m *Module) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, NewExpireInvitationsWorker(m.svc))
	river.AddWorker(w, NewRecheckDomainsWorker(m.settings))
}

// PeriodicJobs returns the module's rows of the periodic-job table: the
// invitation expiry sweep every ten minutes and the custom domain re-check
// every hour (both also once at start).
func (m *Module) PeriodicJobs() []jobs.PeriodicJob {
	return []jobs.PeriodicJob{{
		ID:         ExpireInvitationsArgs{}.Kind(),
		Schedule:   river.PeriodicInterval(expireInvitationsInterval),
		Construct:  func() (river.JobArgs, *river.InsertOpts) { return ExpireInvitationsArgs{}, nil },
		RunOnStart: true,
	}, {
		ID:         RecheckDomainsArgs{}.Kind(),
		Schedule:   river.PeriodicInterval(recheckDomainsInterval),
		Construct:  func() (river.JobArgs, *river.InsertOpts) { return RecheckDomainsArgs{}, nil },
		RunOnStart: true,
	}}
}

// RegisterPages mounts the server-rendered invitation acceptance page
// (/invitations/accept?token=..., the invitation email's link). browser
// resolves the signed-in platform user of the hosted login.
func (m *Module) RegisterPages(r PageRouter, browser BrowserSessions) error {
	p, err := newInvitationPages(m.svc, browser, m.svc.cfg.PageKey, m.svc.cfg.SecureCookies)
	if err != nil {
		return err
	}
	p.register(r)
	return nil
}
