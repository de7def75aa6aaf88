// Package outbound is the one SSRF-safe way AuthOS opens outbound network
// connections: webhook deliveries, upstream OAuth/OIDC providers, custom-domain
// checks and per-organization SMTP (design §5, spec §1.11).
//
// A [Policy] decides which destination addresses and ports are allowed.
// [Policy.DialContext] resolves the host once, refuses the connection if any
// resolved address is forbidden, and then dials only the checked IP literals,
// so a second DNS answer can never redirect the connection (no DNS
// rebinding). A socket-level control hook re-checks the address actually
// connected to as a second line of defence. [NewHTTPClient] wraps this in an
// [net/http.Client] that ignores proxy environment variables and does not
// follow redirects; [ReadLimited] bounds how much of a response is read.
//
// Refusals wrap [ErrForbiddenAddress], so callers can tell a policy refusal
// from a network failure with errors.Is.
package outbound
