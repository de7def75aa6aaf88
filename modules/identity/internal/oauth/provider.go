package oauth

import (
	"fmt"
	"slices"
)

// Name identifies a social login provider. Its values are the :provider path
// segment of /auth/:provider and the provider stored with identities.
type Name string

// The supported social login providers.
const (
	GitHub    Name = "github"
	Google    Name = "google"
	Microsoft Name = "microsoft"
)

// Names returns every supported provider in the spec's order, the default
// available_providers list. The slice is fresh on every call.
func Names() []Name {
	return []Name{GitHub, Google, Microsoft}
}

// ParseName returns the provider named s. Names are exact and lowercase;
// anything else wraps [ErrUnknownProvider].
func ParseName(s string) (Name, error) {
	switch n := Name(s); n {
	case GitHub, Google, Microsoft:
		return n, nil
	default:
		return "", fmt.Errorf("parse provider %q: %w", truncate(s, 64), ErrUnknownProvider)
	}
}

// String returns the provider's name.
func (n Name) String() string { return string(n) }

// Refreshable reports whether the provider issues refresh tokens that
// [Client.Refresh] can use. GitHub OAuth apps do not (spec §3.2).
func (n Name) Refreshable() bool {
	return n == Google || n == Microsoft
}

// DefaultScopes returns the scopes requested when a service configured none
// (spec §2.2): github user:email; google openid, email, profile; microsoft
// User.Read, email, openid, profile. It returns nil for an unknown name. The
// slice is fresh on every call.
//
// For Microsoft the authorize request also carries offline_access, which is
// what makes Microsoft issue a refresh token; see [Client.AuthCodeURL].
func DefaultScopes(n Name) []string {
	switch n {
	case GitHub:
		return []string{"user:email"}
	case Google:
		return []string{"openid", "email", "profile"}
	case Microsoft:
		return []string{"User.Read", "email", "openid", "profile"}
	default:
		return nil
	}
}

// scopeOfflineAccess is the Microsoft identity platform scope that asks for a
// refresh token.
const scopeOfflineAccess = "offline_access"

// requestScopes returns the scopes sent to the authorize endpoint: the
// configured ones, plus offline_access for Microsoft.
func requestScopes(n Name, scopes []string) []string {
	out := slices.Clone(scopes)
	if n == Microsoft && !slices.Contains(out, scopeOfflineAccess) {
		out = append(out, scopeOfflineAccess)
	}
	return out
}

// Endpoints are the provider URLs a [Client] talks to. For GitHub UserAPIURL
// is the REST API base (…/user and …/user/emails are appended); for Google
// and Microsoft it is the full OpenID Connect userinfo URL. An empty field
// means the provider's default; overrides exist for tests, proxies and the
// PLATFORM_*_AUTH_URL/TOKEN_URL/USER_API_URL settings.
type Endpoints struct {
	AuthURL    string
	TokenURL   string
	UserAPIURL string
}

// DefaultEndpoints returns the public endpoints of provider n (Microsoft's
// multi-tenant "common" authority). It returns the zero value for an unknown
// name.
func DefaultEndpoints(n Name) Endpoints {
	switch n {
	case GitHub:
		return Endpoints{
			AuthURL:    "https://github.com/login/oauth/authorize",
			TokenURL:   "https://github.com/login/oauth/access_token",
			UserAPIURL: "https://api.github.com",
		}
	case Google:
		return Endpoints{
			AuthURL:    "https://accounts.google.com/o/oauth2/v2/auth",
			TokenURL:   "https://oauth2.googleapis.com/token",
			UserAPIURL: "https://openidconnect.googleapis.com/v1/userinfo",
		}
	case Microsoft:
		return Endpoints{
			AuthURL:    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL:   "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			UserAPIURL: "https://graph.microsoft.com/oidc/userinfo",
		}
	default:
		return Endpoints{}
	}
}

// withDefaults fills every empty field of e from DefaultEndpoints(n).
func (e Endpoints) withDefaults(n Name) Endpoints {
	d := DefaultEndpoints(n)
	if e.AuthURL == "" {
		e.AuthURL = d.AuthURL
	}
	if e.TokenURL == "" {
		e.TokenURL = d.TokenURL
	}
	if e.UserAPIURL == "" {
		e.UserAPIURL = d.UserAPIURL
	}
	return e
}
