package token

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLength is the longest raw token Verify looks at. AuthOS tokens are
// well under 2 KiB; anything longer is refused before any decoding.
const MaxTokenLength = 8 << 10

// DefaultLeeway is the default clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// KeySet is the key ring handed to an [Issuer]. Active signs new tokens and
// must have a private key; Previous keys (private part optional, never used)
// still verify tokens they signed until they are removed. KIDs are unique.
type KeySet struct {
	// Active signs every new token and is published first in the JWKS.
	Active Key
	// Previous are retired signing keys whose tokens are still accepted.
	Previous []Key
}

// Option configures an [Issuer].
type Option func(*options)

type options struct {
	nowFunc   func() time.Time
	cacheSize int
	leeway    time.Duration
}

// WithClock sets the clock used for iat, expiry checks and the cache.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.nowFunc = now }
}

// WithCacheSize bounds the verification cache to about n tokens
// (default [DefaultCacheSize]); 0 disables caching.
func WithCacheSize(n int) Option {
	return func(o *options) { o.cacheSize = n }
}

// WithLeeway sets the clock skew allowed on exp, nbf and iat (default
// [DefaultLeeway]).
func WithLeeway(d time.Duration) Option {
	return func(o *options) { o.leeway = d }
}

// keyEntry is one validated key with its thumbprint, which tells two keys
// that share a kid apart.
type keyEntry struct {
	key   Key
	thumb string
}

// keyState is an immutable snapshot of the key ring, swapped atomically.
type keyState struct {
	active *keyEntry
	byKID  map[string]*keyEntry
	jwks   []byte
}

// Issuer signs and verifies the tokens of one issuer (BASE_URL). It is safe
// for concurrent use; [Issuer.SetKeys] swaps the key ring without blocking
// signers or verifiers.
type Issuer struct {
	issuer  string
	nowFunc func() time.Time
	leeway  time.Duration
	parser  *jwt.Parser
	cache   *verifyCache
	keys    atomic.Pointer[keyState]

	// p256HalfOrder is (n-1)/2 of P-256, big-endian: the largest low S.
	p256HalfOrder []byte

	// sigChecks counts signature verifications; tests use it to prove that
	// cache hits skip the signature check.
	sigChecks atomic.Int64
}

// NewIssuer returns an Issuer for issuer (the iss claim, BASE_URL) with the
// given key ring. It fails on an empty issuer, an invalid key set or invalid
// options.
func NewIssuer(issuer string, keys KeySet, opts ...Option) (*Issuer, error) {
	if issuer == "" {
		return nil, errors.New("new issuer: issuer is empty")
	}
	o := options{nowFunc: time.Now, cacheSize: DefaultCacheSize, leeway: DefaultLeeway}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.nowFunc == nil:
		return nil, errors.New("new issuer: clock is nil")
	case o.cacheSize < 0:
		return nil, fmt.Errorf("new issuer: cache size %d is negative", o.cacheSize)
	case o.leeway < 0:
		return nil, fmt.Errorf("new issuer: leeway %s is negative", o.leeway)
	}
	i := &Issuer{
		issuer:  issuer,
		nowFunc: o.nowFunc,
		leeway:  o.leeway,
		cache:   newVerifyCache(o.cacheSize),

		p256HalfOrder: new(big.Int).Rsh(elliptic.P256().Params().N, 1).FillBytes(make([]byte, 32)),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{string(ES256), string(RS256)}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.leeway),
			jwt.WithTimeFunc(o.nowFunc),
			jwt.WithStrictDecoding(),
		),
	}
	if err := i.SetKeys(keys); err != nil {
		return nil, fmt.Errorf("new issuer: %w", err)
	}
	return i, nil
}

// SetKeys validates keys and makes them the key ring, atomically: calls in
// flight finish with the old ring, later ones use the new one. Tokens signed
// by a key that is no longer in the ring fail from the next Verify on, even
// when cached. On error the ring is unchanged.
func (i *Issuer) SetKeys(keys KeySet) error {
	st, err := newKeyState(keys)
	if err != nil {
		return fmt.Errorf("set keys: %w", err)
	}
	i.keys.Store(st)
	return nil
}

