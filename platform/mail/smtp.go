package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authos/authos/platform/crypto"
)

// TLS modes of SMTPConfig.TLS.
const (
	// TLSStartTLS upgrades the connection with STARTTLS when the server offers
	// it, and requires it when credentials are configured.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (usually port 465).
	TLSImplicit = "tls"
	// TLSNone never uses TLS. Credentials are then only sent to a loopback
	// host.
	TLSNone = "none"
)

// DefaultTimeout bounds one Send when SMTPConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// ErrTLSRequired is returned when credentials are configured but the server
// does not offer STARTTLS, so authenticating would expose the password.
// IsPermanent reports true for it: the server or configuration must change.
var ErrTLSRequired = errors.New("smtp server does not offer STARTTLS; refusing to send credentials in clear")

// ErrNoAuthMechanism is returned when credentials are configured but the
// server offers neither AUTH PLAIN nor AUTH LOGIN. IsPermanent reports true.
var ErrNoAuthMechanism = errors.New("smtp server offers no supported AUTH mechanism (PLAIN, LOGIN)")

// Sender sends one message. Implementations honour ctx cancellation and
// classify failures for IsPermanent.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

var _ Sender = (*SMTPSender)(nil)

// SMTPConfig configures an SMTPSender. Zero values of the optional fields
// pick safe defaults.
type SMTPConfig struct {
	Host string
	Port int
	// Username and Password enable SMTP AUTH (PLAIN, else LOGIN). They are
	// sent only over TLS, or to a loopback host in TLS mode "none".
	Username string
	Password string
	// FromEmail is the envelope sender and From address; its domain also
	// names the Message-ID.
	FromEmail string
	// FromName is the display name of From; non-ASCII is Q-encoded.
	FromName string
	// TLS is "starttls" (default when empty), "tls" or "none".
	TLS string
	// Timeout bounds a whole Send: dial, TLS, commands and data. Default 30 s.
	Timeout time.Duration
	// InsecureSkipVerify disables certificate verification (development only).
	InsecureSkipVerify bool
	// RootCAs verifies the server certificate instead of the system pool.
	RootCAs *x509.CertPool
	// LocalName is the name sent with EHLO; default "localhost".
	LocalName string
	// DialContextFunc opens the TCP connection; default net.Dialer. Tenant
	// SMTP hosts must go through the SSRF-safe outbound dialer.
	DialContextFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// SMTPSender sends Messages through one SMTP server, opening a connection per
// Send. It is safe for concurrent use.
type SMTPSender struct {
	cfg     SMTPConfig
	addr    string
	from    mail.Address
	domain  string
	tlsConf *tls.Config
	nowFunc func() time.Time
}

// NewSMTPSender validates c and returns a sender. It does not connect; use
// Check to test the settings.
func NewSMTPSender(c SMTPConfig) (*SMTPSender, error) {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.LocalName == "" {
		c.LocalName = "localhost"
	}
	var problems []string
	if c.Host == "" || strings.ContainsAny(c.Host, " \r\n/") {
		problems = append(problems, "host must be a host name or IP address")
	}
	if c.Port < 1 || c.Port > 65535 {
		problems = append(problems, "port must be between 1 and 65535")
	}
	if !slices.Contains([]string{TLSStartTLS, TLSImplicit, TLSNone}, c.TLS) {
		problems = append(problems, "tls must be starttls, tls or none")
	}
	if strings.ContainsAny(c.LocalName, " \r\n") {
		problems = append(problems, "local name must be a host name")
	}
	if c.TLS == TLSNone && c.Username != "" && !isLoopbackHost(c.Host) {
		problems = append(problems, `credentials with tls "none" are only allowed for a loopback host`)
	}
	from, err := parseAddress("From", c.FromEmail)
	if err != nil {
		problems = append(problems, "from email: "+strings.TrimPrefix(err.Error(), ErrInvalidMessage.Error()+": "))
	} else if checkHeaderValue("From", c.FromName) != nil {
		problems = append(problems, "from name must not contain control characters")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("smtp config: %s", strings.Join(problems, "; "))
	}
	if c.DialContextFunc == nil {
		d := &net.Dialer{}
		c.DialContextFunc = d.DialContext
	}
	return &SMTPSender{
		cfg:    c,
		addr:   net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		from:   mail.Address{Name: c.FromName, Address: from.Address},
		domain: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		tlsConf: &tls.Config{
			ServerName:         c.Host,
			RootCAs:            c.RootCAs,
			InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // operator opt-in for development servers
			MinVersion:         tls.VersionTLS12,
		},
		nowFunc: time.Now,
	}, nil
}

// Send delivers m to all its recipients in one SMTP transaction. Errors wrap
// ErrInvalidMessage, ErrTLSRequired, ErrNoAuthMechanism, the server's
// *textproto.Error reply, a network error or ctx's error; IsPermanent tells
// them apart. Errors never contain the message body.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	env, err := buildMessage(s.from, m, s.nowFunc(), "<"+crypto.RandomHex(16)+"@"+s.domain+">")
	if err != nil {
		return err
	}
	return s.session(ctx, func(c *smtp.Client) error {
		if err := c.Mail(env.from); err != nil {
			return fmt.Errorf("mail from: %w", err)
		}
		for _, rcpt := range env.to {
			if err := c.Rcpt(rcpt); err != nil {
				return fmt.Errorf("rcpt to <%s>: %w", rcpt, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		if _, err := w.Write(env.data); err != nil {
			return fmt.Errorf("write data: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("end data: %w", err)
		}
		return nil
	})
}

// Check connects, negotiates TLS, authenticates and quits without sending,
// to test the settings (at startup or from an org's "test SMTP" action).
func (s *SMTPSender) Check(ctx context.Context) error {
	return s.session(ctx, func(c *smtp.Client) error {
		if err := c.Noop(); err != nil {
			return fmt.Errorf("noop: %w", err)
		}
		return nil
	})
}

// session opens a connection, negotiates TLS and AUTH, runs do and quits.
func (s *SMTPSender) session(ctx context.Context, do func(c *smtp.Client) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	defer func() {
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if err != nil {
			err = fmt.Errorf("smtp %s: %w", s.addr, err)
		}
	}()

	conn, err := s.cfg.DialContextFunc(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	raw := conn
	defer raw.Close()
	// net/smtp has no context support: unblock any pending read or write as
	// soon as ctx ends (deadline, Timeout or cancellation). ctx.Err() is then
	// set, so the error below reports it.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	secure := false
	if s.cfg.TLS == TLSImplicit {
		tlsConn := tls.Client(conn, s.tlsConf)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		conn, secure = tlsConn, true
	}

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return fmt.Errorf("hello: %w", err)
	}

	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConf); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			secure = true
		} else if s.cfg.Username != "" {
			return ErrTLSRequired
		}
	}

	if s.cfg.Username != "" {
		if !secure && !isLoopbackHost(s.cfg.Host) {
			return ErrTLSRequired
		}
		auth, err := s.chooseAuth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}

	if err := do(c); err != nil {
		return err
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

func (s *SMTPSender) chooseAuth(c *smtp.Client) (smtp.Auth, error) {
	ok, params := c.Extension("AUTH")
	if !ok {
		return nil, ErrNoAuthMechanism
	}
	mechs := strings.Fields(strings.ToUpper(params))
	switch {
	case slices.Contains(mechs, "PLAIN"):
		return &plainAuth{username: s.cfg.Username, password: s.cfg.Password}, nil
	case slices.Contains(mechs, "LOGIN"):
		return &loginAuth{username: s.cfg.Username, password: s.cfg.Password}, nil
	default:
		return nil, ErrNoAuthMechanism
	}
}

// IsPermanent reports whether retrying err cannot succeed: a 5xx SMTP reply
// (unknown recipient, rejected sender, authentication failed, message
// refused), an invalid message, or a server that cannot receive credentials
// safely. 4xx replies, network errors and timeouts are temporary. A nil error
// is not permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code >= 500 && reply.Code < 600
	}
	return errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrTLSRequired) || errors.Is(err, ErrNoAuthMechanism)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainAuth is SASL PLAIN (RFC 4616). Unlike net/smtp.PlainAuth it leaves the
// TLS decision to session, which also allows loopback hosts in mode "none".
type plainAuth struct {
	username, password string
}

func (a *plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge for AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the obsolete but widespread AUTH LOGIN, used only when the
// server does not offer PLAIN.
type loginAuth struct {
	username, password string
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch prompt := strings.ToLower(strings.TrimSpace(string(challenge))); {
	case strings.HasPrefix(prompt, "user"):
		return []byte(a.username), nil
	case strings.HasPrefix(prompt, "pass"):
		return []byte(a.password), nil
	default:
		return nil, errors.New("unexpected server challenge for AUTH LOGIN")
	}
}
