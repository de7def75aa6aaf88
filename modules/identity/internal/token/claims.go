package token

import (
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token kinds (authos-api.md §1.9). Each kind has a header typ and a
// token_use claim; [Issuer.Sign] only accepts the pairs below and
// [Issuer.Verify] requires both to match what the caller expects.
const (
	// TypeManagement is the typ of a normal session token (platform, org or
	// service scoped).
	TypeManagement = "authos-management+jwt"
	// UseManagement is the token_use of a normal session token.
	UseManagement = "management_access"

	// TypeResource is the typ of a service token bound to an RFC 8707
	// resource (aud = resource URI).
	TypeResource = "at+jwt"
	// UseResource is the token_use of a resource-bound service token.
	UseResource = "external_resource_access"

	// TypeMFAPreauth is the typ of the short step token between primary
	// authentication and the second factor.
	TypeMFAPreauth = "authos-mfa-preauth+jwt"
	// UseMFAPreauth is the token_use of an MFA pre-authentication token.
	UseMFAPreauth = "mfa_preauth"

	// TypeImpersonation is the typ of a platform support impersonation token.
	TypeImpersonation = "authos-impersonation+jwt"
	// UseImpersonation is the token_use of an impersonation token.
	UseImpersonation = "impersonation"

	// TypeIDJAG is the typ of an identity assertion authorization grant.
	TypeIDJAG = "oauth-id-jag+jwt"
	// UseIDJAG is the token_use of an identity assertion authorization grant.
	UseIDJAG = "id_jag"
)

// Default lifetimes of the token kinds (authos-api.md §1.9). The caller sets
// ExpiresAt; these are the values the spec prescribes.
const (
	// LifetimeManagement is the default JWT_EXPIRATION_HOURS (24 h).
	LifetimeManagement = 24 * time.Hour
	// LifetimeResource is the lifetime of a resource-bound service token.
	LifetimeResource = 24 * time.Hour
	// LifetimeMFAPreauth is the lifetime of an MFA pre-authentication token.
	LifetimeMFAPreauth = 5 * time.Minute
	// LifetimeImpersonation is the lifetime of an impersonation token.
	LifetimeImpersonation = 15 * time.Minute
	// LifetimeIDJAG is the lifetime of an identity assertion grant.
	LifetimeIDJAG = 5 * time.Minute
)

// useForType returns the token_use that pairs with typ.
func useForType(typ string) (string, bool) {
	switch typ {
	case TypeManagement:
		return UseManagement, true
	case TypeResource:
		return UseResource, true
	case TypeMFAPreauth:
		return UseMFAPreauth, true
	case TypeImpersonation:
		return UseImpersonation, true
	case TypeIDJAG:
		return UseIDJAG, true
	default:
		return "", false
	}
}

// AudiencePlatform is the aud of a platform-scoped token.
const AudiencePlatform = "platform"

// Audience returns the aud of a token scoped to org and service
// (authos-api.md §1.9): "service:<org>/<service>" when both are set,
// "org:<org>" for an org, "service:<service>" for a service alone and
// "platform" when neither is set. Resource tokens use the resource URI
// instead.
func Audience(org, service string) string {
	switch {
	case org != "" && service != "":
		return "service:" + org + "/" + service
	case org != "":
		return "org:" + org
	case service != "":
		return "service:" + service
	default:
		return AudiencePlatform
	}
}

// Claims are the claims of an AuthOS token. The registered claims iss, sub,
// aud, exp, iat, nbf and jti come from jwt.RegisteredClaims.
type Claims struct {
	jwt.RegisteredClaims

	// Email is the user's email address.
	Email string `json:"email,omitempty"`
	// IsPlatformOwner is the user's platform-owner flag.
	IsPlatformOwner bool `json:"is_platform_owner"`
	// TokenUse says what the token is for; it pairs with the header typ.
	TokenUse string `json:"token_use"`
	// SessionID is the session behind the token, checked on every request.
	SessionID string `json:"sid,omitempty"`
	// Org is the organization the token is scoped to.
	Org string `json:"org,omitempty"`
	// Service is the service the token is scoped to.
	Service string `json:"service,omitempty"`
	// Scope is a space-separated list of scopes.
	Scope string `json:"scope,omitempty"`
	// MFARequired says a second factor is still required.
	MFARequired bool `json:"mfa_required,omitempty"`
	// MFAVerified says the session completed a second factor.
	MFAVerified bool `json:"mfa_verified,omitempty"`
	// DeviceCodeID links the token to a device authorization.
	DeviceCodeID string `json:"device_code_id,omitempty"`
	// SAMLState links the token to a pending SAML login.
	SAMLState string `json:"saml_state,omitempty"`
	// Act is the acting party of an impersonation token (RFC 8693).
	Act *Actor `json:"act,omitempty"`
}

// Actor is the RFC 8693 act claim: who is acting on behalf of sub.
type Actor struct {
	// Subject is the acting user's id.
	Subject string `json:"sub"`
	// Email is the acting user's email address.
	Email string `json:"email,omitempty"`
	// Reason is why the actor impersonates the subject.
	Reason string `json:"reason,omitempty"`
}

// clone returns a deep copy of c, so cached claims are never shared with
// callers.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	out.ExpiresAt = cloneDate(c.ExpiresAt)
	out.NotBefore = cloneDate(c.NotBefore)
	out.IssuedAt = cloneDate(c.IssuedAt)
	if c.Act != nil {
		act := *c.Act
		out.Act = &act
	}
	return &out
}

func cloneDate(d *jwt.NumericDate) *jwt.NumericDate {
	if d == nil {
		return nil
	}
	out := *d
	return &out
}

// hasAudience reports whether aud holds one of want; any aud matches when
// want is empty.
func hasAudience(aud jwt.ClaimStrings, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, a := range aud {
		if a != "" && slices.Contains(want, a) {
			return true
		}
	}
	return false
}
