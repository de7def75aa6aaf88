package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/authos/authos/migrations"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/mailcatch"
)

// Development defaults `authos dev` applies when the variable is unset.
const (
	devOwnerEmail    = "owner@authos.local"
	devOwnerPassword = "authos-dev-owner"
)

// Dev runs the whole system locally: PostgreSQL (from the local binaries,
// data in .data/), Redis, a mail catcher with a web view, the migrations,
// then the api and the worker, until Ctrl-C stops everything it started.
// DATABASE_URL, REDIS_URL and SMTP_HOST select existing servers instead;
// PORT and WORKER_PORT choose the ports.
func Dev(ctx context.Context, getenv Env, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dataDir, err := filepath.Abs(".data")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "authos dev: starting local services in", dataDir)
	svc, dbURL, redisURL, err := startLocalServices(ctx, getenv, getenv("DATABASE_URL"), getenv("REDIS_URL"), dataDir, true, stderr)
	if err != nil {
		return err
	}
	defer svc.stop()

	// forced values describe what dev started; defaults apply only when unset.
	forced := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL}
	defaults := map[string]string{
		"AUTHOS_ENV": config.EnvDevelopment, "LOG_FORMAT": "text", "OUTBOUND_ALLOW_PRIVATE": "true",
		"PLATFORM_OWNER_EMAIL": devOwnerEmail, "PLATFORM_OWNER_PASSWORD": devOwnerPassword,
	}
	mailURL := "(SMTP_HOST=" + getenv("SMTP_HOST") + ")"
	if getenv("SMTP_HOST") == "" {
		catcher, err := mailcatch.Start(ctx, freeAddr("127.0.0.1", 1025), freeAddr("127.0.0.1", 8025))
		if err != nil {
			return fmt.Errorf("start mail catcher: %w", err)
		}
		defer catcher.Close()
		host, port, _ := net.SplitHostPort(catcher.SMTPAddr())
		forced["SMTP_HOST"], forced["SMTP_PORT"], forced["SMTP_TLS"] = host, port, "none"
		mailURL = catcher.HTTPURL()
	}
	env := func(name string) string {
		if v, ok := forced[name]; ok {
			return v
		}
		if v := getenv(name); v != "" {
			return v
		}
		return defaults[name]
	}
	cfg, err := loadConfig(env, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)

	pool, err := openPool(ctx, cfg, "dev-migrate")
	if err != nil {
		return err
	}
	_, err = migrations.Up(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	apiAddr := make(chan string, 1)
	g.Go(func() error { return runAPI(gctx, cfg, logger.With("process", "api"), func(a string) { apiAddr <- a }) })
	g.Go(func() error { return runWorker(gctx, cfg, logger.With("process", "worker"), nil) })
	select {
	case <-apiAddr:
		fmt.Fprintf(stdout, `
AuthOS is running (Ctrl-C stops everything):
  API           %[1]s
  API docs      %[1]s/docs
  OpenAPI       %[1]s/openapi.json
  Readiness     %[1]s/health/ready
  Worker health http://localhost:%[2]d/health/ready
  Sent mail     %[3]s
  PostgreSQL    %[4]s
  Redis         %[5]s
  Platform owner %[6]s, password %[7]s
                (set PLATFORM_OWNER_EMAIL / PLATFORM_OWNER_PASSWORD to choose others)

`, cfg.HTTP.BaseURL, cfg.Worker.Port, mailURL, redact(dbURL), redisURL, cfg.Owner.Email, ownerPasswordHint(getenv("PLATFORM_OWNER_PASSWORD")))
	case <-gctx.Done():
	}
	err = g.Wait()
	fmt.Fprintln(stdout, "authos dev: stopped")
	return err
}

// freeAddr returns host:preferred when that port is free, else host:0.
func freeAddr(host string, preferred int) string {
	addr := net.JoinHostPort(host, strconv.Itoa(preferred))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return net.JoinHostPort(host, "0")
	}
	l.Close()
	return addr
}

// ownerPasswordHint prints the development default, never an operator's own password.
func ownerPasswordHint(set string) string {
	if set != "" {
		return "(from PLATFORM_OWNER_PASSWORD)"
	}
	return devOwnerPassword
}
