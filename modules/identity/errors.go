package identity

import (
	"errors"
	"time"
)

// Sentinel errors. The HTTP layer maps them to statuses and the reference's
// messages; they never reveal whether an account exists.
var (
	ErrInvalidCredentials   = errors.New("invalid email or password")
	ErrEmailNotVerified     = errors.New("email not verified")
	ErrPasswordLoginBlocked = errors.New("password login not available for this account")
	ErrAccountLocked        = errors.New("account temporarily locked")
	ErrUserNotFound         = errors.New("user not found")
	ErrEmailTaken           = errors.New("email already in use")
	ErrInvalidToken         = errors.New("invalid token")
	ErrTokenUsed            = errors.New("token already used")
	ErrTokenExpired         = errors.New("token expired")
	ErrInvalidRefreshToken  = errors.New("invalid refresh token")
	ErrRefreshTokenExpired  = errors.New("refresh token expired")
	ErrRefreshTokenReused   = errors.New("refresh token reused")
	ErrSessionRevoked       = errors.New("session revoked or expired")
	ErrWrongPassword        = errors.New("current password is incorrect")
	ErrNoPassword           = errors.New("account has no password")
	ErrPasswordAlreadySet   = errors.New("password already set")
	ErrScopeNotFound        = errors.New("organization or service not found")
	ErrScopeInvalid         = errors.New("service requires an organization")
	ErrEmailDisabled        = errors.New("email delivery is not configured")
	ErrNotMember            = errors.New("not a member of this organization")
	ErrNoServiceAccess      = errors.New("no access to this service")
	ErrServiceRequired      = errors.New("registration to an organization needs a service")
	ErrRedirectNotAllowed   = errors.New("redirect uri not registered")
	ErrMAULimit             = errors.New("monthly active user limit reached")
)

// OrgNotActiveError refuses authentication in an organization that is not
// active (spec §1.6).
type OrgNotActiveError struct{ Status string }

func (e *OrgNotActiveError) Error() string { return "organization is not active: " + e.Status }

// MFA errors (spec §3). The login step-up maps ErrInvalidMFACode,
// ErrMFALocked and ErrMFANotEnabled too.
var (
	// ErrMFANotSetUp: enabling MFA before setup created a secret.
	ErrMFANotSetUp = errors.New("mfa not set up")
	// ErrMFAAlreadyEnabled: setup or enable while MFA is enabled.
	ErrMFAAlreadyEnabled = errors.New("mfa already enabled")
	// ErrMFANotEnabled: a second factor was asked of a user without MFA.
	ErrMFANotEnabled = errors.New("mfa not enabled")
	// ErrInvalidTOTPCode: the code that should enable MFA is wrong.
	ErrInvalidTOTPCode = errors.New("invalid totp code")
	// ErrInvalidMFACode: a second factor (TOTP or backup code) was refused:
	// wrong, already used, or a time step already accepted.
	ErrInvalidMFACode = errors.New("invalid mfa code")
	// ErrMFALocked: too many failed second factors; see MFALockedError.
	ErrMFALocked = errors.New("mfa verification temporarily locked")
	// ErrPlatformOwnerRequired: a platform-owner operation by anyone else.
	ErrPlatformOwnerRequired = errors.New("platform owner access required")
)

// MFALockedError is ErrMFALocked with the time left until the lock ends.
type MFALockedError struct{ RetryAfter time.Duration }

func (e *MFALockedError) Error() string { return ErrMFALocked.Error() }

// Is makes errors.Is(err, ErrMFALocked) true.
func (e *MFALockedError) Is(target error) bool { return target == ErrMFALocked }
