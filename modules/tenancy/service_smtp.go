package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/outbound"
)

// DefaultSMTPPort is the port of an organization's SMTP server when none
// is given (spec §4.3).
const DefaultSMTPPort = 587

// smtpTestTimeout bounds the test email of POST .../smtp/test.
const smtpTestTimeout = 15 * time.Second

// Limits of the SMTP fields.
const (
	maxSMTPUsername = 255
	maxSMTPPassword = 1024
	maxFromName     = 100
	maxEmailLength  = 254
	maxHostLength   = 253
)

// Settings holds the organization settings that reach outside AuthOS: the
// organization's own SMTP server (spec §4.3) and its custom domain (§4.4).
// It shares the Service's store, authorization and audit trail, and adds
// the outbound network access those settings need, always through the
// SSRF-safe outbound policy.
type Settings struct {
	svc       *Service
	net       *outboundNet
	templates *mail.Templates
	origins   *originCache
}

// newSettings builds the settings over svc.
func newSettings(svc *Service, cfg Config) (*Settings, error) {
	n, err := newOutboundNet(cfg)
	if err != nil {
		return nil, err
	}
	templates, err := mail.LoadTemplates()
	if err != nil {
		return nil, fmt.Errorf("tenancy: load mail templates: %w", err)
	}
	st := &Settings{svc: svc, net: n, templates: templates}
	st.origins = newOriginCache(originCacheTTL, svc.nowFunc, st.svc.store.VerifiedDomains, svc.logger)
	return st, nil
}

// Settings exposes the SMTP and custom domain settings (composition root,
// tests).
func (m *Module) Settings() *Settings { return m.settings }

// manage resolves the organization for a settings change: the caller needs
// a membership granting org.settings.manage, and active the organization to
// be active (spec §1.6).
func (st *Settings) manage(ctx context.Context, s *Store, slug string, a Actor, lock, active bool) (access, error) {
	ac, err := st.svc.resolve(ctx, s, slug, a, lock, false)
	if err != nil {
		return access{}, err
	}
	if !ac.can(CapOrgSettingsManage) {
		return access{}, ErrCannotManageSettings
	}
	if active {
		if err := requireActive(ac.org); err != nil {
			return access{}, err
		}
	}
	return ac, nil
}

// SMTPSettings are an organization's SMTP settings as shown to its
// administrators: never the password.
type SMTPSettings struct {
	Host       string
	Port       int
	Username   string
	FromEmail  string
	FromName   *string
	Configured bool
}

// SMTPUpdate is a complete set of SMTP settings to save. Port 0 means
// DefaultSMTPPort. Username and Password go together: both or neither.
type SMTPUpdate struct {
	Host      string
	Port      int
	Username  string
	Password  string
	FromEmail string
	FromName  *string
}

// SMTPTestResult is the outcome of a test email: the server's refusal or
// the network error when it failed, never a secret.
type SMTPTestResult struct {
	Success bool
	Message string
}

// smtpConfig is a validated, decrypted configuration, ready for a sender.
type smtpConfig struct {
	Host      string
	Port      int
	Username  string
	Password  string
	FromEmail string
	FromName  string
}

// smtpPasswordAD binds an SMTP password's ciphertext to its organization:
// it cannot be copied to another organization's row.
func smtpPasswordAD(orgID uuid.UUID) string { return "tenancy.smtp_password:" + orgID.String() }

// GetSMTP returns an organization's SMTP settings to a member holding
// org.settings.manage; unset settings answer Configured false and the
// default port.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings.
func (st *Settings) GetSMTP(ctx context.Context, a Actor, slug string) (SMTPSettings, error) {
	ac, err := st.manage(ctx, st.svc.store, slug, a, false, false)
	if err != nil {
		return SMTPSettings{}, err
	}
	row, err := st.svc.store.OrgSMTPGet(ctx, ac.org.ID)
	if err != nil {
		return SMTPSettings{}, err
	}
	out := SMTPSettings{Port: DefaultSMTPPort, FromName: row.FromName, Configured: row.Host != nil}
	if row.Host != nil {
		out.Host = *row.Host
	}
	if row.Port != nil {
		out.Port = *row.Port
	}
	if row.Username != nil {
		out.Username = *row.Username
	}
	if row.FromEmail != nil {
		out.FromEmail = *row.FromEmail
	}
	return out, nil
}

