package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/platform/config"
)

// OpenAPISpec builds the whole API offline (no database or Redis is
// contacted) and returns its OpenAPI 3.1 document as YAML or JSON.
func OpenAPISpec(format string) ([]byte, error) {
	cfg, err := config.Load(func(name string) string {
		if name == "AUTHOS_ENV" {
			return config.EnvDevelopment
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	// A pool and client are needed to build the modules, but neither
	// connects until used, and nothing here uses them.
	pool, err := pgxpool.New(context.Background(), cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:0"})
	defer rdb.Close()
	logger := slog.New(slog.DiscardHandler)
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, logger: logger})
	if err != nil {
		return nil, err
	}
	_, api, err := buildAPI(cfg, logger, pool, mods)
	defer mods.stop()
	if err != nil {
		return nil, err
	}
	switch format {
	case "yaml", "":
		return api.OpenAPI().YAML()
	case "json":
		return api.OpenAPI().MarshalJSON()
	default:
		return nil, fmt.Errorf("unknown format %q (yaml or json)", format)
	}
}

// PrintOpenAPI writes the OpenAPI document to w.
func PrintOpenAPI(w io.Writer, format string) error {
	b, err := OpenAPISpec(format)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
