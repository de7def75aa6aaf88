package compliance

import (
	"errors"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
)

// Deps are the compliance module's dependencies.
type Deps struct {
	Pool    *pgxpool.Pool
	Logger  *slog.Logger
	NowFunc func() time.Time
}

// Module is the compliance module.
type Module struct {
	store     *Store
	catalogue *Catalogue
	recorder  *Recorder
	logger    *slog.Logger
	// The service analytics' sources (SetServiceAnalyticsSources).
	serviceUsers ServiceUserStats
	serviceSubs  ServiceSubscriptionStats
}

// New builds the module.
func New(d Deps) (*Module, error) {
	if d.Pool == nil {
		return nil, errors.New("compliance: pool is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.NowFunc == nil {
		d.NowFunc = time.Now
	}
	store := NewStore(d.Pool)
	cat := NewCatalogue()
	return &Module{
		store:     store,
		catalogue: cat,
		recorder:  &Recorder{catalogue: cat, store: store, nowFunc: d.NowFunc},
		logger:    d.Logger,
	}, nil
}

// Recorder returns the events.Recorder every other module records through.
func (m *Module) Recorder() *Recorder { return m.recorder }

// Store returns the audit store (read side, for the audit-log endpoints and tests).
func (m *Module) Store() *Store { return m.store }

// Catalogue returns the Audit Events Reference.
func (m *Module) Catalogue() *Catalogue { return m.catalogue }

// SetServiceAnalyticsSources wires the counts behind GET
// /api/service/analytics (composition root, before serving): users and
// logins from the identity module, subscriptions from the billing module.
func (m *Module) SetServiceAnalyticsSources(users ServiceUserStats, subs ServiceSubscriptionStats) {
	m.serviceUsers, m.serviceSubs = users, subs
}

// RegisterRoutes registers the module's HTTP operations: the Service API's
// analytics. The audit-log and webhook endpoints arrive with their issues.
func (m *Module) RegisterRoutes(api huma.API) {
	registerServiceAnalyticsRoute(api, m)
}

// RegisterWorkers adds the module's River workers (webhook deliveries,
// exports and rollups arrive with their issues).
func (m *Module) RegisterWorkers(_ *river.Workers) {}

// PeriodicJobs returns the module's rows of the periodic-job table.
func (m *Module) PeriodicJobs() []jobs.PeriodicJob { return nil }
