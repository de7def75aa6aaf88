// Package fakeoauth is a real OAuth 2.0 authorization server, speaking over
// HTTP the dialects of GitHub, Google and Microsoft closely enough for
// AuthOS's social login to run against it unchanged: identity tests, the
// end-to-end tests of cmd/internal/app (which point the PLATFORM_*_AUTH_URL,
// _TOKEN_URL and _USER_API_URL settings at it) and the browser test.
//
// It is test infrastructure, not a stub: the authorize endpoint checks the
// client id and the exact redirect URI and requires a PKCE S256 challenge;
// the token endpoint authenticates the client (form or HTTP Basic), makes
// codes single use (a replayed code revokes the tokens it produced), checks
// the redirect URI and the PKCE verifier, expires codes after 10 minutes and
// serves the refresh_token grant for Google and Microsoft; the user APIs
// require a live bearer token issued for that provider.
//
// There is no consent page: the authorize endpoint signs in the user set
// with [Server.SetUser] and redirects straight back with a code, or with
// error=access_denied after [Server.DenyNext].
//
// Paths, under the base URL:
//
//	/github/login/oauth/authorize     /google/auth       /microsoft/authorize
//	/github/login/oauth/access_token  /google/token      /microsoft/token
//	/github/api/user                  /google/userinfo   /microsoft/userinfo
//	/github/api/user/emails
//
// Dialect details that clients notice: GitHub answers the token endpoint
// form-encoded (JSON with Accept: application/json), reports token errors
// with status 200, separates scopes with commas and issues no refresh
// tokens. Google issues a refresh token only for access_type=offline and
// does not rotate it. Microsoft issues one only for the offline_access scope
// and rotates it on every refresh. Google and Microsoft return an id_token
// (HS256, keyed by the client secret) when openid is requested.
package fakeoauth