func newKeyState(keys KeySet) (*keyState, error) {
	if keys.Active.Private == nil {
		return nil, errors.New("active key has no private key")
	}
	st := &keyState{byKID: make(map[string]*keyEntry, 1+len(keys.Previous))}
	ordered := make([]Key, 0, 1+len(keys.Previous))
	for n, k := range append([]Key{keys.Active}, keys.Previous...) {
		k, err := k.normalize()
		if err != nil {
			return nil, err
		}
		if _, dup := st.byKID[k.KID]; dup {
			return nil, fmt.Errorf("duplicate kid %q", k.KID)
		}
		thumb, err := Thumbprint(k.Public)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.KID, err)
		}
		e := &keyEntry{key: k, thumb: thumb}
		st.byKID[k.KID] = e
		if n == 0 {
			st.active = e
		}
		ordered = append(ordered, k)
	}
	jwks, err := marshalJWKS(ordered)
	if err != nil {
		return nil, err
	}
	st.jwks = jwks
	return st, nil
}

// Sign signs c as a token of kind typ with the active key and returns the
// compact JWS. The header carries alg (from the key), kid and typ. c must
// have the token_use that pairs with typ, a subject, an audience, an expiry
// in the future and an id (jti). iss is set to the issuer (a different one
// is an error) and iat to now when unset. A token longer than
// [MaxTokenLength] is refused.
func (i *Issuer) Sign(typ string, c Claims) (string, error) {
	use, ok := useForType(typ)
	switch {
	case !ok:
		return "", fmt.Errorf("sign token: unknown typ %q", typ)
	case c.TokenUse != use:
		return "", fmt.Errorf("sign token: token_use %q does not match typ %q (want %q)", c.TokenUse, typ, use)
	case c.Subject == "":
		return "", errors.New("sign token: sub is empty")
	case c.ID == "":
		return "", errors.New("sign token: jti is empty")
	case len(c.Audience) == 0 || slices.Contains(c.Audience, ""):
		return "", errors.New("sign token: aud is empty")
	case c.ExpiresAt == nil:
		return "", errors.New("sign token: exp is missing")
	case c.Issuer != "" && c.Issuer != i.issuer:
		return "", fmt.Errorf("sign token: iss %q is not this issuer", c.Issuer)
	}
	now := i.nowFunc()
	if !c.ExpiresAt.After(now) {
		return "", fmt.Errorf("sign token: exp %s is not in the future", c.ExpiresAt.Time)
	}
	c.Issuer = i.issuer
	if c.IssuedAt == nil {
		c.IssuedAt = jwt.NewNumericDate(now)
	}

	active := i.keys.Load().active.key
	tok := &jwt.Token{
		Header: map[string]any{"alg": string(active.Algorithm), "kid": active.KID, "typ": typ},
		Claims: &c,
	}
	signingString, err := tok.SigningString()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sig, err := signJWS(active, signingString)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	raw := signingString + "." + tok.EncodeSegment(sig)
	if len(raw) > MaxTokenLength {
		// Verify would refuse it; fail here, where the bug is.
		return "", fmt.Errorf("sign token: token is %d bytes, over the %d limit", len(raw), MaxTokenLength)
	}
	return raw, nil
}

// signJWS signs a JWS signing input with any crypto.Signer, so keys held in
// an HSM or KMS work as well as in-memory ones.
func signJWS(k Key, signingString string) ([]byte, error) {
	digest := sha256.Sum256([]byte(signingString))
	sig, err := k.Private.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign with key %q: %w", k.KID, err)
	}
	if k.Algorithm != ES256 {
		return sig, nil
	}
	// crypto.Signer returns an ASN.1 ECDSA signature; JWS wants r || s, each
	// left-padded to 32 bytes (RFC 7518 §3.4).
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) > 0 || rs.R == nil || rs.S == nil ||
		rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, fmt.Errorf("sign with key %q: malformed ecdsa signature", k.KID)
	}
	// Use the low-S form so each token has exactly one valid encoding; Verify
	// refuses the high-S twin (see lowS).
	n := elliptic.P256().Params().N
	if rs.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		rs.S.Sub(n, rs.S)
	}
	out := make([]byte, 64)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

// JWKS returns the public key set as JSON ({"keys":[...]}): the active key
// first, then the previous keys. Each key has kty, crv/x/y (EC) or n/e (RSA),
// kid, alg and use "sig"; private members are never included.
func (i *Issuer) JWKS() ([]byte, error) {
	return bytes.Clone(i.keys.Load().jwks), nil
}

// UnknownKID reports the kid named in raw's header when the key ring does
// not hold it, so the caller can reload the keys (another replica may have
// rotated) and verify again. Malformed tokens and tokens without a kid
// report false. raw is untrusted: callers must rate-limit the reloads.
func (i *Issuer) UnknownKID(raw string) (kid string, unknown bool) {
	if len(raw) > MaxTokenLength {
		return "", false
	}
	header, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(header)
	if err != nil {
		return "", false
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.KID == "" {
		return "", false
	}
	if _, known := i.keys.Load().byKID[h.KID]; known {
		return h.KID, false
	}
	return h.KID, true
}
