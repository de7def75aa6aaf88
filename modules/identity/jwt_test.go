package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/httpapi"
)

type jwks struct {
	Keys []map[string]any `json:"keys"`
}

func (a *app) jwks(t *testing.T) jwks {
	t.Helper()
	r := a.get(t, "/.well-known/jwks.json")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, "public, max-age=300", r.header.Get("Cache-Control"))
	var set jwks
	require.NoError(t, json.Unmarshal(r.body, &set))
	return set
}

func kids(set jwks) []any {
	out := make([]any, 0, len(set.Keys))
	for _, k := range set.Keys {
		out = append(out, k["kid"])
	}
	return out
}

func TestJWKS(t *testing.T) {
	t.Parallel()

	t.Run("PublishesTheActivePublicKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		set := b.jwks(t)
		require.Len(t, set.Keys, 1)
		k := set.Keys[0]
		require.Equal(t, b.activeKey(t).KID, k["kid"])
		require.Equal(t, "EC", k["kty"])
		require.Equal(t, "P-256", k["crv"])
		require.Equal(t, "ES256", k["alg"])
		require.Equal(t, "sig", k["use"])
		require.NotContains(t, k, "d", "the private key must never be published")
	})

	t.Run("ImportsTheOperatorsKeyAndPublishesPreviousOnes", func(t *testing.T) {
		t.Parallel()
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		require.NoError(t, err)
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		old, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		oldDER, err := x509.MarshalPKIXPublicKey(&old.PublicKey)
		require.NoError(t, err)
		oldPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: oldDER})
		previous, err := identity.ParsePreviousPublicKeys(`{"old-kid":"` + base64.StdEncoding.EncodeToString(oldPEM) + `"}`)
		require.NoError(t, err)

		b := setup(t, func(c *identity.Config) {
			c.Keys.ImportPrivatePEM, c.Keys.ImportKID, c.Keys.PreviousPublic = pemBytes, "operator-kid", previous
		})
		require.Equal(t, []any{"operator-kid", "old-kid"}, kids(b.jwks(t)))
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		header, _ := decodeJWT(t, tp.AccessToken)
		require.Equal(t, "operator-kid", header["kid"])
		// The token verifies with the operator's own public key.
		parsed, err := jwt.Parse(tp.AccessToken, func(*jwt.Token) (any, error) { return &priv.PublicKey, nil }, jwt.WithValidMethods([]string{"ES256"}))
		require.NoError(t, err)
		require.True(t, parsed.Valid)
	})

	t.Run("RotationKeepsOldTokensValid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		before := b.login(t, "ada@example.test", goodPassword)
		oldKID := b.activeKey(t).KID

		newKID, err := b.mod.RotateKeys(t.Context())
		require.NoError(t, err)
		require.NotEqual(t, oldKID, newKID)
		require.Equal(t, newKID, b.activeKey(t).KID)

		require.Equal(t, []any{newKID, oldKID}, kids(b.jwks(t)))
		b.requireTokenWorks(t, before.AccessToken)
		after := b.login(t, "ada@example.test", goodPassword)
		h, _ := decodeJWT(t, after.AccessToken)
		require.Equal(t, newKID, h["kid"])
		b.requireTokenWorks(t, after.AccessToken)

		// Refreshing an old session signs with the new key.
		refreshed := decodeTokens(t, b.refresh(t, before.RefreshToken))
		h, _ = decodeJWT(t, refreshed.AccessToken)
		require.Equal(t, newKID, h["kid"])
	})

	t.Run("AnotherReplicaPicksUpARotation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		replica := b.newApp(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		newKID, err := b.mod.RotateKeys(t.Context())
		require.NoError(t, err)
		tp := b.login(t, "ada@example.test", goodPassword)
		// A token under a kid the replica has not loaded yet makes it
		// reload, at most once per 10 s.
		b.clock.Advance(11 * time.Second)
		replica.requireTokenWorks(t, tp.AccessToken)
		require.Equal(t, newKID, kids(replica.jwks(t))[0])
	})

	t.Run("KeysRetireAfterTheirTokensExpired", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.activeKey(t).KID
		second, err := b.mod.RotateKeys(t.Context())
		require.NoError(t, err)
		b.clock.Advance(25 * time.Hour)
		third, err := b.mod.RotateKeys(t.Context())
		require.NoError(t, err)
		set := kids(b.jwks(t))
		require.Equal(t, []any{third, second}, set)
		require.NotContains(t, set, first)
	})
}

