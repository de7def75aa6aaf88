package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/platform/httpapi"
)

func invalidField(location, message string) error {
	return httpapi.NewError(http.StatusUnprocessableEntity, httpapi.CodeValidationError, "Validation failed").
		WithDetails(&huma.ErrorDetail{Location: location, Message: message})
}

// newPasswordError is toHTTPError for endpoints whose password field is
// new_password.
func newPasswordError(err error) error {
	if isPasswordPolicyErr(err) {
		return invalidField("body.new_password", err.Error())
	}
	return toHTTPError(err)
}

// toHTTPError maps the module's errors to the reference's statuses and
// messages. Unknown errors pass through (and become a logged 500).
func toHTTPError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalidEmail):
		return invalidField("body.email", "Invalid email format")
	case errors.Is(err, password.ErrTooShort), errors.Is(err, password.ErrTooLong), errors.Is(err, password.ErrTooCommon):
		return invalidField("body.password", err.Error())
	case errors.Is(err, ErrInvalidCredentials):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid email or password")
	case errors.Is(err, ErrEmailNotVerified):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Please verify your email address before logging in")
	case errors.Is(err, ErrPasswordLoginBlocked):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Password login not available for this account. Please use OAuth login.")
	case errors.Is(err, ErrAccountLocked):
		return httpapi.NewError(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many failed login attempts. Please try again later.").
			WithHeader("Retry-After", "900")
	case errors.As(err, new(*OrgNotActiveError)):
		var e *OrgNotActiveError
		errors.As(err, &e)
		return httpapi.NewError(http.StatusForbidden, codeOrgNotActive, "Organization is not active. Current status: "+e.Status)
	case errors.Is(err, ErrNotMember):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "You are not a member of this organization")
	case errors.Is(err, ErrNoServiceAccess):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "You do not have access to this service")
	case errors.Is(err, ErrServiceRequired):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "service_slug is required to register to an organization")
	case errors.Is(err, ErrRedirectNotAllowed):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "redirect_uri is not registered for this service")
	case errors.Is(err, ErrMAULimit):
		var e *MAULimitError
		msg := "Monthly active user limit reached. Please upgrade your plan to continue."
		if errors.As(err, &e) {
			msg = fmt.Sprintf("Monthly active user limit reached (%d/%d). Please upgrade your plan to continue.", e.Current, e.Max)
		}
		return httpapi.NewError(http.StatusBadRequest, codeServiceLimit, msg)
	case errors.Is(err, ErrScopeNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "Organization or service not found")
	case errors.Is(err, ErrScopeInvalid):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "service_slug requires org_slug")
	case errors.Is(err, ErrEmailDisabled):
		return httpapi.NewError(http.StatusServiceUnavailable, httpapi.CodeServiceUnavailable, "Email delivery is not configured").WithCause(err)
	case errors.Is(err, ErrLimiterUnavailable):
		return httpapi.NewError(http.StatusServiceUnavailable, httpapi.CodeServiceUnavailable, "Rate limiter unavailable").WithCause(err)
	case errors.Is(err, ErrInvalidRefreshToken), errors.Is(err, ErrRefreshTokenReused):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid refresh token")
	case errors.Is(err, ErrRefreshTokenExpired):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Refresh token expired")
	case errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrUserNotFound):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid session")
	case errors.Is(err, ErrEmailTaken):
		return httpapi.NewError(http.StatusConflict, httpapi.CodeDuplicateConstraint, "Email already in use")
	case errors.Is(err, ErrNoPassword):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot change password for OAuth-only accounts. Please set a password first.")
	case errors.Is(err, ErrWrongPassword):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Current password is incorrect")
	case errors.Is(err, ErrPasswordAlreadySet):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Password is already set. Use the change password endpoint instead.")
	}
	return mfaError(err)
}

// mfaError maps the second-factor errors (spec §3.1, §2.1 MFA step-up);
// anything else passes through.
func mfaError(err error) error {
	var locked *MFALockedError
	switch {
	case errors.As(err, &locked):
		secs := int((locked.RetryAfter + time.Second - 1) / time.Second)
		return httpapi.NewError(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many failed MFA attempts. Please try again later.").
			WithHeader("Retry-After", strconv.Itoa(max(secs, 1)))
	case errors.Is(err, ErrMFALocked):
		return httpapi.NewError(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many failed MFA attempts. Please try again later.").
			WithHeader("Retry-After", strconv.Itoa(int(mfaLockDuration/time.Second)))
	case errors.Is(err, ErrInvalidMFACode):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid MFA code")
	case errors.Is(err, ErrMFANotSetUp):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "MFA not set up. Please call /api/user/mfa/setup first")
	case errors.Is(err, ErrMFAAlreadyEnabled):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is already enabled")
	case errors.Is(err, ErrInvalidTOTPCode):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid TOTP code")
	case errors.Is(err, ErrMFANotEnabled):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is not enabled")
	case errors.Is(err, ErrPlatformOwnerRequired):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Platform owner access required")
	}
	return err
}

// resetTokenError maps token errors of the reset endpoint.
func resetTokenError(err error) error {
	switch {
	case errors.Is(err, ErrInvalidToken):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid reset token")
	case errors.Is(err, ErrTokenUsed):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Reset token has already been used")
	case errors.Is(err, ErrTokenExpired):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Reset token has expired")
	}
	return newPasswordError(err)
}

// AuthOS error codes of the reference (spec §1.3) used here.
const (
	codeOrgNotActive = "ORGANIZATION_NOT_ACTIVE"
	codeServiceLimit = "SERVICE_LIMIT_EXCEEDED"
)