// SaveSMTP overwrites an organization's SMTP settings (spec §4.3): its
// emails are sent through that server from then on. The caller needs
// org.settings.manage in an active organization. The password is
// encrypted with the key ring, bound to the organization, and never shown
// again; a host that is an IP address the outbound policy refuses is
// rejected here, a name resolving to one when an email is sent.
// organization.smtp.configured is recorded in the same transaction.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError, ValidationErrors, ErrEncryptionUnavailable.
func (st *Settings) SaveSMTP(ctx context.Context, a Actor, slug string, in SMTPUpdate) error {
	return db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		ac, err := st.manage(ctx, s, slug, a, true, true)
		if err != nil {
			return err
		}
		cfg, err := normalizeSMTP(in, st.net.policy)
		if err != nil {
			return err
		}
		if _, err := st.net.smtpSender(cfg, smtpTestTimeout); err != nil {
			return &ValidationError{Field: "body", Message: "Invalid SMTP settings: " + strings.TrimPrefix(err.Error(), "smtp config: ")}
		}
		row := smtpRow{Host: &cfg.Host, Port: &cfg.Port, FromEmail: &cfg.FromEmail}
		details := map[string]any{"host": cfg.Host, "port": cfg.Port, "from_email": cfg.FromEmail}
		if cfg.FromName != "" {
			row.FromName = &cfg.FromName
			details["from_name"] = cfg.FromName
		}
		if cfg.Username != "" {
			if st.svc.ring == nil {
				return ErrEncryptionUnavailable
			}
			ct, keyID, err := st.svc.ring.EncryptString(cfg.Password, smtpPasswordAD(ac.org.ID))
			if err != nil {
				return fmt.Errorf("encrypt smtp password: %w", err)
			}
			row.Username, row.PasswordEncrypted, row.KeyID = &cfg.Username, ct, &keyID
			details["username"] = cfg.Username
		}
		if err := s.OrgSetSMTP(ctx, ac.org.ID, row, st.svc.now()); err != nil {
			return err
		}
		return st.svc.record(ctx, tx, orgEvent("organization.smtp.configured", ac.org, a, ac.actorType(), "organization",
			ac.org.ID.String(), details))
	})
}

// DeleteSMTP removes an organization's SMTP settings: its emails go
// through the platform's SMTP server again. The caller needs
// org.settings.manage in an active organization. Removing absent settings
// changes and records nothing; otherwise organization.smtp.removed is
// recorded in the same transaction.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError.
func (st *Settings) DeleteSMTP(ctx context.Context, a Actor, slug string) error {
	return db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		ac, err := st.manage(ctx, s, slug, a, true, true)
		if err != nil {
			return err
		}
		row, err := s.OrgSMTPGet(ctx, ac.org.ID)
		if err != nil || row.Host == nil {
			return err
		}
		if err := s.OrgSetSMTP(ctx, ac.org.ID, smtpRow{}, st.svc.now()); err != nil {
			return err
		}
		return st.svc.record(ctx, tx, orgEvent("organization.smtp.removed", ac.org, a, ac.actorType(), "organization",
			ac.org.ID.String(), map[string]any{"host": *row.Host}))
	})
}

