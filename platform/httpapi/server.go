package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Server timeouts applied by [NewServer] for zero values.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	// writeTimeoutMargin is how much longer than the request timeout a
	// response may take to be written, so a handler that hits its deadline
	// can still send its 503.
	writeTimeoutMargin = 10 * time.Second
)

// ServerOptions tunes the *http.Server built by [NewServer]. Zero values get
// safe defaults.
type ServerOptions struct {
	// RequestTimeout is the router's per-request timeout (Options
	// RequestTimeout); it sets the default read and write timeouts.
	// 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request. Default: RequestTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the whole exchange after the headers were read.
	// Default: RequestTimeout + 10s.
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive idle time.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request header size. 0 means 64 KiB.
	MaxHeaderBytes int
	// Logger receives the server's own errors (TLS handshakes, bad
	// requests); nil means slog.Default().
	Logger *slog.Logger
}

// NewServer returns an *http.Server for handler on addr with timeouts that
// protect against slow clients while letting every request finish within its
// timeout. The caller starts it (ListenAndServe) and shuts it down.
func NewServer(handler http.Handler, addr string, o ServerOptions) *http.Server {
	reqTimeout := o.RequestTimeout
	if reqTimeout <= 0 {
		reqTimeout = DefaultRequestTimeout
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(o.ReadTimeout, reqTimeout),
		WriteTimeout:      orDefault(o.WriteTimeout, reqTimeout+writeTimeoutMargin),
		IdleTimeout:       orDefault(o.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    orDefault(o.MaxHeaderBytes, 64<<10),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
