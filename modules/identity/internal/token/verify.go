package token

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Verify checks raw and returns its claims. It accepts a token only when:
//   - its alg is the algorithm of the key named by its kid (ES256 or RS256,
//     never none or HMAC), the kid is in the key ring and the signature holds;
//   - its header typ is typ and its token_use claim is use;
//   - iss is this issuer, sub is set, and aud holds one of audiences (any aud
//     when none are given);
//   - exp is present and not passed, nbf and iat are not in the future (each
//     with the leeway); no crit header is present.
//
// Successful verifications are cached until the token expires; a cache hit
// skips the signature check but still checks the expiry, the key's presence
// in the ring, typ, use and audiences. Every error matches [ErrExpired] or
// [ErrInvalid]. ctx is accepted for tracing; verification never blocks.
func (i *Issuer) Verify(_ context.Context, raw, typ, use string, audiences ...string) (*Claims, error) {
	switch {
	case typ == "" || use == "":
		return nil, fmt.Errorf("%w: expected typ and token_use are required", ErrInvalid)
	case raw == "":
		return nil, fmt.Errorf("%w: empty token", ErrInvalid)
	case len(raw) > MaxTokenLength:
		return nil, fmt.Errorf("%w: token is longer than %d bytes", ErrInvalid, MaxTokenLength)
	}
	st := i.keys.Load()
	if i.cache == nil {
		c, _, err := i.verifyToken(st, raw, typ, use, audiences)
		return c, err
	}

	key := cacheKey(sha256.Sum256([]byte(raw)))
	if e, ok := i.cache.get(key); ok {
		return i.verifyCached(st, key, e, typ, use, audiences)
	}
	c, e, err := i.verifyToken(st, raw, typ, use, audiences)
	if err != nil {
		return nil, err
	}
	i.cache.put(key, e, i.nowFunc())
	return c, nil
}

// verifyToken fully verifies raw against the key ring st and returns the
// claims and a cache entry for them.
func (i *Issuer) verifyToken(st *keyState, raw, typ, use string, audiences []string) (*Claims, *cacheEntry, error) {
	var (
		c     Claims
		entry *keyEntry
	)
	_, err := i.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// The header is unauthenticated until the signature is checked, so
		// it only selects among our own keys and never supplies one.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header is not supported")
		}
		if h, _ := t.Header["typ"].(string); h != typ {
			return nil, fmt.Errorf("typ %q, want %q", h, typ)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid in header")
		}
		e, ok := st.byKID[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		if alg := t.Method.Alg(); alg != string(e.key.Algorithm) {
			return nil, fmt.Errorf("alg %s for %s key %q", alg, e.key.Algorithm, kid)
		}
		if e.key.Algorithm == ES256 && !i.lowS(t.Signature) {
			return nil, errors.New("ecdsa signature is not in low-S form")
		}
		entry = e
		i.sigChecks.Add(1)
		return e.key.Public, nil
	})
	expired := false
	if err != nil {
		if entry == nil || !onlyExpired(err) {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		// Signed by us and merely expired: still report a token of the wrong
		// kind or audience as invalid rather than expired.
		expired = true
	}
	if err := checkClaims(&c, use, audiences); err != nil {
		return nil, nil, err
	}
	if expired {
		return nil, nil, fmt.Errorf("%w: %w", ErrExpired, err)
	}
	e := &cacheEntry{
		claims:  c.clone(),
		typ:     typ,
		kid:     entry.key.KID,
		thumb:   entry.thumb,
		expires: c.ExpiresAt.Add(i.leeway),
	}
	return &c, e, nil
}

// verifyCached checks a cached verification against the current key ring,
// clock and the caller's expectations. Invalid beats expired, as in
// verifyToken.
func (i *Issuer) verifyCached(st *keyState, key cacheKey, e *cacheEntry, typ, use string, audiences []string) (*Claims, error) {
	if cur, ok := st.byKID[e.kid]; !ok || cur.thumb != e.thumb {
		i.cache.remove(key, e)
		return nil, fmt.Errorf("%w: key %q is no longer in the key ring", ErrInvalid, e.kid)
	}
	if e.typ != typ {
		return nil, fmt.Errorf("%w: typ %q, want %q", ErrInvalid, e.typ, typ)
	}
	if err := checkClaims(e.claims, use, audiences); err != nil {
		return nil, err
	}
	if !i.nowFunc().Before(e.expires) {
		i.cache.remove(key, e)
		return nil, fmt.Errorf("%w: token expired at %s", ErrExpired, e.claims.ExpiresAt.Time)
	}
	return e.claims.clone(), nil
}

// lowS reports whether an ES256 signature (r || s) has s <= n/2. ECDSA
// signatures are malleable: (r, n-s) is valid whenever (r, s) is. Sign only
// emits the low-S form, so refusing the other keeps one valid encoding per
// token and makes SHA-256(token) a sound identifier for sessions, deny lists
// and this cache. A wrong length is left to the signature check.
func (i *Issuer) lowS(sig []byte) bool {
	if len(sig) != 64 {
		return true
	}
	return bytes.Compare(sig[32:], i.p256HalfOrder) <= 0
}

// checkClaims applies the checks the jwt parser does not: token_use, sub and
// the caller's audiences.
func checkClaims(c *Claims, use string, audiences []string) error {
	switch {
	case c.TokenUse != use:
		return fmt.Errorf("%w: token_use %q, want %q", ErrInvalid, c.TokenUse, use)
	case c.Subject == "":
		return fmt.Errorf("%w: sub is empty", ErrInvalid)
	case !hasAudience(c.Audience, audiences):
		return fmt.Errorf("%w: aud %q is not one of %q", ErrInvalid, []string(c.Audience), audiences)
	}
	return nil
}

// onlyExpired reports whether err is a claims failure whose sole cause is an
// expired exp (the signature was good, since claims are validated after it).
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenInvalidClaims) || !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject, jwt.ErrTokenNotValidYet,
		jwt.ErrTokenInvalidId, jwt.ErrInvalidType,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}
