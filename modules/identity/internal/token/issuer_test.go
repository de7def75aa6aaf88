package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()

	for _, alg := range []token.Algorithm{token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			b := setup(t, alg)
			ctx := context.Background()
			in := fullClaims(b.clock.Now())

			raw, err := b.issuer.Sign(token.TypeManagement, in)
			require.NoError(t, err)

			h := header(t, raw)
			require.Equal(t, map[string]any{"alg": string(alg), "kid": b.key.KID, "typ": token.TypeManagement}, h)

			got, err := b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement, token.Audience("org-1", "svc-1"))
			require.NoError(t, err)

			want := in
			want.Issuer = testIssuer
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, string(wantJSON), string(gotJSON))
			require.Equal(t, "support", got.Act.Reason)
			require.True(t, got.ExpiresAt.Equal(in.ExpiresAt.Time))

			// The cached path returns the same claims.
			again, err := b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)
			againJSON, err := json.Marshal(again)
			require.NoError(t, err)
			require.JSONEq(t, string(wantJSON), string(againJSON))
		})
	}
}

func TestSignEveryKind(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256)
	kinds := []struct{ typ, use string }{
		{token.TypeManagement, token.UseManagement},
		{token.TypeResource, token.UseResource},
		{token.TypeMFAPreauth, token.UseMFAPreauth},
		{token.TypeImpersonation, token.UseImpersonation},
		{token.TypeIDJAG, token.UseIDJAG},
	}
	for _, k := range kinds {
		c := fullClaims(b.clock.Now())
		c.TokenUse = k.use
		raw, err := b.issuer.Sign(k.typ, c)
		require.NoError(t, err)
		_, err = b.issuer.Verify(context.Background(), raw, k.typ, k.use)
		require.NoError(t, err)
		for _, other := range kinds {
			if other.typ == k.typ {
				continue
			}
			// A token of one kind never passes as another.
			_, err = b.issuer.Verify(context.Background(), raw, other.typ, other.use)
			require.ErrorIs(t, err, token.ErrInvalid)
		}
	}
}

func TestSignRejects(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256)
	now := b.clock.Now()
	tests := []struct {
		name   string
		typ    string
		modify func(c *token.Claims)
	}{
		{"UnknownTyp", "JWT", func(*token.Claims) {}},
		{"UseDoesNotMatchTyp", token.TypeManagement, func(c *token.Claims) { c.TokenUse = token.UseMFAPreauth }},
		{"MissingUse", token.TypeManagement, func(c *token.Claims) { c.TokenUse = "" }},
		{"MissingSubject", token.TypeManagement, func(c *token.Claims) { c.Subject = "" }},
		{"MissingID", token.TypeManagement, func(c *token.Claims) { c.ID = "" }},
		{"MissingAudience", token.TypeManagement, func(c *token.Claims) { c.Audience = nil }},
		{"EmptyAudience", token.TypeManagement, func(c *token.Claims) { c.Audience = jwt.ClaimStrings{""} }},
		{"MissingExpiry", token.TypeManagement, func(c *token.Claims) { c.ExpiresAt = nil }},
		{"ExpiryInPast", token.TypeManagement, func(c *token.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second)) }},
		{"ForeignIssuer", token.TypeManagement, func(c *token.Claims) { c.Issuer = "https://evil.test" }},
		{"TooLong", token.TypeManagement, func(c *token.Claims) { c.Scope = strings.Repeat("s", token.MaxTokenLength) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := fullClaims(now)
			tc.modify(&c)
			raw, err := b.issuer.Sign(tc.typ, c)
			require.Error(t, err)
			require.Empty(t, raw)
		})
	}

	t.Run("SetsIssuerAndIssuedAt", func(t *testing.T) {
		t.Parallel()
		c := fullClaims(now)
		c.IssuedAt = nil
		raw, err := b.issuer.Sign(token.TypeManagement, c)
		require.NoError(t, err)
		got, err := b.issuer.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
		require.NoError(t, err)
		require.Equal(t, testIssuer, got.Issuer)
		require.NotNil(t, got.IssuedAt)
		require.True(t, got.IssuedAt.Equal(now))
	})
}