// TestSMTP sends the test_message email through the organization's saved
// SMTP settings to to (the caller's address when empty) and reports what
// happened: a refused or failed delivery is a result, not an error. The
// caller needs org.settings.manage in an active organization.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError, *ValidationError (to), ErrSMTPNotConfigured,
// *TargetRefusedError (the host resolves to an address the outbound policy
// refuses), ErrEncryptionUnavailable.
func (st *Settings) TestSMTP(ctx context.Context, a Actor, slug, to string) (SMTPTestResult, error) {
	ac, err := st.manage(ctx, st.svc.store, slug, a, false, true)
	if err != nil {
		return SMTPTestResult{}, err
	}
	to = strings.TrimSpace(to)
	if to == "" {
		to = a.Email
	}
	if to == "" {
		return SMTPTestResult{}, &ValidationError{Field: "body.to", Message: "Recipient is required"}
	}
	if !validEmail(to) {
		return SMTPTestResult{}, &ValidationError{Field: "body.to", Message: "Invalid email format"}
	}
	cfg, ok, err := st.loadSMTP(ctx, ac.org.ID)
	if err != nil {
		return SMTPTestResult{}, err
	}
	if !ok {
		return SMTPTestResult{}, ErrSMTPNotConfigured
	}
	checkCtx, cancel := context.WithTimeout(ctx, domainCheckTimeout)
	err = st.net.checkHost(checkCtx, cfg.Host)
	cancel()
	var refused *TargetRefusedError
	switch {
	case errors.As(err, &refused):
		return SMTPTestResult{}, err
	case err != nil:
		return SMTPTestResult{Message: lookupProblem(cfg.Host, err)}, nil
	}
	sender, err := st.net.smtpSender(cfg, smtpTestTimeout)
	if err != nil {
		return SMTPTestResult{Message: "Invalid SMTP settings: " + strings.TrimPrefix(err.Error(), "smtp config: ")}, nil
	}
	msg, err := st.templates.Compose(mail.TemplateTestMessage,
		mail.TestMessageData{Branding: orgMailBranding(ac.org), OrgName: ac.org.Name}, to)
	if err != nil {
		return SMTPTestResult{}, fmt.Errorf("compose test email: %w", err)
	}
	if err := sender.Send(ctx, msg); err != nil {
		var dnsErr *net.DNSError
		switch {
		case errors.Is(err, outbound.ErrForbiddenAddress):
			return SMTPTestResult{}, &TargetRefusedError{Host: cfg.Host}
		case errors.As(err, &dnsErr):
			return SMTPTestResult{Message: lookupProblem(cfg.Host, err)}, nil
		}
		return SMTPTestResult{Message: redact(err.Error(), cfg.Password)}, nil
	}
	return SMTPTestResult{Success: true, Message: "Test email sent to " + to}, nil
}

// lookupProblem says that host could not be resolved, without the
// resolver's own address.
func lookupProblem(host string, err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "SMTP host " + host + " does not exist"
	}
	return "SMTP host " + host + " could not be resolved"
}

// redact removes a secret from a message.
func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[redacted]")
}

// orgMailBranding is the organization's look in the emails sent for it.
func orgMailBranding(o Organization) mail.Branding {
	b := mail.Branding{AppName: "AuthOS"}
	if o.BrandColor != nil {
		b.BrandColor = *o.BrandColor
	}
	if o.BrandLogoURL != nil {
		b.LogoURL = *o.BrandLogoURL
	}
	return b
}

// loadSMTP returns an organization's decrypted SMTP settings; ok is false
// when it has none.
func (st *Settings) loadSMTP(ctx context.Context, orgID uuid.UUID) (cfg smtpConfig, ok bool, err error) {
	row, err := st.svc.store.OrgSMTPGet(ctx, orgID)
	if err != nil || row.Host == nil || row.Port == nil || row.FromEmail == nil {
		return smtpConfig{}, false, err
	}
	cfg = smtpConfig{Host: *row.Host, Port: *row.Port, FromEmail: *row.FromEmail}
	if row.FromName != nil {
		cfg.FromName = *row.FromName
	}
	if row.Username != nil {
		cfg.Username = *row.Username
	}
	if row.PasswordEncrypted != nil && row.KeyID != nil {
		if st.svc.ring == nil {
			return smtpConfig{}, false, ErrEncryptionUnavailable
		}
		cfg.Password, err = st.svc.ring.DecryptString(row.PasswordEncrypted, *row.KeyID, smtpPasswordAD(orgID))
		if err != nil {
			return smtpConfig{}, false, fmt.Errorf("decrypt smtp password of %s: %w", orgID, err)
		}
	}
	return cfg, true, nil
}

// SMTPSenders returns the email worker's sender resolver (jobs.EmailWorker):
// an email for an organization with its own SMTP settings goes through
// them, dialing through the outbound policy; any other email, and one for
// an organization that no longer exists, goes through platform. The
// settings are read and decrypted for every email, so a change applies to
// the next one. platform may be nil (no platform SMTP server): emails that
// need it then fail with jobs.ErrNoSender.
func (m *Module) SMTPSenders(platform mail.Sender) jobs.SenderResolver {
	return smtpSenders{settings: m.settings, platform: platform}
}

// smtpSenders implements jobs.SenderResolver over the organizations' SMTP
// settings.
type smtpSenders struct {
	settings *Settings
	platform mail.Sender
}

