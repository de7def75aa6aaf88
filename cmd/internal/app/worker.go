package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/migrations"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/health"
	"github.com/authos/authos/platform/mail"
)

// RunWorker runs the River worker process until SIGINT/SIGTERM (or ctx ends).
func RunWorker(ctx context.Context, getenv Env, stdout, stderr io.Writer) error {
	cfg, logger, err := startProcess(getenv, stdout, stderr, "worker")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runWorker(ctx, cfg, logger, nil)
}

// workerStarted is told the worker's health address once it listens (tests).
type workerStarted func(addr string)

func runWorker(ctx context.Context, cfg config.Config, logger *slog.Logger, started workerStarted) error {
	pool, rdb, closeStores, err := openStores(ctx, cfg, "worker", logger)
	if err != nil {
		return err
	}
	defer closeStores()
	workers, err := buildWorkers(cfg, pool, rdb, logger)
	if err != nil {
		return err
	}
	client, err := jobs.NewWorkerClient(pool, workers.workers, jobs.WorkerOptions{
		Limits: jobs.QueueLimits{
			Default: cfg.Worker.DefaultWorkers, Email: cfg.Worker.EmailWorkers, Webhooks: cfg.Worker.WebhookWorkers,
			Exports: cfg.Worker.ExportWorkers, Analytics: cfg.Worker.AnalyticsWorkers,
		},
		Periodic:          workers.periodic,
		Logger:            logger,
		SoftStopTimeout:   cfg.HTTP.ShutdownTimeout,
		FetchPollInterval: time.Second,
	})
	if err != nil {
		return err
	}

	checker := health.NewChecker(Version, time.Second, dbCheck(pool), schemaCheck(pool))
	mux := http.NewServeMux()
	mux.Handle("GET /health/live", health.LiveHandler())
	mux.Handle("GET /health/ready", checker.ReadyHandler())
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"status":"healthy","version":%q}`, Version)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.HTTP.Host, strconv.Itoa(cfg.Worker.Port)))
	if err != nil {
		return fmt.Errorf("listen on WORKER_PORT: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if started != nil {
		started(ln.Addr().String())
	}

	// Start on a context the signal does not cancel: on SIGTERM jobs.Stop
	// first lets running jobs finish (soft stop), then cancels them.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		_ = srv.Close()
		return fmt.Errorf("start river client: %w", err)
	}
	logger.Info("worker started", "health", ln.Addr().String())
	<-ctx.Done()
	logger.Info("worker stopping: finishing running jobs", "soft_timeout", cfg.HTTP.ShutdownTimeout)
	stopErr := jobs.Stop(client, cfg.HTTP.ShutdownTimeout, 10*time.Second)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	logger.Info("worker stopped")
	return stopErr
}

type workerSet struct {
	workers  *river.Workers
	periodic []*river.PeriodicJob
}

func buildWorkers(cfg config.Config, pool *pgxpool.Pool, rdb goredis.UniversalClient, logger *slog.Logger) (*workerSet, error) {
	ring, err := keyRing(cfg)
	if err != nil {
		return nil, err
	}
	templates, err := mail.LoadTemplates()
	if err != nil {
		return nil, fmt.Errorf("load email templates: %w", err)
	}
	var platformSender mail.Sender
	if cfg.SMTP.Host != "" {
		s, err := mail.NewSMTPSender(smtpConfig(cfg))
		if err != nil {
			return nil, fmt.Errorf("platform smtp: %w", err)
		}
		platformSender = s
	} else {
		logger.Warn("SMTP_HOST is not set: email jobs will be cancelled")
	}
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, logger: logger})
	if err != nil {
		return nil, err
	}
	// Each organization's own SMTP server when it configured one, else the
	// platform's.
	emailWorker, err := jobs.NewEmailWorker(ring, templates, mods.tenancy.SMTPSenders(platformSender))
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, emailWorker); err != nil {
		return nil, err
	}
	var tables [][]jobs.PeriodicJob
	for _, m := range mods.all() {
		m.RegisterWorkers(workers)
		tables = append(tables, m.PeriodicJobs())
	}
	periodic, err := jobs.Periodic(tables...)
	if err != nil {
		return nil, err
	}
	return &workerSet{workers: workers, periodic: periodic}, nil
}

func smtpConfig(cfg config.Config) mail.SMTPConfig {
	return mail.SMTPConfig{
		Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
		FromEmail: cfg.SMTP.FromEmail, FromName: cfg.SMTP.FromName, TLS: cfg.SMTP.TLS, Timeout: 30 * time.Second,
	}
}

// requireSchema refuses to run against a database whose schema is behind
// this binary: processes never migrate implicitly.
func requireSchema(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := migrations.Check(checkCtx, pool)
	if err != nil {
		if errors.Is(err, migrations.ErrBehind) {
			logger.Error("refusing to start: database schema is behind; run `authos migrate` first", "status", st.String())
			return &ExitError{Code: 1, Err: err}
		}
		return fmt.Errorf("check database schema: %w", err)
	}
	return nil
}

func dbCheck(pool *pgxpool.Pool) health.Check {
	return health.Check{Name: "database", OK: "connected", Failed: "disconnected", Probe: func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "SELECT 1")
		return err
	}}
}

func schemaCheck(pool *pgxpool.Pool) health.Check {
	return health.Check{Name: "schema", OK: "ok", Failed: "behind", Probe: func(ctx context.Context) error {
		_, err := migrations.Check(ctx, pool)
		return err
	}}
}
