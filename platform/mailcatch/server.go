package mailcatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// DefaultMaxMessages is how many messages a Server keeps when
// Options.MaxMessages is zero; older ones are dropped first.
const DefaultMaxMessages = 1000

const maxMessageBytes = 25 << 20

// Captured is one received message. From and To are the SMTP envelope
// (MAIL FROM and RCPT TO); Subject is decoded from RFC 2047; Text and HTML are
// the decoded text/plain and text/html parts with line endings normalised to
// "\n". Raw is the message exactly as received.
type Captured struct {
	// ID numbers messages from 1 in arrival order; it stays valid for the
	// message's lifetime and names it in the web view (/messages/{id}).
	ID         int
	From       string
	To         []string
	Subject    string
	Text       string
	HTML       string
	Header     mail.Header
	Raw        []byte
	ReceivedAt time.Time
	// Username is the AUTH identity the client used, "" without AUTH.
	Username string
	// TLS is true when the message arrived over TLS (STARTTLS or implicit).
	TLS bool
	// ParseError describes why the MIME structure could not be decoded; the
	// message is kept (with Raw) anyway.
	ParseError string
}

// Options configures StartWithOptions.
type Options struct {
	// SMTPAddr is the SMTP listen address; default "127.0.0.1:0" (a free port).
	SMTPAddr string
	// HTTPAddr is the web view's listen address; "" disables the web view.
	HTTPAddr string
	// RejectRecipient, when set, is asked about every RCPT TO address; a
	// non-zero code (4xx or 5xx) is answered with msg instead of accepting.
	RejectRecipient func(addr string) (code int, msg string)
	// MaxMessages bounds memory; default DefaultMaxMessages.
	MaxMessages int
	// TLSConfig enables STARTTLS (or, with ImplicitTLS, TLS from the first
	// byte) with its certificate.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// AuthMechanisms limits the advertised AUTH mechanisms; default PLAIN
	// and LOGIN. An empty non-nil slice disables AUTH.
	AuthMechanisms []string
	// Logger receives server errors; default discards them.
	Logger *slog.Logger
}

// Server is a running mail catcher. It is safe for concurrent use.
type Server struct {
	opts     Options
	smtp     *smtp.Server
	smtpLn   net.Listener
	smtpAddr string
	http     *http.Server
	httpURL  string

	mu       sync.Mutex
	messages []Captured // oldest first
	nextID   int
	changed  chan struct{} // closed and replaced on every change

	closeOnce sync.Once
	closeErr  error
	stopCtx   func() bool // guarded by mu
}

// Start runs a catcher on smtpAddr and, unless httpAddr is "", a web view on
// httpAddr ("127.0.0.1:0" picks a free port). It stops when ctx ends or
// Close is called.
func Start(ctx context.Context, smtpAddr, httpAddr string) (*Server, error) {
	return StartWithOptions(ctx, Options{SMTPAddr: smtpAddr, HTTPAddr: httpAddr})
}

// StartWithOptions is Start with every option; see Options.
func StartWithOptions(ctx context.Context, opts Options) (*Server, error) {
	if opts.SMTPAddr == "" {
		opts.SMTPAddr = "127.0.0.1:0"
	}
	if opts.MaxMessages <= 0 {
		opts.MaxMessages = DefaultMaxMessages
	}
	if opts.AuthMechanisms == nil {
		opts.AuthMechanisms = []string{sasl.Plain, sasl.Login}
	}
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("mailcatch: implicit TLS needs a TLS config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, changed: make(chan struct{})}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen smtp: %w", err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	s.smtpAddr = ln.Addr().String()

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "mailcatch.localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(slogWriter{opts.Logger}, "", 0)
	if !opts.ImplicitTLS {
		srv.TLSConfig = opts.TLSConfig
	}
	s.smtp, s.smtpLn = srv, ln
	go func() { _ = srv.Serve(ln) }()

	if opts.HTTPAddr != "" {
		hln, err := lc.Listen(ctx, "tcp", opts.HTTPAddr)
		if err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("listen http: %w", err)
		}
		s.httpURL = "http://" + hln.Addr().String()
		s.http = &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(slogWriter{opts.Logger}, "", 0),
		}
		go func() { _ = s.http.Serve(hln) }()
	}

	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Lock()
	s.stopCtx = stop
	s.mu.Unlock()
	return s, nil
}

// SMTPAddr returns the host:port the SMTP server listens on.
func (s *Server) SMTPAddr() string { return s.smtpAddr }

// HTTPURL returns the web view's base URL ("http://127.0.0.1:port"), or ""
// when the web view is disabled.
func (s *Server) HTTPURL() string { return s.httpURL }

// Close stops both servers and drops open connections. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		stop := s.stopCtx
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		var errs []error
		// Serve registers the listener with the smtp.Server asynchronously;
		// close it here too so a Close right after Start stops listening.
		_ = s.smtpLn.Close()
		if err := s.smtp.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close smtp: %w", err))
		}
		if s.http != nil {
			if err := s.http.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close http: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Messages returns a copy of the kept messages, oldest first.
func (s *Server) Messages() []Captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Message returns the kept message with the given ID.
func (s *Server) Message(id int) (Captured, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ID == id {
			return m, true
		}
	}
	return Captured{}, false
}

// Clear drops every kept message. IDs keep counting up.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// WaitFor returns the first kept message, oldest first, for which match
// returns true, waiting for new messages until ctx ends. A nil match accepts
// any message.
func (s *Server) WaitFor(ctx context.Context, match func(Captured) bool) (Captured, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		for _, m := range s.messages {
			if match == nil || match(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Captured{}, fmt.Errorf("wait for message: %w", ctx.Err())
		}
	}
}

func (s *Server) add(c Captured) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	c.ID = s.nextID
	s.messages = append(s.messages, c)
	if over := len(s.messages) - s.opts.MaxMessages; over > 0 {
		s.messages = slices.Delete(s.messages, 0, over)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: c}, nil
}

// session implements smtp.Session and smtp.AuthSession for one connection.
type session struct {
	server   *Server
	conn     *smtp.Conn
	username string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string { return se.server.opts.AuthMechanisms }

func (se *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(se.server.opts.AuthMechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, _ string) error {
			se.username = username
			return nil
		}), nil
	case sasl.Login:
		return &loginServer{done: func(username string) { se.username = username }}, nil
	default:
		return nil, smtp.ErrAuthUnknownMechanism
	}
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if reject := se.server.opts.RejectRecipient; reject != nil {
		if code, msg := reject(to); code != 0 {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
		}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	_, isTLS := se.conn.TLSConnectionState()
	c := parseMessage(raw)
	c.From = se.from
	c.To = slices.Clone(se.to)
	c.ReceivedAt = time.Now().UTC()
	c.Username = se.username
	c.TLS = isTLS
	se.server.add(c)
	return nil
}

func (se *session) Reset() {
	se.from = ""
	se.to = nil
}

func (se *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, accepting any credentials.
// A client may send the username as the initial response.
type loginServer struct {
	step     int
	username string
	done     func(username string)
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		l.done(l.username)
		return nil, true, nil
	}
}

// slogWriter adapts a *slog.Logger to the log.Logger the servers expect.
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.logger.Warn("mailcatch: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
