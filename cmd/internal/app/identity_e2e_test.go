package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/testenv"
)

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func postJSON(t *testing.T, url string, body any, bearer string) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, req)
}

func getWith(t *testing.T, url, bearer string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestE2EPlatformOwnerSession walks the owner's session lifecycle against
// the real api binary: login, profile, refresh (old access token rejected),
// logout (new access token rejected); and verifies issued tokens with a JOSE
// library we did not write, fetching our JWKS over HTTP.
func TestE2EPlatformOwnerSession(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, testenv.PostgresURL(t), testenv.RedisURL(t))
	env["PLATFORM_OWNER_EMAIL"] = "owner@e2e.test"
	env["PLATFORM_OWNER_PASSWORD"] = "a-long-owner-passphrase"
	env["ARGON2_MEMORY_KIB"], env["ARGON2_ITERATIONS"] = "8192", "1"
	startProc(t, binary(t, "api"), env)
	base := "http://127.0.0.1:" + env["PORT"]
	env["BASE_URL"] = "http://localhost:8080" // the default, used as iss
	waitStatus(t, base+"/health/ready", http.StatusOK, 30*time.Second)

	resp, body := postJSON(t, base+"/api/auth/login", map[string]string{"email": "owner@e2e.test", "password": "a-long-owner-passphrase"}, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var first tokenPair
	require.NoError(t, json.Unmarshal(body, &first))
	require.NotEmpty(t, first.RefreshToken)
	require.Equal(t, 86400, first.ExpiresIn)

	resp, body = getWith(t, base+"/api/user", first.AccessToken)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var me map[string]any
	require.NoError(t, json.Unmarshal(body, &me))
	require.Equal(t, "owner@e2e.test", me["email"])
	require.Equal(t, true, me["is_platform_owner"])

	t.Run("InteropJOSEVerifiesWithJWKS", func(t *testing.T) {
		resp, body := getWith(t, base+"/.well-known/jwks.json", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(body, &set))
		require.NotEmpty(t, set.Keys)
		for _, k := range set.Keys {
			require.True(t, k.IsPublic(), "JWKS must hold public keys only")
			require.True(t, k.Valid())
		}
		tok, err := josejwt.ParseSigned(first.AccessToken, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
		require.NoError(t, err)
		require.Len(t, tok.Headers, 1)
		require.Equal(t, "authos-management+jwt", tok.Headers[0].ExtraHeaders["typ"])
		keys := set.Key(tok.Headers[0].KeyID)
		require.Len(t, keys, 1, "the token's kid is in the JWKS")
		var claims josejwt.Claims
		var extra struct {
			TokenUse string `json:"token_use"`
			SID      string `json:"sid"`
			Email    string `json:"email"`
		}
		require.NoError(t, tok.Claims(keys[0].Key, &claims, &extra))
		require.NoError(t, claims.ValidateWithLeeway(josejwt.Expected{Issuer: env["BASE_URL"], AnyAudience: josejwt.Audience{"platform"}, Time: time.Now()}, time.Minute))
		require.Equal(t, "management_access", extra.TokenUse)
		require.NotEmpty(t, extra.SID)
		require.NotEmpty(t, claims.ID)
		require.Equal(t, me["id"], claims.Subject)

		// A tampered payload fails the independent verification.
		parts := strings.Split(first.AccessToken, ".")
		forged := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
		if ftok, err := josejwt.ParseSigned(forged, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
			require.Error(t, ftok.Claims(keys[0].Key, &claims))
		}
	})

	resp, body = postJSON(t, base+"/api/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var second tokenPair
	require.NoError(t, json.Unmarshal(body, &second))
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)

	resp, _ = getWith(t, base+"/api/user", first.AccessToken)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the refreshed-away access token stops working")
	resp, _ = getWith(t, base+"/api/user", second.AccessToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, body = postJSON(t, base+"/api/auth/logout", struct{}{}, second.AccessToken)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.JSONEq(t, `{"message":"Logged out successfully"}`, string(body))

	resp, body = getWith(t, base+"/api/user", second.AccessToken)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	var problem map[string]any
	require.NoError(t, json.Unmarshal(body, &problem))
	require.Equal(t, "UNAUTHORIZED", problem["error_code"])
	resp, _ = postJSON(t, base+"/api/auth/refresh", map[string]string{"refresh_token": second.RefreshToken}, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "logout also ends the refresh token")
	_ = context.Background
}
