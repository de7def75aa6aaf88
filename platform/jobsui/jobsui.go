// Package jobsui serves the job dashboard: River UI (riverqueue.com/riverui)
// mounted under a path prefix, normally /admin/jobs.
//
// The dashboard's single-page front end is embedded in the riverui module
// and served from the binary, so it works offline and needs no front-end
// build. Its JSON API lives under <prefix>/api.
//
// Authorization is NOT this package's job. The dashboard shows every
// tenant's job arguments and can cancel, retry and delete jobs and pause
// queues, so the caller must wrap the Handler in a guard that admits only
// platform owners, and mount it on a router that does not apply the hosted
// pages' strict Content-Security-Policy (the UI loads its own scripts and
// styles from the same origin). As defence in depth the Handler rejects
// cross-origin state-changing requests (http.CrossOriginProtection), which
// protects a cookie-authenticated guard from cross-site request forgery.
//
// Mount it at the prefix and everything below it, without stripping the
// prefix (riverui strips it itself):
//
//	mux.Handle("/admin/jobs", guard(h))
//	mux.Handle("/admin/jobs/", guard(h))
//
// or with chi: r.With(guardMiddleware).Handle("/admin/jobs*", h).
package jobsui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"
)

// DefaultPrefix is where the API process mounts the dashboard.
const DefaultPrefix = "/admin/jobs"

// Options configure the dashboard.
type Options struct {
	// Pool is the application's database pool; River's tables must have
	// been migrated (authos migrate runs rivermigrate). Required.
	Pool *pgxpool.Pool
	// Prefix is the path the dashboard is mounted under; empty means
	// DefaultPrefix.
	Prefix string
	// Logger receives riverui's errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves River UI. It is an http.Handler; Start its background
// services (riverui's query caches) before serving and Stop them at
// shutdown.
type Handler struct {
	ui      *riverui.Handler
	handler http.Handler
	prefix  string

	mu     sync.Mutex
	cancel context.CancelFunc
}

// New builds the dashboard on an insert-only River client over o.Pool (the
// client is never started, so this process works no jobs). It returns an
// error when the pool is missing or riverui cannot load its embedded
// front end.
func New(ctx context.Context, o Options) (*Handler, error) {
	if o.Pool == nil {
		return nil, errors.New("create job dashboard: pool is required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create job dashboard: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prefix := riverui.NormalizePathPrefix(o.Prefix)
	if prefix == "" {
		prefix = DefaultPrefix
	}
	client, err := river.NewClient(riverpgxv5.New(o.Pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("create job dashboard river client: %w", err)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints[pgx.Tx](client, nil),
		// Job arguments carry tenant ids and e-mail addresses: show them
		// only when the operator asks for them.
		JobListHideArgsByDefault: true,
		Logger:                   logger,
		Prefix:                   prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("create job dashboard: %w", err)
	}
	return &Handler{
		ui:      ui,
		handler: http.NewCrossOriginProtection().Handler(ui),
		prefix:  prefix,
	}, nil
}

// Prefix returns the path the dashboard expects to be mounted under.
func (h *Handler) Prefix() string { return h.prefix }

// Start starts riverui's background services. They run until Stop is
// called or ctx is done. Calling Start again while running does nothing.
func (h *Handler) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := h.ui.Start(runCtx); err != nil {
		cancel()
		return fmt.Errorf("start job dashboard: %w", err)
	}
	h.cancel = cancel
	return nil
}

// Stop stops the background services started by Start.
func (h *Handler) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
}

// ServeHTTP serves the dashboard's page, assets and JSON API. Requests
// outside the prefix get 404. Cross-origin POST/PUT/PATCH/DELETE requests
// are refused with 403.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.ServeHTTP(w, r)
}
