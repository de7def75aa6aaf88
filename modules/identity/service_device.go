package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
)

// Device authorization (RFC 8628, spec §2.2).
const (
	deviceCodeLifetime = 15 * time.Minute
	devicePollInterval = 5 // seconds
	// userCodeAlphabet has no 0/O, 1/I: codes are read and typed by people.
	userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	// Platform CLI (spec §2.2): the platform's own device client.
	platformCLIOrg     = "platform"
	platformCLIService = "admin-cli"
	platformCLIClient  = "platform-admin-cli"
)

// Device flow errors; the HTTP layer adds the RFC 8628 codes.
var (
	ErrInvalidClientCredentials = errors.New("invalid client credentials")
	ErrDeviceActivationMissing  = errors.New("device activation uri not configured for this service")
	ErrInvalidDeviceInput       = errors.New("invalid device request")
	ErrInvalidUserCodeFormat    = errors.New("invalid user code format")
	ErrInvalidUserCode          = errors.New("invalid user code")
	ErrDeviceCodeExpired        = errors.New("device code expired")
	ErrDeviceAlreadyAuthorized  = errors.New("device already authorized")
	ErrInvalidGrantType         = errors.New("invalid grant type")
	ErrInvalidDeviceCode        = errors.New("invalid device code")
	ErrDevicePending            = errors.New("authorization pending")
	ErrDeviceSlowDown           = errors.New("polling too fast")
	ErrDeviceDenied             = errors.New("device authorization denied")
	ErrInvalidClient            = errors.New("invalid client")
)

// DeviceGrantType is the RFC 8628 grant type of POST /auth/token.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

var deviceIdentPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func isPlatformCLI(org, service string) bool {
	return org == platformCLIOrg && service == platformCLIService
}

// DeviceAuthorization is the answer to POST /auth/device/code.
type DeviceAuthorization struct {
	DeviceCode              string
	UserCode                string // XXXX-XXXX
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               int
	Interval                int
}

// deviceCode is a stored device authorization.
type deviceCode struct {
	ID          uuid.UUID
	UserCode    string
	ClientID    string
	OrgID       *uuid.UUID
	ServiceID   *uuid.UUID
	OrgSlug     string
	ServiceSlug string
	Status      string
	UserID      *uuid.UUID
	Interval    int
	LastPolled  *time.Time
	ExpiresAt   time.Time
}

// platform reports whether the code belongs to the platform CLI.
func (d deviceCode) platform() bool { return d.OrgID == nil }

// matches reports whether a login in scope may approve the code.
func (d deviceCode) matches(scope Scope) bool {
	if d.platform() {
		return scope.IsPlatform()
	}
	return scope.OrgID != nil && *scope.OrgID == *d.OrgID && scope.ServiceID != nil && d.ServiceID != nil && *scope.ServiceID == *d.ServiceID
}

// FormatUserCode shows a stored code as XXXX-XXXX.
func FormatUserCode(c string) string {
	if len(c) != 8 {
		return c
	}
	return c[:4] + "-" + c[4:]
}

// normalizeUserCode accepts the code as typed: case-insensitive, with or
// without the dash and surrounding spaces.
func normalizeUserCode(raw string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(raw))
	c = strings.ReplaceAll(c, "-", "")
	if len(c) != 8 {
		return "", ErrInvalidUserCodeFormat
	}
	for _, r := range c {
		if !strings.ContainsRune(userCodeAlphabet, r) {
			return "", ErrInvalidUserCodeFormat
		}
	}
	return c, nil
}

