package identity

import (
	"time"

	"github.com/google/uuid"
)

// User is an account. Platform-level users have no OrgID; tenant users
// (end users of an organization's services) belong to exactly one org.
type User struct {
	ID              uuid.UUID
	OrgID           *uuid.UUID
	Email           string
	IsPlatformOwner bool
	PasswordHash    string // empty for OAuth-only accounts
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// HasPassword reports whether the account can log in with a password.
func (u User) HasPassword() bool { return u.PasswordHash != "" }

// Scope is the organization and service a login or registration targets.
// The zero Scope is the platform (dashboard) scope. An org-only scope is an
// organization's administrators (platform-level users with a membership);
// an org+service scope is that service's end users, who are tenant users of
// the organization.
type Scope struct {
	OrgID       *uuid.UUID
	OrgSlug     string
	ServiceID   *uuid.UUID
	ServiceSlug string
	// OrgStatus is the organization's lifecycle status (active, pending,
	// suspended, rejected); only active organizations authenticate.
	OrgStatus string
	// MaxMAU caps monthly active end users (<= 0: unlimited); AllowOverage
	// logs instead of refusing past the cap.
	MaxMAU       int
	AllowOverage bool
	// RedirectAllowedFunc reports whether a redirect URI exactly matches
	// one the service registered.
	RedirectAllowedFunc func(uri string) bool
	// Presentation for /api/auth/context and the hosted pages.
	OrgName, LogoURL, PrimaryColor string
	ServiceName, ServiceType       string
	AllowedProviders               []string
	// OwnOAuthProviders are the providers the organization brought its
	// own OAuth app for; its flows use that app instead of the platform's.
	OwnOAuthProviders []string
	// Service scopes only: the service's OAuth client id, its device
	// activation page ("" when none) and the scopes it asks each provider
	// for (empty: the provider's defaults).
	ClientID            string
	DeviceActivationURI string
	ProviderScopes      map[string][]string
}

// IsPlatform reports whether s is the platform scope.
func (s Scope) IsPlatform() bool { return s.OrgID == nil }

// UserOrgID is the org whose users a login in this scope looks up: the
// organization for service scopes (end users), none for the platform and
// org-only scopes (platform-level users).
func (s Scope) UserOrgID() *uuid.UUID {
	if s.ServiceID != nil {
		return s.OrgID
	}
	return nil
}

// Session is one login: the live row behind every access token.
type Session struct {
	ID               uuid.UUID
	UserID           uuid.UUID
	OrgID            *uuid.UUID
	ServiceID        *uuid.UUID
	OrgSlug          string
	ServiceSlug      string
	Audience         string
	AuthMethod       string
	AccessJTI        string
	TokenHash        string
	AccessExpiresAt  time.Time
	RefreshExpiresAt *time.Time
	IP               string
	UserAgent        string
	CreatedAt        time.Time
	RevokedAt        *time.Time
}

// Tokens are what a successful login or refresh returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
	SessionID    uuid.UUID
}

// RequestMeta is what the HTTP layer knows about the caller.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// MFAStatus is a user's second-factor state (spec §3.1, §14.1).
type MFAStatus struct {
	Enabled        bool
	HasBackupCodes bool       // unused backup codes remain
	EnabledAt      *time.Time // nil unless enabled
}

// MFASetup is a new, not yet enabled TOTP secret, shown once.
type MFASetup struct {
	Secret    string // base32, for manual entry
	QRCodeSVG string // the provisioning URI as an SVG QR code
	QRCodeURI string // otpauth://totp/AuthOS:<email>?...
}

// PlatformActor is the caller of a platform-owner operation. The service
// checks IsPlatformOwner itself (spec §14).
type PlatformActor struct {
	UserID          uuid.UUID
	Email           string
	IsPlatformOwner bool
}
