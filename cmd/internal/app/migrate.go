package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authos/authos/migrations"
)

// Migrate applies every pending migration (ours and River's) and exits.
func Migrate(ctx context.Context, getenv Env, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	pool, err := openPool(ctx, cfg, "migrate")
	if err != nil {
		return err
	}
	defer pool.Close()
	// The database may still be starting (compose): wait up to a minute.
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if err = pool.Ping(waitCtx); err == nil {
			break
		}
		select {
		case <-waitCtx.Done():
			return fmt.Errorf("connect to database: %w", err)
		case <-time.After(time.Second):
		}
	}
	res, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	st, err := migrations.GetStatus(ctx, pool)
	if err != nil {
		return err
	}
	logger.Info("migrations applied", "applied", res.Applied, "river_applied", res.RiverApplied, "status", st.String())
	return nil
}
