// Package token signs and verifies AuthOS access tokens (JWTs).
//
// Tokens are signed with ES256 (default) or RS256 by the active key of a
// [KeySet]; previous keys stay valid for verification and are published in
// the JWKS, so keys rotate without downtime. Every token kind has its own
// header typ and token_use claim ([TypeManagement]/[UseManagement], ...), and
// [Issuer.Verify] requires both to match, so one kind of token can never be
// replayed as another.
//
// The package does no storage: the identity module keeps the keys (encrypted)
// and hands them to [NewIssuer] and [Issuer.SetKeys]. Sessions, revocation and
// single use (mfa_preauth, id_jag) are the caller's concern: a verified token
// only proves that AuthOS issued it and that it has not expired.
//
// Without the private key nobody can derive a second valid encoding of a
// token (strict base64url, low-S ECDSA signatures, deterministic RSA), so the
// SHA-256 of the raw token is a sound key for session lookups and deny lists
// as well as for the verification cache.
//
// Verify maps every failure to one of two sentinels: [ErrExpired] (HTTP 401
// TOKEN_EXPIRED) or [ErrInvalid] (HTTP 401 JWT_ERROR). The wrapped detail is
// meant for logs, never for responses.
package token
