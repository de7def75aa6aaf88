package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/authos/authos/platform/redis"
)

// KeysRotate makes a new active JWT signing key. Running API replicas pick
// it up within a minute (or on the first token that names it); the previous
// key stays in the JWKS until every token it signed has expired.
func KeysRotate(ctx context.Context, getenv Env, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New("usage: authos keys rotate")
	}
	cfg, err := loadConfig(getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	pool, err := openPool(ctx, cfg, "keys")
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := requireSchema(ctx, pool, logger); err != nil {
		return err
	}
	rdb, err := redis.NewClient(ctx, cfg.Redis.URL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, logger: logger})
	if err != nil {
		return err
	}
	kid, err := mods.identity.RotateKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "new active signing key:", kid)
	return nil
}
