package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
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

func TestVerifyRejectsAttacks(t *testing.T) {
	t.Parallel()

	for _, alg := range []token.Algorithm{token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			testVerifyRejectsAttacks(t, alg)
		})
	}
}

func testVerifyRejectsAttacks(t *testing.T, alg token.Algorithm) {
	t.Helper()
	b := setup(t, alg)
	now := b.clock.Now()
	method := jwt.GetSigningMethod(string(alg))
	kid := b.key.KID
	hdr := map[string]any{"kid": kid, "typ": token.TypeManagement}
	valid := func() *token.Claims {
		c := fullClaims(now)
		c.Issuer = testIssuer
		return &c
	}
	// signed forges with our real private key: only the claims or header
	// are wrong.
	signed := func(h map[string]any, c *token.Claims) string {
		merged := map[string]any{"kid": kid, "typ": token.TypeManagement}
		for k, v := range h {
			merged[k] = v
		}
		return forge(t, method, b.key.Private, merged, c)
	}
	pubPEM := mustPublicPEM(t, b.key)
	pubDER := pemToDER(t, pubPEM)
	other := generateKey(t, alg)
	otherAlg := token.RS256
	if alg == token.RS256 {
		otherAlg = token.ES256
	}
	otherAlgKey := generateKey(t, otherAlg)
	goodRaw, err := b.issuer.Sign(token.TypeManagement, *valid())
	require.NoError(t, err)
	goodParts := splitToken(t, goodRaw)

	tests := []struct {
		name      string
		raw       string
		typ, use  string
		audiences []string
	}{
		{name: "AlgNone", raw: segment(t, map[string]any{"alg": "none", "kid": kid, "typ": token.TypeManagement}) + "." + segment(t, valid()) + "."},
		{name: "AlgNoneWithJWTLibrary", raw: forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, valid())},
		{name: "AlgNoneUpperCase", raw: segment(t, map[string]any{"alg": "NONE", "kid": kid, "typ": token.TypeManagement}) + "." + segment(t, valid()) + "."},
		{name: "HS256WithPublicKeyPEM", raw: forge(t, jwt.SigningMethodHS256, pubPEM, hdr, valid())},
		{name: "HS256WithPublicKeyDER", raw: forge(t, jwt.SigningMethodHS256, pubDER, hdr, valid())},
		{name: "HS512WithPublicKeyPEM", raw: forge(t, jwt.SigningMethodHS512, pubPEM, hdr, valid())},
		{name: "UnknownKeyWithKnownKID", raw: forge(t, method, other.Private, hdr, valid())},
		{name: "UnknownKID", raw: forge(t, method, other.Private, map[string]any{"kid": other.KID, "typ": token.TypeManagement}, valid())},
		{name: "MissingKID", raw: signed(map[string]any{"kid": nil}, valid())},
		{name: "NonStringKID", raw: signed(map[string]any{"kid": 42}, valid())},
		{name: "OtherAlgorithmWithKnownKID", raw: forge(t, jwt.GetSigningMethod(string(otherAlg)), otherAlgKey.Private, hdr, valid())},
		{name: "PSSWithKnownKID", raw: forge(t, jwt.SigningMethodPS256, mustRSAPrivate(t, alg, b, otherAlgKey), hdr, valid())},
		{name: "WrongTypHeader", raw: signed(map[string]any{"typ": token.TypeMFAPreauth}, valid())},
		{name: "GenericTypHeader", raw: signed(map[string]any{"typ": "JWT"}, valid())},
		{name: "MissingTypHeader", raw: signed(map[string]any{"typ": nil}, valid())},
		{name: "CritHeader", raw: signed(map[string]any{"crit": []string{"exp"}}, valid())},
		{name: "WrongTokenUse", raw: signed(nil, func() *token.Claims { c := valid(); c.TokenUse = token.UseMFAPreauth; return c }())},
		{name: "MissingTokenUse", raw: signed(nil, func() *token.Claims { c := valid(); c.TokenUse = ""; return c }())},
		{name: "ExpectingOtherKind", raw: goodRaw, typ: token.TypeMFAPreauth, use: token.UseMFAPreauth},
		{name: "ExpectingOtherUse", raw: goodRaw, use: token.UseImpersonation},
		{name: "WrongIssuer", raw: signed(nil, func() *token.Claims { c := valid(); c.Issuer = "https://evil.test"; return c }())},
		{name: "MissingIssuer", raw: signed(nil, func() *token.Claims { c := valid(); c.Issuer = ""; return c }())},
		{name: "WrongAudience", raw: goodRaw, audiences: []string{"org:other"}},
		{name: "MissingAudience", raw: signed(nil, func() *token.Claims { c := valid(); c.Audience = nil; return c }()), audiences: []string{"platform"}},
		{name: "MissingExpiry", raw: signed(nil, func() *token.Claims { c := valid(); c.ExpiresAt = nil; return c }())},
		{name: "MissingSubject", raw: signed(nil, func() *token.Claims { c := valid(); c.Subject = ""; return c }())},
		{name: "NotYetValid", raw: signed(nil, func() *token.Claims { c := valid(); c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)); return c }())},
		{name: "IssuedInFuture", raw: signed(nil, func() *token.Claims { c := valid(); c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)); return c }())},
		{name: "ExpiredAndWrongIssuer", raw: signed(nil, func() *token.Claims {
			c := valid()
			c.Issuer = "https://evil.test"
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
			return c
		}())},
		{name: "TamperedPayload", raw: goodParts[0] + "." + segment(t, func() *token.Claims { c := valid(); c.Subject = "someone-else"; return c }()) + "." + goodParts[2]},
		{name: "SignatureStripped", raw: goodParts[0] + "." + goodParts[1] + "."},
		{name: "SignatureTruncated", raw: goodRaw[:len(goodRaw)-4]},
		{name: "PaddedSegment", raw: goodParts[0] + "=." + goodParts[1] + "." + goodParts[2]},
		{name: "Empty", raw: ""},
		{name: "OnePart", raw: "abc"},
		{name: "TwoParts", raw: goodParts[0] + "." + goodParts[1]},
		{name: "FourParts", raw: goodRaw + ".abc"},
		{name: "BadBase64", raw: "!!!.@@@.###"},
		{name: "HeaderNotJSON", raw: base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + goodParts[1] + "." + goodParts[2]},
		{name: "ClaimsNotJSON", raw: goodParts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + goodParts[2]},
		// exp as a string is malformed even when properly signed.
		{name: "WrongClaimTypes", raw: forge(t, method, b.key.Private, hdr, jwt.MapClaims{
			"iss": testIssuer, "sub": "u", "exp": "tomorrow", "token_use": token.UseManagement,
		})},
		{name: "AudienceNotStrings", raw: forge(t, method, b.key.Private, hdr, jwt.MapClaims{
			"iss": testIssuer, "sub": "u", "exp": now.Add(time.Hour).Unix(), "token_use": token.UseManagement, "aud": []int{1},
		})},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			typ, use := tc.typ, tc.use
			if typ == "" {
				typ = token.TypeManagement
			}
			if use == "" {
				use = token.UseManagement
			}
			// Twice, so a cached path cannot let the second attempt through.
			for range 2 {
				got, err := b.issuer.Verify(context.Background(), tc.raw, typ, use, tc.audiences...)
				require.ErrorIs(t, err, token.ErrInvalid)
				require.NotErrorIs(t, err, token.ErrExpired)
				require.Nil(t, got)
			}
		})
	}

	t.Run("HugeTokenFailsFast", func(t *testing.T) {
		t.Parallel()
		huge := goodParts[0] + "." + string(make([]byte, 1<<20)) + "." + goodParts[2]
		start := time.Now()
		_, err := b.issuer.Verify(context.Background(), huge, token.TypeManagement, token.UseManagement)
		require.ErrorIs(t, err, token.ErrInvalid)
		require.Less(t, time.Since(start), 50*time.Millisecond)
		_, unknown := b.issuer.UnknownKID(huge)
		require.False(t, unknown)
	})

	t.Run("EmptyExpectations", func(t *testing.T) {
		t.Parallel()
		_, err := b.issuer.Verify(context.Background(), goodRaw, "", "")
		require.ErrorIs(t, err, token.ErrInvalid)
	})

	t.Run("GoodTokenStillPasses", func(t *testing.T) {
		t.Parallel()
		_, err := b.issuer.Verify(context.Background(), goodRaw, token.TypeManagement, token.UseManagement)
		require.NoError(t, err)
	})
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
	errs := make(chan error, 8*len(raws)*20)
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

func splitToken(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	return parts
}

func pemToDER(t *testing.T, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}

// mustRSAPrivate returns an RSA private key to forge a PS256 token under the
// issuer's kid: the issuer's own key when it is RSA (same key, other alg),
// otherwise the spare RSA key.
func mustRSAPrivate(t *testing.T, alg token.Algorithm, b *testBundle, spare token.Key) *rsa.PrivateKey {
	t.Helper()
	k := b.key
	if alg != token.RS256 {
		k = spare
	}
	priv, ok := k.Private.(*rsa.PrivateKey)
	require.True(t, ok)
	return priv
}
