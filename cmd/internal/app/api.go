package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/health"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/jobsui"
	"github.com/authos/authos/platform/metrics"
	"github.com/authos/authos/platform/redis"
)

// RunAPI serves the HTTP API until SIGINT/SIGTERM (or ctx ends).
func RunAPI(ctx context.Context, getenv Env, stdout, stderr io.Writer) error {
	cfg, logger, err := startProcess(getenv, stdout, stderr, "api")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runAPI(ctx, cfg, logger, nil)
}

// apiStarted is told the API's address once it listens (tests, dev).
type apiStarted func(addr string)

func runAPI(ctx context.Context, cfg config.Config, logger *slog.Logger, started apiStarted) error {
	pool, rdb, closeStores, err := openStores(ctx, cfg, "api", logger)
	if err != nil {
		return err
	}
	defer closeStores()

	queue, err := jobs.NewInsertOnlyClient(pool, logger)
	if err != nil {
		return err
	}
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, queue: queue, logger: logger})
	if err != nil {
		return err
	}
	if err := mods.identity.Start(ctx); err != nil {
		return fmt.Errorf("start identity: %w", err)
	}
	// The API-key cache invalidation listener and the batched last_used_at
	// writer run until shutdown (with a final flush).
	tenancyDone := make(chan struct{})
	runCtx, stopTenancy := context.WithCancel(context.WithoutCancel(ctx))
	go func() { defer close(tenancyDone); mods.tenancy.Run(runCtx) }()
	defer func() { stopTenancy(); <-tenancyDone }()
	handler, _, err := buildAPI(cfg, logger, pool, mods)
	defer mods.stop()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.HTTP.Host, strconv.Itoa(cfg.HTTP.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on PORT: %w", err)
	}
	srv := httpapi.NewServer(handler, addr, httpapi.ServerOptions{RequestTimeout: cfg.HTTP.RequestTimeout, Logger: logger})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("api listening", "addr", ln.Addr().String(), "docs", cfg.HTTP.BaseURL+"/docs")
	if started != nil {
		started(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	logger.Info("api stopping: draining in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("api stopped")
	return nil
}

// buildAPI assembles the router: platform middleware, health, metrics, then
// every module's operations. It does not touch the database or Redis, so
// `authos openapi` can call it offline.
func buildAPI(cfg config.Config, logger *slog.Logger, pool *pgxpool.Pool, mods *modules) (http.Handler, huma.API, error) {
	var trusted []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxyIPs {
		prefix, err := config.ParsePrefix(p)
		if err != nil {
			return nil, nil, err
		}
		trusted = append(trusted, prefix)
	}
	origins := append([]string{cfg.HTTP.DashboardBaseURL}, cfg.HTTP.CORSAllowedOrigins...)
	if cfg.HTTP.FullWebClientBaseURL != "" {
		origins = append(origins, cfg.HTTP.FullWebClientBaseURL)
	}
	registry := metrics.NewRegistry()
	registry.MustRegister(metrics.NewPoolCollector(pool), metrics.NewQueueCollector(pool, logger))

	mux, api := httpapi.New(httpapi.Options{
		Logger:            logger,
		Version:           Version,
		ServerURL:         cfg.HTTP.BaseURL,
		TrustProxyHeaders: cfg.HTTP.TrustProxyHeaders,
		TrustedProxies:    trusted,
		CORSOrigins:       origins,
		// Organizations' verified custom domains are allowed origins too.
		ExtraOriginAllowedFunc: mods.tenancy.VerifiedOriginAllowed,
		MaxBodyBytes:           cfg.HTTP.MaxBodyBytes,
		RequestTimeout:         cfg.HTTP.RequestTimeout,
		Metrics:                registry,
		// Federation (SCIM) adds its authenticator when it lands; until then
		// that scheme answers 401.
		Authenticators: map[string]httpapi.Authenticator{
			httpapi.SchemeBearer: mods.identity.Authenticator(),
			httpapi.SchemeAPIKey: mods.tenancy.APIKeyAuthenticator(),
		},
	})
	mux.Handle("/metrics", metrics.Handler(registry, cfg.Metrics.Token, !cfg.Metrics.Enabled))

	checker := health.NewChecker(Version, time.Second, dbCheck(pool), redisCheck(mods.rdb), schemaCheck(pool))
	registerHealth(api, checker)

	for _, m := range mods.all() {
		m.RegisterRoutes(api)
	}
	mods.identity.RegisterPages(mux)
	if err := mods.tenancy.RegisterPages(mux, mods.identity); err != nil {
		return nil, nil, err
	}

	// The background-job dashboard, for platform owners signed in on the
	// hosted login page (admin browser session).
	ui, err := jobsui.New(context.Background(), jobsui.Options{Pool: pool, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	if err := ui.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	mods.onStop(ui.Stop)
	guarded := mods.identity.AdminGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// River UI is a single-page app served from the binary: its own
		// scripts, styles and API only (the API's default CSP allows none).
		w.Header().Set("Content-Security-Policy", jobsUICSP)
		ui.ServeHTTP(w, r)
	}))
	mux.Handle(ui.Prefix(), guarded)
	mux.Handle(ui.Prefix()+"/*", guarded)
	mux.Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ui.Prefix()+"/", http.StatusSeeOther)
	})
	return mux, api, nil
}

// jobsUICSP is the job dashboard's content security policy.
const jobsUICSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

func redisCheck(rdb goredis.UniversalClient) health.Check {
	return health.Check{Name: "redis", OK: "connected", Failed: "disconnected", Probe: func(ctx context.Context) error {
		return redis.Ping(ctx, rdb)
	}}
}