// SenderFor implements jobs.SenderResolver.
func (r smtpSenders) SenderFor(ctx context.Context, orgID *uuid.UUID) (mail.Sender, error) {
	if orgID != nil {
		cfg, ok, err := r.settings.loadSMTP(ctx, *orgID)
		switch {
		case errors.Is(err, ErrOrgNotFound):
		case err != nil:
			return nil, fmt.Errorf("load smtp settings: %w", err)
		case ok:
			sender, err := r.settings.net.smtpSender(cfg, mail.DefaultTimeout)
			if err != nil {
				return nil, fmt.Errorf("smtp settings of %s: %w", *orgID, err)
			}
			return sender, nil
		}
	}
	if r.platform == nil {
		return nil, jobs.ErrNoSender
	}
	return r.platform, nil
}

// normalizeSMTP validates settings to save, reporting every problem, and
// returns them trimmed with the default port applied.
func normalizeSMTP(in SMTPUpdate, policy outbound.Policy) (smtpConfig, error) {
	var errs ValidationErrors
	field := func(name, msg string) { errs.add(&ValidationError{Field: "body." + name, Message: msg}) }

	host := strings.ToLower(strings.TrimSpace(in.Host))
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if msg := smtpHostProblem(host, policy); msg != "" {
		field("host", msg)
	}
	port := in.Port
	if port == 0 {
		port = DefaultSMTPPort
	}
	if port < 1 || port > 65535 {
		field("port", "Port must be between 1 and 65535")
	}
	username := strings.TrimSpace(in.Username)
	switch {
	case utf8.RuneCountInString(username) > maxSMTPUsername:
		field("username", fmt.Sprintf("Username must be at most %d characters", maxSMTPUsername))
	case strings.ContainsFunc(username, unicode.IsControl):
		field("username", "Username must not contain control characters")
	}
	switch {
	case username != "" && in.Password == "":
		field("password", "Password is required with a username")
	case username == "" && in.Password != "":
		field("username", "Username is required with a password")
	case len(in.Password) > maxSMTPPassword:
		field("password", fmt.Sprintf("Password must be at most %d bytes", maxSMTPPassword))
	case strings.ContainsAny(in.Password, "\x00\r\n"):
		field("password", "Password must not contain NUL or line breaks")
	}
	from := strings.TrimSpace(in.FromEmail)
	if !validEmail(from) {
		field("from_email", "Invalid email format")
	}
	var fromName string
	if in.FromName != nil {
		fromName = strings.TrimSpace(*in.FromName)
		switch {
		case utf8.RuneCountInString(fromName) > maxFromName:
			field("from_name", fmt.Sprintf("From name must be at most %d characters", maxFromName))
		case strings.ContainsFunc(fromName, unicode.IsControl):
			field("from_name", "From name must not contain control characters")
		}
	}
	if err := errs.orNil(); err != nil {
		return smtpConfig{}, err
	}
	return smtpConfig{Host: host, Port: port, Username: username, Password: in.Password, FromEmail: from, FromName: fromName}, nil
}

// smtpHostProblem says what is wrong with an SMTP host, or "" when
// nothing is: it must be a host name or an IP address, without scheme,
// port or path, and an IP address must be one the outbound policy allows.
func smtpHostProblem(host string, policy outbound.Policy) string {
	switch {
	case host == "":
		return "Host is required"
	case strings.Contains(host, "://"):
		return "Host must be a host name or IP address, without a scheme"
	case strings.ContainsAny(host, "/?#@\\") || strings.ContainsFunc(host, unicode.IsSpace):
		return "Host must be a host name or IP address, without a path"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := policy.CheckAddr(ip); err != nil {
			return "Host " + strings.TrimSuffix(err.Error(), ": "+outbound.ErrForbiddenAddress.Error()) + ", which is not allowed"
		}
		return ""
	}
	if strings.Contains(host, ":") {
		return "Host must not include a port; use the port field"
	}
	if !validHostName(host) {
		return "Host must be a valid host name or IP address"
	}
	if !policy.AllowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return "Host localhost is not allowed"
	}
	return ""
}

// validHostName reports whether h is a lowercase DNS host name: dot
// separated labels of 1 to 63 letters, digits and hyphens, not starting or
// ending with a hyphen, at most 253 characters in all.
func validHostName(h string) bool {
	if h == "" || len(h) > maxHostLength {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// validEmail reports whether e is a bare email address (no display name)
// of at most 254 characters.
func validEmail(e string) bool {
	if len(e) < 3 || len(e) > maxEmailLength || strings.ContainsAny(e, " \t\r\n<>") {
		return false
	}
	a, err := netmail.ParseAddress(e)
	return err == nil && a.Address == e && strings.Count(e, "@") == 1 && !strings.HasPrefix(e, "@") && !strings.HasSuffix(e, "@")
}