func TestVerifyAudience(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256)
	c := fullClaims(b.clock.Now())
	c.Audience = jwt.ClaimStrings{"org:o1", "platform"}
	raw, err := b.issuer.Sign(token.TypeManagement, c)
	require.NoError(t, err)
	ctx := context.Background()

	tests := []struct {
		name      string
		audiences []string
		wantErr   bool
	}{
		{"AnyWhenNoneGiven", nil, false},
		{"OneOfTheTokens", []string{"platform"}, false},
		{"OneOfTheCallers", []string{"org:o2", "org:o1"}, false},
		{"NoneMatch", []string{"org:o2", "service:o1/s1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement, tc.audiences...)
			if tc.wantErr {
				require.ErrorIs(t, err, token.ErrInvalid)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestAudience(t *testing.T) {
	t.Parallel()

	require.Equal(t, "service:o/s", token.Audience("o", "s"))
	require.Equal(t, "org:o", token.Audience("o", ""))
	require.Equal(t, "service:s", token.Audience("", "s"))
	require.Equal(t, "platform", token.Audience("", ""))
}

func TestJWKS(t *testing.T) {
	t.Parallel()

	active := generateKey(t, token.ES256)
	prevRSA := generateKey(t, token.RS256)
	prevEC, err := token.ParsePublicKeyPEM(mustPublicPEM(t, generateKey(t, token.ES256)), "old-ec")
	require.NoError(t, err)
	iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: active, Previous: []token.Key{prevRSA, prevEC}})
	require.NoError(t, err)

	raw, err := iss.JWKS()
	require.NoError(t, err)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(raw, &set))
	require.Len(t, set.Keys, 3)

	wantKeys := []token.Key{active, prevRSA, prevEC}
	for n, jwk := range set.Keys {
		want := wantKeys[n]
		require.Equal(t, want.KID, jwk["kid"])
		require.Equal(t, string(want.Algorithm), jwk["alg"])
		require.Equal(t, "sig", jwk["use"])
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			require.NotContains(t, jwk, private)
		}
		switch want.Algorithm {
		case token.ES256:
			require.Len(t, jwk, 7) // kty crv x y kid alg use
			require.Equal(t, "EC", jwk["kty"])
			require.Equal(t, "P-256", jwk["crv"])
			x := b64decode(t, jwk["x"])
			y := b64decode(t, jwk["y"])
			require.Len(t, x, 32)
			require.Len(t, y, 32)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			require.NoError(t, err)
			require.True(t, pub.Equal(want.Public))
		case token.RS256:
			require.Len(t, jwk, 6) // kty n e kid alg use
			require.Equal(t, "RSA", jwk["kty"])
			pub := &rsa.PublicKey{
				N: new(big.Int).SetBytes(b64decode(t, jwk["n"])),
				E: int(new(big.Int).SetBytes(b64decode(t, jwk["e"])).Int64()),
			}
			require.True(t, pub.Equal(want.Public))
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()

	for _, cacheSize := range []int{token.DefaultCacheSize, 0} {
		name := "Cached"
		if cacheSize == 0 {
			name = "Uncached"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, token.ES256, token.WithCacheSize(cacheSize))
			ctx := context.Background()
			oldRaw, err := b.issuer.Sign(token.TypeManagement, fullClaims(b.clock.Now()))
			require.NoError(t, err)
			_, err = b.issuer.Verify(ctx, oldRaw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			// Rotate: a new RS256 key signs, the old key still verifies.
			next := generateKey(t, token.RS256)
			require.NoError(t, b.issuer.SetKeys(token.KeySet{Active: next, Previous: []token.Key{b.key}}))
			newRaw, err := b.issuer.Sign(token.TypeManagement, fullClaims(b.clock.Now()))
			require.NoError(t, err)
			require.Equal(t, next.KID, header(t, newRaw)["kid"])
			require.Equal(t, "RS256", header(t, newRaw)["alg"])
			_, err = b.issuer.Verify(ctx, oldRaw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)
			_, err = b.issuer.Verify(ctx, newRaw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			// Retire the old key: its tokens fail, cached or not.
			require.NoError(t, b.issuer.SetKeys(token.KeySet{Active: next}))
			_, err = b.issuer.Verify(ctx, oldRaw, token.TypeManagement, token.UseManagement)
			require.ErrorIs(t, err, token.ErrInvalid)
			require.NotErrorIs(t, err, token.ErrExpired)
			kid, unknown := b.issuer.UnknownKID(oldRaw)
			require.True(t, unknown)
			require.Equal(t, b.key.KID, kid)
			_, err = b.issuer.Verify(ctx, newRaw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			jwks, err := b.issuer.JWKS()
			require.NoError(t, err)
			require.NotContains(t, string(jwks), b.key.KID)
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	t.Parallel()

	for _, cacheSize := range []int{token.DefaultCacheSize, 0} {
		name := "Cached"
		if cacheSize == 0 {
			name = "Uncached"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, token.ES256, token.WithCacheSize(cacheSize), token.WithLeeway(30*time.Second))
			ctx := context.Background()
			c := fullClaims(b.clock.Now())
			c.ExpiresAt = jwt.NewNumericDate(b.clock.Now().Add(time.Minute))
			raw, err := b.issuer.Sign(token.TypeManagement, c)
			require.NoError(t, err)
			_, err = b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			// Inside the leeway the token still passes.
			b.clock.Advance(time.Minute + 20*time.Second)
			_, err = b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			b.clock.Advance(10 * time.Second)
			got, err := b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
			require.ErrorIs(t, err, token.ErrExpired)
			require.NotErrorIs(t, err, token.ErrInvalid)
			require.Nil(t, got)

			// Expired and of the wrong kind: invalid wins.
			_, err = b.issuer.Verify(ctx, raw, token.TypeManagement, token.UseMFAPreauth)
			require.ErrorIs(t, err, token.ErrInvalid)
			_, err = b.issuer.Verify(ctx, raw, token.TypeMFAPreauth, token.UseMFAPreauth)
			require.ErrorIs(t, err, token.ErrInvalid)
		})
	}
}

func TestUnknownKID(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256)
	raw, err := b.issuer.Sign(token.TypeManagement, fullClaims(b.clock.Now()))
	require.NoError(t, err)
	kid, unknown := b.issuer.UnknownKID(raw)
	require.False(t, unknown)
	require.Equal(t, b.key.KID, kid)

	other := generateKey(t, token.ES256)
	foreign := forge(t, jwt.SigningMethodES256, other.Private, map[string]any{"kid": other.KID}, jwt.MapClaims{})
	kid, unknown = b.issuer.UnknownKID(foreign)
	require.True(t, unknown)
	require.Equal(t, other.KID, kid)

	// After a reload that adds the key, the kid is known.
	require.NoError(t, b.issuer.SetKeys(token.KeySet{Active: b.key, Previous: []token.Key{other}}))
	_, unknown = b.issuer.UnknownKID(foreign)
	require.False(t, unknown)

	for _, bad := range []string{"", "abc", "!!!.x.y", segment(t, map[string]any{"alg": "ES256"}) + ".x.y", segment(t, map[string]any{"kid": 7}) + ".x.y"} {
		kid, unknown := b.issuer.UnknownKID(bad)
		require.False(t, unknown, bad)
		require.Empty(t, kid, bad)
	}
}

func TestVerifyReturnsCopies(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256)
	raw, err := b.issuer.Sign(token.TypeManagement, fullClaims(b.clock.Now()))
	require.NoError(t, err)
	for range 3 {
		got, err := b.issuer.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
		require.NoError(t, err)
		require.Equal(t, "service:org-1/svc-1", got.Audience[0])
		require.Equal(t, "admin-1", got.Act.Subject)
		require.True(t, got.ExpiresAt.Equal(b.clock.Now().Add(time.Hour)))
		// Callers may scribble on their copy without touching the cache.
		got.Audience[0] = "platform"
		got.Act.Subject = "mallory"
		got.ExpiresAt.Time = time.Time{}
		got.Subject = "mallory"
	}
}

func TestOpaqueSigner(t *testing.T) {
	t.Parallel()

	for _, alg := range []token.Algorithm{token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := generateKey(t, alg)
			opaque := token.Key{KID: "hsm-1", Algorithm: alg, Private: opaqueSigner{k.Private}}
			clock := newFakeClock()
			iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: opaque}, token.WithClock(clock.Now))
			require.NoError(t, err)
			raw, err := iss.Sign(token.TypeManagement, fullClaims(clock.Now()))
			require.NoError(t, err)
			_, err = iss.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
			require.NoError(t, err)

			// The jwt library, given the public key, agrees with our encoding.
			_, err = jwt.Parse(raw, func(*jwt.Token) (any, error) { return k.Public, nil },
				jwt.WithValidMethods([]string{string(alg)}), jwt.WithTimeFunc(clock.Now))
			require.NoError(t, err)

			_, err = opaque.PrivatePEM()
			require.Error(t, err)
		})
	}
}