func newUserCode() string {
	b := make([]byte, 8)
	out := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		// 256 is a multiple of 32: no modulo bias.
		out[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(out)
}

// StartDeviceAuthorization issues a device code for a service (or the
// platform CLI). The service must be the client's and have a device
// activation page, which becomes the verification URI.
func (s *Service) StartDeviceAuthorization(ctx context.Context, clientID, orgSlug, serviceSlug string) (DeviceAuthorization, error) {
	if clientID == "" || len(clientID) > 500 || orgSlug == "" || serviceSlug == "" || len(orgSlug) > 100 || len(serviceSlug) > 100 ||
		!deviceIdentPattern.MatchString(orgSlug) || !deviceIdentPattern.MatchString(serviceSlug) || !deviceIdentPattern.MatchString(clientID) {
		return DeviceAuthorization{}, ErrInvalidDeviceInput
	}
	var scope Scope
	verification := strings.TrimRight(s.cfg.DashboardBaseURL, "/") + "/activate"
	if isPlatformCLI(orgSlug, serviceSlug) {
		if clientID != platformCLIClient {
			return DeviceAuthorization{}, ErrInvalidClientCredentials
		}
	} else {
		sc, err := s.resolveScope(ctx, orgSlug, serviceSlug, "")
		if err != nil {
			return DeviceAuthorization{}, err
		}
		if sc.ServiceID == nil || !crypto.Equal(sc.ClientID, clientID) {
			return DeviceAuthorization{}, ErrInvalidClientCredentials
		}
		if sc.DeviceActivationURI == "" {
			return DeviceAuthorization{}, ErrDeviceActivationMissing
		}
		scope, verification = sc, sc.DeviceActivationURI
	}
	now := s.nowFunc()
	raw := crypto.RandomToken(32)
	for range 5 {
		code := newUserCode()
		_, err := s.pool.Exec(ctx, `
			INSERT INTO device_codes (id, device_code_hash, user_code, client_id, org_id, service_id, org_slug, service_slug,
				interval_seconds, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			newID(), crypto.HashToken(raw), code, clientID, scope.OrgID, scope.ServiceID, orgSlug, serviceSlug,
			devicePollInterval, now, now.Add(deviceCodeLifetime))
		err = db.MapError(err)
		if errors.Is(err, db.ErrUnique) {
			continue // a live code already uses this user code
		}
		if err != nil {
			return DeviceAuthorization{}, err
		}
		sep := "?"
		if strings.Contains(verification, "?") {
			sep = "&"
		}
		return DeviceAuthorization{
			DeviceCode: raw, UserCode: FormatUserCode(code), VerificationURI: verification,
			VerificationURIComplete: verification + sep + "user_code=" + FormatUserCode(code),
			ExpiresIn:               int(deviceCodeLifetime / time.Second), Interval: devicePollInterval,
		}, nil
	}
	return DeviceAuthorization{}, errors.New("device code: no free user code")
}

func scanDeviceCode(row pgx.Row) (deviceCode, error) {
	var d deviceCode
	err := row.Scan(&d.ID, &d.UserCode, &d.ClientID, &d.OrgID, &d.ServiceID, &d.OrgSlug, &d.ServiceSlug, &d.Status, &d.UserID,
		&d.Interval, &d.LastPolled, &d.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return deviceCode{}, ErrInvalidUserCode
	}
	return d, db.MapError(err)
}

const deviceCols = `id, user_code, client_id, org_id, service_id, org_slug, service_slug, status, user_id, interval_seconds, last_polled_at, expires_at`

// pendingDeviceCode returns the live, pending code a user typed.
func (s *Service) pendingDeviceCode(ctx context.Context, raw string) (deviceCode, error) {
	code, err := normalizeUserCode(raw)
	if err != nil {
		return deviceCode{}, err
	}
	d, err := scanDeviceCode(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_codes
		WHERE user_code = $1 AND status IN ('pending', 'authorized')`, code))
	if err != nil {
		return deviceCode{}, err
	}
	switch {
	case !s.nowFunc().Before(d.ExpiresAt):
		return deviceCode{}, ErrDeviceCodeExpired
	case d.Status != "pending":
		return deviceCode{}, ErrDeviceAlreadyAuthorized
	}
	return d, nil
}

// DeviceVerification is what the activation page learns from a user code.
type DeviceVerification struct {
	UserCode           string // XXXX-XXXX
	OrgSlug            string
	ServiceSlug        string
	OrgName            string
	ServiceName        string
	LogoURL            string
	PrimaryColor       string
	AvailableProviders []string
	Platform           bool
}

// VerifyUserCode checks a user code typed on the activation page.
func (s *Service) VerifyUserCode(ctx context.Context, raw string) (DeviceVerification, error) {
	d, err := s.pendingDeviceCode(ctx, raw)
	if err != nil {
		return DeviceVerification{}, err
	}
	scope, err := s.deviceScope(ctx, d)
	if err != nil {
		return DeviceVerification{}, err
	}
	return DeviceVerification{
		UserCode: FormatUserCode(d.UserCode), OrgSlug: d.OrgSlug, ServiceSlug: d.ServiceSlug, Platform: d.platform(),
		OrgName: scope.OrgName, ServiceName: scope.ServiceName, LogoURL: scope.LogoURL, PrimaryColor: scope.PrimaryColor,
		AvailableProviders: s.AvailableProviders(scope),
	}, nil
}

// deviceScope re-resolves a code's scope (the organization may have been
// suspended since).
func (s *Service) deviceScope(ctx context.Context, d deviceCode) (Scope, error) {
	if d.platform() {
		return Scope{}, nil
	}
	sc, err := s.resolveScope(ctx, d.OrgSlug, d.ServiceSlug, "")
	if err != nil {
		return Scope{}, err
	}
	if sc.ServiceID == nil || d.ServiceID == nil || *sc.ServiceID != *d.ServiceID {
		return Scope{}, ErrScopeNotFound
	}
	return sc, nil
}

// DevicePasswordLogin approves a user code with a password login on the
// activation page. It returns a pending MFA step when the user has MFA.
func (s *Service) DevicePasswordLogin(ctx context.Context, userCode, email, password string, meta RequestMeta) (*PendingMFA, error) {
	d, err := s.pendingDeviceCode(ctx, userCode)
	if err != nil {
		return nil, err
	}
	scope, err := s.deviceScope(ctx, d)
	if err != nil {
		return nil, err
	}
	u, err := s.passwordPrimary(ctx, scope, email, password, meta)
	if err != nil {
		return nil, err
	}
	return s.approveDevice(ctx, d.UserCode, u, scope, "password", meta)
}

// approveDevice finishes a primary login made to approve a device code:
// the scope's access rules apply, then MFA (a pending step is returned),
// then the code is authorized for the user.
func (s *Service) approveDevice(ctx context.Context, userCode string, u User, scope Scope, method string, meta RequestMeta) (*PendingMFA, error) {
	d, err := s.pendingDeviceCode(ctx, userCode)
	if err != nil {
		return nil, err
	}
	if !d.matches(scope) {
		return nil, ErrInvalidUserCode
	}
	res, err := s.afterPrimary(ctx, u, scope, method, meta, primaryContext{DeviceCodeID: d.ID.String()})
	if err != nil {
		return nil, err
	}
	if res.MFARequired {
		return &PendingMFA{PreauthToken: res.Tokens.AccessToken, UserCode: FormatUserCode(d.UserCode)}, nil
	}
	return nil, s.authorizeDevice(ctx, d.ID, u.ID)
}

// authorizeDevice marks a pending code authorized for a user.
func (s *Service) authorizeDevice(ctx context.Context, id, userID uuid.UUID) error {
	now := s.nowFunc()
	tag, err := s.pool.Exec(ctx, `UPDATE device_codes SET status = 'authorized', user_id = $2, authorized_at = $3
		WHERE id = $1 AND status = 'pending' AND expires_at > $3`, id, userID, now)
	if err != nil {
		return db.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrDeviceAlreadyAuthorized
	}
	return nil
}

// DeviceToken is the device's poll (POST /auth/token). Polling faster than
// the interval answers ErrDeviceSlowDown and widens the interval by 5 s
// (RFC 8628 §3.5); an authorized code is consumed once and yields a
// session whose refresh token stays on the server (spec §2.2).
func (s *Service) DeviceToken(ctx context.Context, grantType, clientID, rawDeviceCode string, meta RequestMeta) (Tokens, error) {
	if grantType != DeviceGrantType {
		return Tokens{}, ErrInvalidGrantType
	}
	if rawDeviceCode == "" || len(rawDeviceCode) > 200 {
		return Tokens{}, ErrInvalidDeviceCode
	}
	if clientID == "" || len(clientID) > 500 {
		return Tokens{}, ErrInvalidClient
	}
	now := s.nowFunc()
	var d deviceCode
	var userID uuid.UUID
	var outcome error // pending or slow down: the poll's bookkeeping commits
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		d, err = scanDeviceCode(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_codes WHERE device_code_hash = $1 FOR UPDATE`,
			crypto.HashToken(rawDeviceCode)))
		if errors.Is(err, ErrInvalidUserCode) {
			return ErrInvalidDeviceCode
		}
		if err != nil {
			return err
		}
		if !crypto.Equal(d.ClientID, clientID) {
			return ErrInvalidClient
		}
		switch {
		case d.Status == "consumed":
			return ErrInvalidDeviceCode
		case !now.Before(d.ExpiresAt):
			return ErrDeviceCodeExpired
		case d.Status == "denied":
			return ErrDeviceDenied
		}
		if d.LastPolled != nil && now.Sub(*d.LastPolled) < time.Duration(d.Interval)*time.Second {
			_, err := tx.Exec(ctx, `UPDATE device_codes SET interval_seconds = interval_seconds + 5, last_polled_at = $2 WHERE id = $1`, d.ID, now)
			if err != nil {
				return db.MapError(err)
			}
			outcome = ErrDeviceSlowDown
			return nil
		}
		if d.Status == "pending" {
			if _, err := tx.Exec(ctx, `UPDATE device_codes SET last_polled_at = $2 WHERE id = $1`, d.ID, now); err != nil {
				return db.MapError(err)
			}
			outcome = ErrDevicePending
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE device_codes SET status = 'consumed', last_polled_at = $2 WHERE id = $1`, d.ID, now); err != nil {
			return db.MapError(err)
		}
		userID = *d.UserID
		return nil
	})
	if err != nil {
		return Tokens{}, err
	}
	if outcome != nil {
		return Tokens{}, outcome
	}
	scope, err := s.deviceScope(ctx, d)
	if err != nil {
		return Tokens{}, err
	}
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return Tokens{}, err
	}
	toks, err := s.issueSession(ctx, u, scope, "device_code", meta)
	if err != nil {
		return Tokens{}, err
	}
	toks.RefreshToken = ""
	return toks, nil
}

// PurgeExpiredFlows deletes expired device codes and OAuth states (periodic
// cleanup).
func (s *Service) PurgeExpiredFlows(ctx context.Context) (int64, error) {
	now := s.nowFunc()
	a, err := s.pool.Exec(ctx, `DELETE FROM device_codes WHERE expires_at < $1`, now.Add(-time.Hour))
	if err != nil {
		return 0, db.MapError(err)
	}
	b, err := s.pool.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at < $1`, now)
	if err != nil {
		return 0, db.MapError(err)
	}
	return a.RowsAffected() + b.RowsAffected(), nil
}
