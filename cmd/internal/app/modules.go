package app

import (
	"fmt"
	"log/slog"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/federation"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
)

// module is what every module exposes to the composition root.
type module interface {
	RegisterRoutes(api huma.API)
	RegisterWorkers(w *river.Workers)
	PeriodicJobs() []jobs.PeriodicJob
}

// modules holds the five modules, built in dependency order.
type modules struct {
	compliance *compliance.Module
	identity   *identity.Module
	tenancy    *tenancy.Module
	billing    *billing.Module
	federation *federation.Module
}

func (m *modules) all() []module {
	return []module{m.identity, m.tenancy, m.billing, m.federation, m.compliance}
}

// buildModules wires the modules: compliance first, because every other
// module records its events through compliance's Recorder.
func buildModules(pool *pgxpool.Pool, logger *slog.Logger) (*modules, error) {
	var m modules
	var err error
	if m.compliance, err = compliance.New(compliance.Deps{Pool: pool, Logger: logger}); err != nil {
		return nil, fmt.Errorf("build compliance: %w", err)
	}
	rec := m.compliance.Recorder()
	if m.identity, err = identity.New(identity.Deps{Pool: pool, Logger: logger, Recorder: rec}); err != nil {
		return nil, fmt.Errorf("build identity: %w", err)
	}
	if m.tenancy, err = tenancy.New(tenancy.Deps{Pool: pool, Logger: logger, Recorder: rec}); err != nil {
		return nil, fmt.Errorf("build tenancy: %w", err)
	}
	if m.billing, err = billing.New(billing.Deps{Pool: pool, Logger: logger, Recorder: rec}); err != nil {
		return nil, fmt.Errorf("build billing: %w", err)
	}
	if m.federation, err = federation.New(federation.Deps{Pool: pool, Logger: logger, Recorder: rec}); err != nil {
		return nil, fmt.Errorf("build federation: %w", err)
	}
	return &m, nil
}