func TestNewIssuerValidation(t *testing.T) {
	t.Parallel()

	ec := generateKey(t, token.ES256)
	ec2 := generateKey(t, token.ES256)
	rs := generateKey(t, token.RS256)
	verifyOnly, err := token.ParsePublicKeyPEM(mustPublicPEM(t, ec), "")
	require.NoError(t, err)

	tests := []struct {
		name   string
		issuer string
		keys   token.KeySet
		opts   []token.Option
	}{
		{name: "EmptyIssuer", issuer: "", keys: token.KeySet{Active: ec}},
		{name: "ActiveWithoutPrivateKey", issuer: testIssuer, keys: token.KeySet{Active: verifyOnly}},
		{name: "ZeroActive", issuer: testIssuer, keys: token.KeySet{}},
		{name: "DuplicateKID", issuer: testIssuer, keys: token.KeySet{Active: ec, Previous: []token.Key{verifyOnly}}},
		{name: "DuplicatePreviousKID", issuer: testIssuer, keys: token.KeySet{Active: ec, Previous: []token.Key{rs, rs}}},
		{name: "EmptyKID", issuer: testIssuer, keys: token.KeySet{Active: token.Key{Algorithm: token.ES256, Private: ec.Private}}},
		{name: "AlgorithmMismatch", issuer: testIssuer, keys: token.KeySet{Active: token.Key{KID: "k", Algorithm: token.RS256, Private: ec.Private}}},
		{name: "UnsupportedAlgorithm", issuer: testIssuer, keys: token.KeySet{Active: token.Key{KID: "k", Algorithm: "HS256", Private: ec.Private}}},
		{name: "PrivatePublicMismatch", issuer: testIssuer, keys: token.KeySet{Active: token.Key{KID: "k", Algorithm: token.ES256, Private: ec.Private, Public: ec2.Public}}},
		{name: "PreviousWithoutKey", issuer: testIssuer, keys: token.KeySet{Active: ec, Previous: []token.Key{{KID: "p", Algorithm: token.ES256}}}},
		{name: "NilClock", issuer: testIssuer, keys: token.KeySet{Active: ec}, opts: []token.Option{token.WithClock(nil)}},
		{name: "NegativeCacheSize", issuer: testIssuer, keys: token.KeySet{Active: ec}, opts: []token.Option{token.WithCacheSize(-1)}},
		{name: "NegativeLeeway", issuer: testIssuer, keys: token.KeySet{Active: ec}, opts: []token.Option{token.WithLeeway(-time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iss, err := token.NewIssuer(tc.issuer, tc.keys, tc.opts...)
			require.Error(t, err)
			require.Nil(t, iss)
		})
	}

	t.Run("SetKeysErrorKeepsRing", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: ec}, token.WithClock(clock.Now))
		require.NoError(t, err)
		require.Error(t, iss.SetKeys(token.KeySet{Active: verifyOnly}))
		raw, err := iss.Sign(token.TypeManagement, fullClaims(clock.Now()))
		require.NoError(t, err)
		require.Equal(t, ec.KID, header(t, raw)["kid"])
	})
}

