package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/redis"
	"github.com/authos/authos/platform/testenv"
)

// scopedApp is the whole API in-process (all modules wired as in
// production) on a private database, for the cross-module auth rules.
type scopedApp struct {
	srv  *httptest.Server
	pool *pgxpool.Pool
	ring *crypto.KeyRing
}

func newScopedApp(t *testing.T) *scopedApp {
	t.Helper()
	env := map[string]string{
		"AUTHOS_ENV": "test", "SMTP_HOST": "127.0.0.1", "SMTP_TLS": "none", "DISABLE_RATE_LIMITING": "true",
		"ARGON2_MEMORY_KIB": "8192", "ARGON2_ITERATIONS": "1",
		"PLATFORM_OWNER_EMAIL": "root@scoped.test", "PLATFORM_OWNER_PASSWORD": "root-passphrase-1",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	pool := testenv.Postgres(t)
	rdb, err := redis.NewClient(t.Context(), testenv.RedisURL(t))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	queue, err := jobs.NewInsertOnlyClient(pool, logger)
	require.NoError(t, err)
	mods, err := buildModules(moduleDeps{cfg: cfg, pool: pool, rdb: rdb, queue: queue, logger: logger, redisPrefix: testenv.KeyPrefix(t)})
	require.NoError(t, err)
	require.NoError(t, mods.identity.Start(t.Context()))
	handler, _, err := buildAPI(cfg, logger, pool, mods)
	t.Cleanup(mods.stop)
	require.NoError(t, err)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	ring, err := keyRing(cfg)
	require.NoError(t, err)
	return &scopedApp{srv: srv, pool: pool, ring: ring}
}

func (a *scopedApp) call(t *testing.T, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// verify opens the verification link of the newest verify_email job to `to`.
func (a *scopedApp) verify(t *testing.T, to string) {
	t.Helper()
	var sealed string
	err := a.pool.QueryRow(t.Context(), `SELECT args->>'sealed_data' FROM river_job
		WHERE kind = 'email.send' AND args->>'to' = $1 AND args->>'template' = 'verify_email' ORDER BY id DESC LIMIT 1`, to).Scan(&sealed)
	require.NoError(t, err)
	raw, err := a.ring.Open(sealed, []byte("email.send:"+to+":verify_email"))
	require.NoError(t, err)
	var data struct{ Link string }
	require.NoError(t, json.Unmarshal(raw, &data))
	u, err := url.Parse(data.Link)
	require.NoError(t, err)
	resp, err := http.Get(a.srv.URL + u.RequestURI())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func (a *scopedApp) user(t *testing.T, body map[string]string) string {
	t.Helper()
	code, out := a.call(t, http.MethodPost, "/api/auth/register", "", body)
	require.Equal(t, http.StatusOK, code, out)
	a.verify(t, body["email"])
	code, out = a.call(t, http.MethodPost, "/api/auth/login", "", body)
	require.Equal(t, http.StatusOK, code, out)
	return out["access_token"].(string)
}

func TestScopedAuthentication(t *testing.T) {
	t.Parallel()
	a := newScopedApp(t)
	_, po := a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "root@scoped.test", "password": "root-passphrase-1"})
	poToken := po["access_token"].(string)
	founder := a.user(t, map[string]string{"email": "founder@scoped.test", "password": "founder-passphrase-1"})
	outsider := a.user(t, map[string]string{"email": "outsider@scoped.test", "password": "outsider-passphrase-1"})
	_, created := a.call(t, http.MethodPost, "/api/organizations", founder, map[string]string{"slug": "acme", "name": "Acme"})
	orgID := created["organization"].(map[string]any)["id"].(string)

	t.Run("ContextOfAPendingOrganizationOffersNothing", func(t *testing.T) {
		code, out := a.call(t, http.MethodGet, "/api/auth/context?org=acme", "", nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "pending", out["organization"].(map[string]any)["status"])
		require.Empty(t, out["auth_methods"])
		code, _ = a.call(t, http.MethodGet, "/api/auth/context?org=nope", "", nil)
		require.Equal(t, http.StatusNotFound, code)
	})

	code, out := a.call(t, http.MethodPost, "/api/platform/organizations/"+orgID+"/approve", poToken, map[string]string{})
	require.Equal(t, http.StatusOK, code, out)
	for _, slug := range []string{"web", "api"} {
		code, out = a.call(t, http.MethodPost, "/api/organizations/acme/services", founder, map[string]any{
			"slug": slug + "app", "name": slug, "service_type": "web", "redirect_uris": []string{"https://" + slug + ".acme.test/cb"},
		})
		require.Equal(t, http.StatusCreated, code, out)
	}

	t.Run("OrgOnlyLoginNeedsMembership", func(t *testing.T) {
		code, out := a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "founder@scoped.test", "password": "founder-passphrase-1", "org_slug": "acme"})
		require.Equal(t, http.StatusOK, code, out)
		code, me := a.call(t, http.MethodGet, "/api/user", out["access_token"].(string), nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "acme", me["org"])
		require.Empty(t, me["service"])
		code, out = a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "outsider@scoped.test", "password": "outsider-passphrase-1", "org_slug": "acme"})
		require.Equal(t, http.StatusForbidden, code, out)
		require.Equal(t, "You are not a member of this organization", out["error"])
		_ = outsider
	})

	t.Run("VerifyingTheEmailAcceptsPendingInvitations", func(t *testing.T) {
		code, out := a.call(t, http.MethodPost, "/api/organizations/acme/invitations", founder, map[string]string{"email": "newbie@scoped.test", "role": "member"})
		require.Equal(t, http.StatusCreated, code, out)
		creds := map[string]string{"email": "newbie@scoped.test", "password": "newbie-passphrase-1", "org_slug": "acme"}
		code, out = a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{"email": creds["email"], "password": creds["password"]})
		require.Equal(t, http.StatusOK, code, out)
		// Registration alone proves nothing about the address: not a member yet.
		var members int
		require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1`, creds["email"]).Scan(&members))
		require.Zero(t, members)
		a.verify(t, creds["email"])
		code, out = a.call(t, http.MethodPost, "/api/auth/login", "", creds)
		require.Equal(t, http.StatusOK, code, out)
	})

	t.Run("ContextOfAnActiveService", func(t *testing.T) {
		code, out := a.call(t, http.MethodGet, "/api/auth/context?org=acme&service=webapp&redirect_uri="+url.QueryEscape("https://web.acme.test/cb"), "", nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, []any{"password"}, out["auth_methods"])
		require.Equal(t, true, out["service"].(map[string]any)["redirect_uri_valid"])
		_, out = a.call(t, http.MethodGet, "/api/auth/context?org=acme&service=webapp&redirect_uri="+url.QueryEscape("https://web.acme.test/cb/../x"), "", nil)
		require.Equal(t, false, out["service"].(map[string]any)["redirect_uri_valid"])
		code, _ = a.call(t, http.MethodGet, "/api/auth/context?org=acme&service=nope", "", nil)
		require.Equal(t, http.StatusNotFound, code)
	})

	t.Run("ServiceLoginNeedsThatServicesIdentityAndRespectsMAU", func(t *testing.T) {
		// One monthly active user allowed on this tier.
		_, err := a.pool.Exec(t.Context(), `UPDATE organization_tiers SET features = jsonb_set(features, '{max_mau}', '1') WHERE id = 'tier_free'`)
		require.NoError(t, err)
		alice := map[string]string{"email": "alice@scoped.test", "password": "alice-passphrase-1", "org_slug": "acme", "service_slug": "webapp"}
		aliceToken := a.user(t, alice)
		require.NotEmpty(t, aliceToken)
		// End users administer nothing.
		code, out := a.call(t, http.MethodPost, "/api/organizations", aliceToken, map[string]string{"slug": "alice-co", "name": "Alice Co"})
		require.Equal(t, http.StatusForbidden, code, out)

		// Alice registered to webapp only.
		other := map[string]string{"email": "alice@scoped.test", "password": "alice-passphrase-1", "org_slug": "acme", "service_slug": "apiapp"}
		code, out = a.call(t, http.MethodPost, "/api/auth/login", "", other)
		require.Equal(t, http.StatusForbidden, code, out)
		require.Equal(t, "You do not have access to this service", out["error"])

		bob := map[string]string{"email": "bob@scoped.test", "password": "bob-passphrase-12", "org_slug": "acme", "service_slug": "webapp"}
		code, out = a.call(t, http.MethodPost, "/api/auth/register", "", bob)
		require.Equal(t, http.StatusOK, code, out)
		a.verify(t, bob["email"])
		code, out = a.call(t, http.MethodPost, "/api/auth/login", "", bob)
		require.Equal(t, http.StatusBadRequest, code, out)
		require.Equal(t, "SERVICE_LIMIT_EXCEEDED", out["error_code"])
		require.True(t, strings.Contains(out["error"].(string), "(1/1)"), out["error"])

		// Alice is already active this month and keeps signing in.
		code, out = a.call(t, http.MethodPost, "/api/auth/login", "", alice)
		require.Equal(t, http.StatusOK, code, out)
	})

	t.Run("ServiceAPIWithAnAPIKey", func(t *testing.T) {
		code, out := a.call(t, http.MethodPost, "/api/organizations/acme/services/webapp/api-keys", founder,
			map[string]any{"name": "backend", "permissions": []string{"read:users", "write:users"}})
		require.Equal(t, http.StatusCreated, code, out)
		key := out["key"].(string)
		withKey := func(method, path string, body any) (int, map[string]any) {
			t.Helper()
			var r io.Reader
			if body != nil {
				b, _ := json.Marshal(body)
				r = bytes.NewReader(b)
			}
			req, err := http.NewRequest(method, a.srv.URL+path, r)
			require.NoError(t, err)
			req.Header.Set("X-Api-Key", key)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got := map[string]any{}
			raw, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(raw, &got)
			return resp.StatusCode, got
		}
		code, out = withKey(http.MethodPost, "/api/service/users", map[string]string{"email": "backend-user@scoped.test"})
		require.Equal(t, http.StatusCreated, code, out)
		userID := out["id"].(string)
		code, out = withKey(http.MethodGet, "/api/service/users/"+userID, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "backend-user@scoped.test", out["email"])
		// A founder's JWT is not an API key.
		code, _ = a.call(t, http.MethodGet, "/api/service/users/"+userID, founder, nil)
		require.Equal(t, http.StatusUnauthorized, code)

		// Deleting the key stops it on the next request.
		code, list := a.call(t, http.MethodGet, "/api/organizations/acme/services/webapp/api-keys", founder, nil)
		require.Equal(t, http.StatusOK, code, list)
		keyID := list["api_keys"].([]any)[0].(map[string]any)["id"].(string)
		code, _ = a.call(t, http.MethodDelete, "/api/organizations/acme/services/webapp/api-keys/"+keyID, founder, nil)
		require.Equal(t, http.StatusNoContent, code)
		code, out = withKey(http.MethodGet, "/api/service/users/"+userID, nil)
		require.Equal(t, http.StatusUnauthorized, code, out)
	})
}
