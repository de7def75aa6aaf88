package app

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	pool, rdb, closeStores, err := openStores(ctx, cfg, "keys", logger)
	if err != nil {
		return err
	}
	defer closeStores()
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
