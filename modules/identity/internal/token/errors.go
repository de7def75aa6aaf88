package token

import "errors"

// Verification errors. Every error returned by [Issuer.Verify] matches exactly
// one of them with errors.Is; the wrapped detail says why, for logs.
var (
	// ErrExpired means the token was issued by us, is otherwise valid, and its
	// exp has passed (beyond the leeway). It maps to 401 TOKEN_EXPIRED.
	ErrExpired = errors.New("token expired")
	// ErrInvalid means the token is not acceptable for any other reason:
	// malformed, bad signature, unknown kid, wrong alg, typ, token_use, iss or
	// aud, missing claims, not yet valid. It maps to 401 JWT_ERROR.
	ErrInvalid = errors.New("invalid token")
)
