// Package oauth is the OAuth 2.0 client side of social login: it builds the
// authorize URL, exchanges the code, refreshes provider tokens and fetches the
// user's profile from GitHub, Google and Microsoft (spec §2.2 "OAuth
// start/callback" and §3.2 provider tokens).
//
// It holds no state and knows nothing about organizations, users or the
// oauth_states table: the identity module keeps the state and PKCE verifier,
// picks BYOO or platform credentials and builds one [Client] per (provider,
// credentials) pair. Token exchange and refresh go through
// golang.org/x/oauth2 with the caller's *http.Client (the SSRF-safe outbound
// client) passed through the context; profile requests use the same client.
//
// Contracts callers rely on:
//
//   - PKCE S256 is always used; [Client.AuthCodeURL] refuses an empty state
//     or a verifier that RFC 7636 would reject.
//   - Every request is bounded by [RequestTimeout] and every response body by
//     [MaxResponseBytes].
//   - Errors never contain the client secret, codes or tokens. Errors the
//     provider reported (token endpoint, user API, or the callback's
//     ?error=…) are [*ProviderError] so callers can show "access_denied".
//   - [Profile.EmailVerified] is true only when the provider asserts it:
//     account linking by email depends on that.
package oauth
