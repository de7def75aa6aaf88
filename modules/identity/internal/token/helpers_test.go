package token_test

import (
	"crypto"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

const testIssuer = "https://auth.example.test"

// fakeClock is a settable clock shared by an Issuer and its test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testBundle struct {
	clock  *fakeClock
	key    token.Key
	issuer *token.Issuer
}

// setup returns an Issuer with one fresh active key of alg and a fake clock.
func setup(t *testing.T, alg token.Algorithm, opts ...token.Option) *testBundle {
	t.Helper()
	clock := newFakeClock()
	key := generateKey(t, alg)
	iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: key},
		append([]token.Option{token.WithClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return &testBundle{clock: clock, key: key, issuer: iss}
}

func generateKey(t testing.TB, alg token.Algorithm) token.Key {
	t.Helper()
	k, err := token.GenerateKey(alg)
	require.NoError(t, err)
	return k
}

// fullClaims returns management claims with every field set.
func fullClaims(now time.Time) token.Claims {
	return token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "0190f7a4-6d3c-7c1e-9a52-3f1e2d4c5b6a",
			Audience:  jwt.ClaimStrings{token.Audience("org-1", "svc-1")},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        "jti-1",
		},
		Email:           "ada@example.test",
		IsPlatformOwner: true,
		TokenUse:        token.UseManagement,
		SessionID:       "sess-1",
		Org:             "org-1",
		Service:         "svc-1",
		Scope:           "openid profile",
		MFARequired:     true,
		MFAVerified:     true,
		DeviceCodeID:    "dc-1",
		SAMLState:       "saml-1",
		Act:             &token.Actor{Subject: "admin-1", Email: "admin@example.test", Reason: "support"},
	}
}

// forge signs claims with any jwt signing method and key, with the given
// header members added (a nil value removes a member).
func forge(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	if method != jwt.SigningMethodES256 {
		return s
	}
	// Bring the signature to low-S form, as Sign does, so a forged token is
	// refused for the reason under test and not for its S half.
	parts := strings.Split(s, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	n := elliptic.P256().Params().N
	if sv := new(big.Int).SetBytes(sig[32:]); sv.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		new(big.Int).Sub(n, sv).FillBytes(sig[32:])
	}
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// header decodes the JOSE header of a compact token.
func header(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, ok := strings.Cut(raw, ".")
	require.True(t, ok)
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

// segment base64url-encodes a JSON value as a token segment.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// opaqueSigner hides the concrete key type, like an HSM or KMS signer.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }

func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}
