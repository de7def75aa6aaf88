// Package httpapi builds the HTTP front of the AuthOS API: a chi router with the
// cross-cutting middleware (request id, real client IP from trusted proxies only,
// panic recovery, security headers, CORS, body size limit, request timeout,
// metrics), a Huma v2 API on top of it, the RFC 9457 problem+json error model
// carrying the AuthOS members (error, error_code, timestamp), the one
// authentication middleware that resolves a [Principal] from the security
// schemes an operation declares, and the offline /docs page.
//
// # Errors
//
// Every error response is an [Error] rendered as application/problem+json:
//
//	{"type","title","status","detail","instance","error","error_code","timestamp","errors"?}
//
// where error equals detail, error_code is derived from the status unless the
// handler chose one ([NewError]) and instance is the request id. Handlers may
// return an *Error, a huma error (huma.Error404NotFound) or any other error;
// the last becomes a 500. Every 5xx body carries only a generic message; the
// real cause is logged with the request id and never returned.
//
// To achieve this the package replaces huma.NewErrorWithContext once (the only
// sanctioned global in AuthOS) and installs a Huma transformer that converts
// and sanitises every error body on its way out.
//
// # Authentication
//
// Operations declare Security with the scheme names [SchemeBearer],
// [SchemeAPIKey] and [SchemeSCIM]; operations without Security are public. The
// middleware tries each declared alternative with the matching
// [Authenticator] from [Options.Authenticators] and stores the resulting
// [Principal] in the context ([PrincipalFrom], [MustPrincipal]). Authorization
// (roles, capabilities, tenancy) is the modules' business.
//
// # Request metadata
//
// [RequestIDFrom] and [ClientIPFrom] give handlers the request id and the
// client address (already resolved through trusted proxies). r.RemoteAddr is
// rewritten to the bare client IP (no port) for every request.
package httpapi