// TestAccessTokenAttacks sends forged and tampered tokens to GET /api/user.
// Forgeries start from the claims of a genuine token so that each differs
// from an accepted token only in what the case names; the control case
// proves the forging itself yields acceptable tokens.
func TestAccessTokenAttacks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.test", goodPassword)
	genuine := b.login(t, "ada@example.test", goodPassword)
	header, claims := decodeJWT(t, genuine.AccessToken)
	require.Equal(t, u.ID.String(), claims["sub"])
	key := b.activeKey(t)
	priv := ecdsaKey(t, key)
	pubPEM, err := key.PublicPEM()
	require.NoError(t, err)
	stranger, err := token.GenerateKey(token.ES256)
	require.NoError(t, err)

	with := func(m map[string]any, kv ...any) map[string]any {
		out := maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
				continue
			}
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	now := b.clock.Now()
	parts := strings.Split(genuine.AccessToken, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)

	type attack struct {
		Name     string
		Token    func(t *testing.T) string
		WantCode string // "" means accepted
		WantMsg  string
	}
	cases := []attack{
		{Name: "ControlForgedWithTheRealKeyIsAccepted", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, claims)
		}},
		{Name: "Malformed", Token: func(*testing.T) string { return "not.a.jwt" }, WantCode: "JWT_ERROR", WantMsg: "Invalid token"},
		{Name: "NotAJWTAtAll", Token: func(*testing.T) string { return "garbage" }, WantCode: "JWT_ERROR"},
		{Name: "TwoParts", Token: func(*testing.T) string { return parts[0] + "." + parts[1] }, WantCode: "JWT_ERROR"},
		{Name: "TamperedPayload", Token: func(t *testing.T) string {
			p, err := json.Marshal(with(claims, "is_platform_owner", true))
			require.NoError(t, err)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		}, WantCode: "JWT_ERROR"},
		{Name: "HighSTwinOfAGenuineSignature", Token: func(*testing.T) string {
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(highS(sig))
		}, WantCode: "JWT_ERROR"},
		{Name: "UnknownKey", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, ecdsaKey(t, stranger), with(header, "kid", stranger.KID), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "UnknownKeyClaimingTheRealKID", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, ecdsaKey(t, stranger), header, claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "AlgNone", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, with(header, "alg", "none"), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "HS256WithThePublicKeyAsSecret", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodHS256, pubPEM, with(header, "alg", "HS256"), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "NoKID", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, with(header, "kid", nil), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "CritHeader", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, with(header, "crit", []string{"exp"}), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "WrongIssuer", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "iss", "https://evil.test"))
		}, WantCode: "JWT_ERROR"},
		{Name: "WrongTyp", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, with(header, "typ", "JWT"), claims)
		}, WantCode: "JWT_ERROR"},
		{Name: "ResourceTyp", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, with(header, "typ", "at+jwt"), with(claims, "token_use", "external_resource_access"))
		}, WantCode: "JWT_ERROR"},
		{Name: "MFAPreauthToken", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, with(header, "typ", "authos-mfa-preauth+jwt"), with(claims, "token_use", "mfa_preauth"))
		}, WantCode: "JWT_ERROR"},
		{Name: "WrongTokenUse", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "token_use", "impersonation"))
		}, WantCode: "JWT_ERROR"},
		{Name: "NoExpiry", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "exp", nil))
		}, WantCode: "JWT_ERROR"},
		{Name: "IssuedInTheFuture", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "iat", now.Add(time.Hour).Unix()))
		}, WantCode: "JWT_ERROR"},
		{Name: "ExpiredButGenuinelySigned", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "iat", now.Add(-48*time.Hour).Unix(), "exp", now.Add(-24*time.Hour).Unix()))
		}, WantCode: "TOKEN_EXPIRED", WantMsg: "Token expired"},
		{Name: "OtherUsersSubjectOnThisSession", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "sub", uuid.NewString()))
		}, WantCode: "JWT_ERROR"},
		{Name: "UnknownSession", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "sid", uuid.NewString()))
		}, WantCode: "UNAUTHORIZED", WantMsg: msgSessionRevoked},
		{Name: "OtherJTIOnThisSession", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "jti", "forged-jti"))
		}, WantCode: "UNAUTHORIZED", WantMsg: msgSessionRevoked},
		{Name: "NoSessionID", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "sid", nil))
		}, WantCode: "JWT_ERROR"},
		{Name: "NoSubject", Token: func(t *testing.T) string {
			return forge(t, jwt.SigningMethodES256, priv, header, with(claims, "sub", nil))
		}, WantCode: "JWT_ERROR"},
		{Name: "Oversized", Token: func(*testing.T) string { return strings.Repeat("a", 9000) }, WantCode: "JWT_ERROR"},
	}
	// The forgeries share the bundle and run in parallel inside this group;
	// the clock-driven case below runs after all of them.
	t.Run("Forgeries", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				r := b.get(t, "/api/user", bearer(tc.Token(t)))
				if tc.WantCode == "" {
					require.Equal(t, http.StatusOK, r.status, string(r.body))
					return
				}
				requireProblem(t, r, http.StatusUnauthorized, tc.WantCode, tc.WantMsg)
			})
		}
	})

	// aud is not checked on management tokens: the session row, not the
	// claim, decides the scope (OrgID/ServiceID of the principal). Pinned
	// here so that adding the check is a visible decision.
	t.Run("WrongAudienceIsNotCheckedForManagementTokens", func(t *testing.T) {
		forged := forge(t, jwt.SigningMethodES256, priv, header, with(claims, "aud", []string{"org:acme"}))
		r := b.get(t, "/api/user", bearer(forged))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	})

	// The clock-driven cases run last: they move the clock of the whole bundle.
	t.Run("ExpiredByTheClock", func(t *testing.T) {
		b.requireTokenWorks(t, genuine.AccessToken)
		b.clock.Advance(24*time.Hour + token.DefaultLeeway + time.Second)
		requireProblem(t, b.get(t, "/api/user", bearer(genuine.AccessToken)), http.StatusUnauthorized, "TOKEN_EXPIRED", "Token expired")
	})
}

// TestAccessTokenOfAnotherIssuer checks that tokens of another AuthOS
// deployment (same key material imported, other BASE_URL) are refused.
func TestAccessTokenOfAnotherIssuer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedUser(t, "ada@example.test", goodPassword)
	other := b.newApp(t, func(c *identity.Config) { c.BaseURL = "https://other.identity.test" })
	tp := other.login(t, "ada@example.test", goodPassword)
	_, c := decodeJWT(t, tp.AccessToken)
	require.Equal(t, "https://other.identity.test", c["iss"])
	requireProblem(t, b.get(t, "/api/user", bearer(tp.AccessToken)), http.StatusUnauthorized, "JWT_ERROR", "Invalid token")
	other.requireTokenWorks(t, tp.AccessToken)
}

// TestMissingCredentials checks the 401 of a protected route without one.
func TestMissingCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, h := range []reqOpt{
		func(*http.Request) {},
		func(r *http.Request) { r.Header.Set("Authorization", "Basic YWRhOnB3") },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
	} {
		requireProblem(t, b.get(t, "/api/user", h), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	}
}