func TestConcurrentVerifyAndRotate(t *testing.T) {
	t.Parallel()

	b := setup(t, token.ES256, token.WithCacheSize(2048))
	next := generateKey(t, token.ES256)
	raws := make([]string, 16)
	for n := range raws {
		c := fullClaims(b.clock.Now())
		c.ID = "jti-" + string(rune('a'+n))
		raw, err := b.issuer.Sign(token.TypeManagement, c)
		require.NoError(t, err)
		raws[n] = raw
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8*len(raws)*20+100)
	for w := range 8 {
		wg.Go(func() {
			for n := range 20 * len(raws) {
				_, err := b.issuer.Verify(context.Background(), raws[(n+w)%len(raws)], token.TypeManagement, token.UseManagement)
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			// The original key always stays in the ring.
			if err := b.issuer.SetKeys(token.KeySet{Active: next, Previous: []token.Key{b.key}}); err != nil {
				errs <- err
			}
			if err := b.issuer.SetKeys(token.KeySet{Active: b.key, Previous: []token.Key{next}}); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func mustPublicPEM(t *testing.T, k token.Key) []byte {
	t.Helper()
	b, err := k.PublicPEM()
	require.NoError(t, err)
	return b
}

func b64decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// mustRSAPrivate returns an RSA private key to forge a PS256 token under the
// issuer's kid: the issuer's own key when it is RSA (same key, other alg),
// otherwise the spare RSA key.
