package billing

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

// Deps are the module's dependencies, passed in by cmd/*.
type Deps struct {
	Pool     *pgxpool.Pool
	Logger   *slog.Logger
	Recorder events.Recorder
	// Plans and Users are adapters over the tenancy and identity modules.
	// They are optional so that a process without the Service API can
	// build the module; the subscription writes answer an internal error
	// (ErrNotConfigured) until they are set.
	Plans   Plans
	Users   ServiceUsers
	NowFunc func() time.Time
}

// Module is the billing module.
type Module struct {
	svc *Service
}

// New builds the module, refusing missing dependencies. It touches no
// database.
func New(d Deps) (*Module, error) {
	if d.Pool == nil {
		return nil, errors.New("billing: pool is required")
	}
	if d.Recorder == nil {
		return nil, errors.New("billing: recorder is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.NowFunc == nil {
		d.NowFunc = time.Now
	}
	svc := &Service{
		pool: d.Pool, store: NewStore(d.Pool), recorder: d.Recorder, plans: d.Plans, users: d.Users,
		logger: d.Logger, nowFunc: d.NowFunc,
	}
	return &Module{svc: svc}, nil
}

// Service exposes the module's service (composition root, tests).
func (m *Module) Service() *Service { return m.svc }

// RegisterRoutes registers the module's HTTP operations: the Service API's
// subscription endpoints.
func (m *Module) RegisterRoutes(api huma.API) {
	registerServiceAPIRoutes(api, m.svc)
}

// RegisterWorkers adds the module's River workers.
func (m *Module) RegisterWorkers(_ *river.Workers) {}

// PeriodicJobs returns the module's rows of the periodic-job table.
func (m *Module) PeriodicJobs() []jobs.PeriodicJob { return nil }
