package jobs_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
)

type sweepArgs struct{}

func (sweepArgs) Kind() string { return "test.sweep" }

func periodicJob(id string) jobs.PeriodicJob {
	return jobs.PeriodicJob{
		ID:        id,
		Schedule:  river.PeriodicInterval(time.Hour),
		Construct: func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil },
	}
}

func TestPeriodic(t *testing.T) {
	t.Parallel()

	t.Run("MergesTables", func(t *testing.T) {
		t.Parallel()
		start := periodicJob("compliance.retention_sweep")
		start.RunOnStart = true
		got, err := jobs.Periodic(
			[]jobs.PeriodicJob{periodicJob("identity.session_cleanup"), start},
			nil,
			[]jobs.PeriodicJob{periodicJob("compliance.analytics_rollup")},
		)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for _, j := range got {
			require.NotNil(t, j)
		}
	})

	t.Run("EmptyInput", func(t *testing.T) {
		t.Parallel()
		got, err := jobs.Periodic()
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("DuplicateIDAcrossTables", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.Periodic(
			[]jobs.PeriodicJob{periodicJob("identity.session_cleanup")},
			[]jobs.PeriodicJob{periodicJob("identity.session_cleanup")},
		)
		require.ErrorContains(t, err, `"identity.session_cleanup" declared twice`)
	})

	t.Run("DuplicateIDInOneTable", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.Periodic([]jobs.PeriodicJob{periodicJob("a"), periodicJob("b"), periodicJob("a")})
		require.ErrorContains(t, err, `"a" declared twice`)
	})

	t.Run("EmptyID", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.Periodic([]jobs.PeriodicJob{periodicJob("")})
		require.ErrorContains(t, err, "without id")
	})

	t.Run("NilSchedule", func(t *testing.T) {
		t.Parallel()
		j := periodicJob("no.schedule")
		j.Schedule = nil
		_, err := jobs.Periodic([]jobs.PeriodicJob{j})
		require.ErrorContains(t, err, `"no.schedule" needs a schedule and a constructor`)
	})

	t.Run("NilConstructor", func(t *testing.T) {
		t.Parallel()
		j := periodicJob("no.constructor")
		j.Construct = nil
		_, err := jobs.Periodic([]jobs.PeriodicJob{j})
		require.ErrorContains(t, err, `"no.constructor" needs a schedule and a constructor`)
	})
}
