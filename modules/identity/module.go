package identity

import (
	"errors"
	"log/slog"

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
}

// Module is the identity module.
type Module struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	recorder events.Recorder
}

// New builds the module, refusing missing dependencies.
func New(d Deps) (*Module, error) {
	if d.Pool == nil {
		return nil, errors.New("identity: pool is required")
	}
	if d.Recorder == nil {
		return nil, errors.New("identity: recorder is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Module{pool: d.Pool, logger: d.Logger, recorder: d.Recorder}, nil
}

// RegisterRoutes registers the module's HTTP operations.
func (m *Module) RegisterRoutes(_ huma.API) {}

// RegisterWorkers adds the module's River workers.
func (m *Module) RegisterWorkers(_ *river.Workers) {}

// PeriodicJobs returns the module's rows of the periodic-job table.
func (m *Module) PeriodicJobs() []jobs.PeriodicJob { return nil }
