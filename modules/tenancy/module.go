package tenancy

import (
	"errors"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/events"
)

// DefaultMaxOrgsPerUser is MAX_ORGS_PER_USER's default (spec §1.1).
const DefaultMaxOrgsPerUser = 5

// Config holds the tenancy settings, as values.
type Config struct {
	// MaxOrgsPerUser caps how many organizations one user may own
	// (MAX_ORGS_PER_USER); <= 0 means DefaultMaxOrgsPerUser.
	MaxOrgsPerUser int
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
	Config   Config
}

// Module is the tenancy module.
type Module struct {
	svc *Service
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
	svc := &Service{
		pool: d.Pool, store: NewStore(d.Pool), recorder: d.Recorder, users: d.Users, sessions: d.Sessions,
		logger: d.Logger, nowFunc: d.NowFunc, cfg: d.Config,
	}
	return &Module{svc: svc}, nil
}

// Service exposes the module's service (composition root, tests).
func (m *Module) Service() *Service { return m.svc }

// RegisterRoutes registers the module's HTTP operations: the organization
// core, members and ownership, services and plans under /api/organizations
// and the platform owner's API under /api/platform.
func (m *Module) RegisterRoutes(api huma.API) {
	registerOrgRoutes(api, m.svc)
	registerMemberRoutes(api, m.svc)
	registerServiceRoutes(api, m.svc)
	registerPlanRoutes(api, m.svc)
	registerPlatformRoutes(api, m.svc)
}

// RegisterWorkers adds the module's River workers (none yet).
func (m *Module) RegisterWorkers(_ *river.Workers) {}

// PeriodicJobs returns the module's rows of the periodic-job table (none yet).
func (m *Module) PeriodicJobs() []jobs.PeriodicJob { return nil }
