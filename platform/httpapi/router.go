package httpapi

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by [New] for zero option values.
const (
	DefaultMaxBodyBytes   int64 = 1 << 20
	DefaultRequestTimeout       = 30 * time.Second
)

// Options configures the router built by [New].
type Options struct {
	// Logger receives 5xx causes, panics and authentication failures, each
	// with the request id. Nil means slog.Default().
	Logger *slog.Logger
	// Version is the API version shown in the OpenAPI info.
	Version string
	// ServerURL, when set, is listed as the server in the OpenAPI (BASE_URL).
	ServerURL string

	// TrustProxyHeaders enables X-Forwarded-For / X-Real-IP, and only for
	// requests whose direct peer is inside TrustedProxies.
	TrustProxyHeaders bool
	// TrustedProxies are the addresses of the reverse proxies in front of
	// the API.
	TrustedProxies []netip.Prefix

	// CORSOrigins are the browser origins allowed to call the API with
	// credentials, matched exactly (scheme://host[:port]).
	CORSOrigins []string
	// ExtraOriginAllowedFunc, when set, is asked about origins not in
	// CORSOrigins (verified custom domains). It must be fast (cache).
	ExtraOriginAllowedFunc func(ctx context.Context, origin string) bool

	// MaxBodyBytes caps request bodies (413 beyond). 0 means
	// DefaultMaxBodyBytes; negative disables the router limit.
	MaxBodyBytes int64
	// RequestTimeout bounds each request's context. 0 means
	// DefaultRequestTimeout; negative disables it.
	RequestTimeout time.Duration

	// Metrics, when set, receives authos_http_requests_total and
	// authos_http_request_duration_seconds.
	Metrics prometheus.Registerer

	// Authenticators verify credentials, keyed by security scheme name
	// (SchemeBearer, SchemeAPIKey, SchemeSCIM). A scheme without one rejects
	// every request with 401.
	Authenticators map[string]Authenticator
}

// New builds the AuthOS router and the Huma API on it. Middleware runs in
// this order: request id, real client IP, panic recovery, security headers,
// CORS, body size limit, request timeout, metrics; then Huma with the
// operation-id and authentication middlewares. /openapi.json, /openapi.yaml
// and /docs are served. Modules register their operations on the returned
// API; plain handlers (health, metrics, webhooks) may be added to the mux.
//
// New also installs, once per process, the replacement of
// huma.NewErrorWithContext that makes every Huma error an AuthOS problem.
// A metrics registration failure is logged and leaves metrics off.
func New(o Options) (*chi.Mux, huma.API) {
	installErrorOverride()
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	maxBody := o.MaxBodyBytes
	if maxBody == 0 {
		maxBody = DefaultMaxBodyBytes
	}
	timeout := o.RequestTimeout
	if timeout == 0 {
		timeout = DefaultRequestTimeout
	}

	mux := chi.NewMux()
	mux.Use(requestIDMiddleware(logger))
	mux.Use(newClientIPResolver(o.TrustProxyHeaders, o.TrustedProxies).middleware)
	mux.Use(recoverMiddleware)
	mux.Use(securityHeadersMiddleware)
	mux.Use(newCORSPolicy(o.CORSOrigins, o.ExtraOriginAllowedFunc).middleware)
	if maxBody > 0 {
		mux.Use(bodyLimitMiddleware(maxBody))
	}
	if timeout > 0 {
		mux.Use(timeoutMiddleware(timeout))
	}
	if o.Metrics != nil {
		m, err := newHTTPMetrics(o.Metrics)
		if err != nil {
			logger.Error("http metrics disabled", "error", err.Error())
		} else {
			mux.Use(m.middleware)
		}
	}
	mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, http.StatusNotFound, CodeNotFound, "Not found")
	})
	mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
		}
		WriteProblem(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed")
	})
	mountDocs(mux)

	api := humachi.New(mux, humaConfig(o, maxBody))
	auth := &authMiddleware{api: api, authenticators: maps.Clone(o.Authenticators)}
	api.UseMiddleware(operationIDMiddleware, auth.handle)
	return mux, api
}

// humaConfig is Huma's default config minus its docs page, schema routes and
// $schema links (response bodies follow the AuthOS contract exactly), with
// JSON only, our error transformer and the security schemes.
func humaConfig(o Options, maxBody int64) huma.Config {
	cfg := huma.DefaultConfig("AuthOS API", o.Version)
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaNamer)
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil
	cfg.Formats = map[string]huma.Format{
		"application/json": huma.DefaultJSONFormat,
		"json":             huma.DefaultJSONFormat,
	}
	cfg.Transformers = append(cfg.Transformers, transformError)
	cfg.Info.Description = "The AuthOS identity platform API. Errors are RFC 9457 problem details " +
		"(application/problem+json) with the AuthOS members error, error_code and timestamp."
	cfg.Components.SecuritySchemes = securitySchemes()
	if o.ServerURL != "" {
		cfg.Servers = []*huma.Server{{URL: o.ServerURL}}
	}
	cfg.OnAddOperation = append(cfg.OnAddOperation, documentUnauthorized)
	if maxBody > 0 {
		cfg.OnAddOperation = append(cfg.OnAddOperation, delegateBodyLimit)
	}
	documentErrorSchema(cfg.Components.Schemas)
	return cfg
}

// allowedMethods lists the methods routed for path, for the Allow header of
// a 405.
func allowedMethods(mux *chi.Mux, path string) string {
	var allow []string
	for _, m := range []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
	} {
		if mux.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}
