package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/mailcatch"
	"github.com/authos/authos/platform/testenv"
)

// TestE2EOrganizationStory walks the tenancy story over HTTP against the
// real api and worker binaries: a user registers and verifies (the email read
// from the SMTP capture), creates an organization (pending), the platform
// owner approves it, the owner creates a service, an end user registers to
// that service, verifies, logs in and gets a service-scoped token; the
// platform owner suspends the organization and the end user's next request
// and login are refused; after reactivation login works again.
func TestE2EOrganizationStory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.PostgresURL(t)
	catcher, err := mailcatch.Start(ctx, "127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = catcher.Close() })
	host, port := splitHostPort(t, catcher.SMTPAddr())

	env := baseEnv(t, dbURL, testenv.RedisURL(t))
	env["SMTP_HOST"], env["SMTP_PORT"], env["SMTP_TLS"] = host, port, "none"
	env["PLATFORM_OWNER_EMAIL"], env["PLATFORM_OWNER_PASSWORD"] = "root@e2e.test", "platform-owner-passphrase"
	env["ARGON2_MEMORY_KIB"], env["ARGON2_ITERATIONS"] = "8192", "1"
	env["DISABLE_RATE_LIMITING"] = "true"
	startProc(t, binary(t, "api"), env)
	startProc(t, binary(t, "worker"), env)
	base := "http://127.0.0.1:" + env["PORT"]
	waitStatus(t, base+"/health/ready", http.StatusOK, 30*time.Second)
	waitStatus(t, "http://127.0.0.1:"+env["WORKER_PORT"]+"/health/ready", http.StatusOK, 30*time.Second)

	call := func(method, path, bearer string, body any) (int, map[string]any) {
		t.Helper()
		var resp *http.Response
		var raw []byte
		if method == http.MethodGet {
			resp, raw = getWith(t, base+path, bearer)
		} else {
			req := map[string]any{}
			if body != nil {
				b, _ := json.Marshal(body)
				_ = json.Unmarshal(b, &req)
			}
			resp, raw = postJSON(t, base+path, req, bearer)
		}
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	login := func(body map[string]string) (int, map[string]any) {
		return call(http.MethodPost, "/api/auth/login", "", body)
	}
	verifyFromMail := func(to string) {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		msg, err := catcher.WaitFor(waitCtx, func(c mailcatch.Captured) bool { return len(c.To) == 1 && c.To[0] == to })
		require.NoError(t, err, "verification email for %s", to)
		i := strings.Index(msg.Text, "/auth/verify-email?token=")
		require.Positive(t, i)
		link := msg.Text[i:]
		link = link[:strings.IndexAny(link, " \n\r")]
		resp, page := getWith(t, base+link, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
		require.Contains(t, string(page), "Email Verified!")
	}

	// The platform owner.
	code, po := login(map[string]string{"email": "root@e2e.test", "password": "platform-owner-passphrase"})
	require.Equal(t, http.StatusOK, code, po)
	poToken := po["access_token"].(string)

	// A user registers, verifies and creates an organization.
	code, _ = call(http.MethodPost, "/api/auth/register", "", map[string]string{"email": "founder@e2e.test", "password": "founder-passphrase-1"})
	require.Equal(t, http.StatusOK, code)
	verifyFromMail("founder@e2e.test")
	code, founder := login(map[string]string{"email": "founder@e2e.test", "password": "founder-passphrase-1"})
	require.Equal(t, http.StatusOK, code, founder)
	founderToken := founder["access_token"].(string)
	code, created := call(http.MethodPost, "/api/organizations", founderToken, map[string]string{"slug": "acme", "name": "Acme Inc"})
	require.Equal(t, http.StatusOK, code, created)
	org := created["organization"].(map[string]any)
	require.Equal(t, "pending", org["status"])
	orgID := org["id"].(string)

	// Pending organizations cannot be used.
	code, body := call(http.MethodPost, "/api/organizations/acme/services", founderToken, map[string]any{"slug": "web", "name": "Web", "service_type": "web"})
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "ORGANIZATION_NOT_ACTIVE", body["error_code"])

	// The platform owner approves it.
	code, body = call(http.MethodPost, "/api/platform/organizations/"+orgID+"/approve", poToken, map[string]string{"tier_id": "tier_starter"})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "active", body["status"])

	// The owner creates a service.
	code, svc := call(http.MethodPost, "/api/organizations/acme/services", founderToken, map[string]any{
		"slug": "web", "name": "Web App", "service_type": "web", "redirect_uris": []string{"https://app.acme.test/callback"},
	})
	require.Equal(t, http.StatusCreated, code, svc)

	// The owner adds a plan and invites a teammate, who accepts with the
	// token from the invitation email.
	code, body = call(http.MethodPost, "/api/organizations/acme/services/web/plans", founderToken, map[string]any{
		"name": "pro", "price_cents": 1900, "currency": "usd",
	})
	require.Equal(t, http.StatusCreated, code, body)
	code, _ = call(http.MethodPost, "/api/auth/register", "", map[string]string{"email": "mate@e2e.test", "password": "teammate-passphrase-1"})
	require.Equal(t, http.StatusOK, code)
	verifyFromMail("mate@e2e.test")
	code, body = call(http.MethodPost, "/api/organizations/acme/invitations", founderToken, map[string]string{"email": "mate@e2e.test", "role": "admin"})
	require.Equal(t, http.StatusCreated, code, body)
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	invite, err := catcher.WaitFor(waitCtx, func(c mailcatch.Captured) bool {
		return len(c.To) == 1 && c.To[0] == "mate@e2e.test" && strings.Contains(c.Text, "invitations/accept?token=")
	})
	cancel()
	require.NoError(t, err)
	tok := invite.Text[strings.Index(invite.Text, "token=")+len("token="):]
	tok = tok[:strings.IndexAny(tok, " \n\r")]
	code, mate := login(map[string]string{"email": "mate@e2e.test", "password": "teammate-passphrase-1"})
	require.Equal(t, http.StatusOK, code, mate)
	code, body = call(http.MethodPost, "/api/invitations/accept", mate["access_token"].(string), map[string]string{"token": tok})
	require.Equal(t, http.StatusOK, code, body)
	code, body = call(http.MethodGet, "/api/organizations/acme/members", founderToken, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 2, body["total"])

	// An end user registers to the service, verifies and logs in.
	endUser := map[string]string{"email": "alice@e2e.test", "password": "alice-passphrase-1", "org_slug": "acme", "service_slug": "web"}
	code, body = call(http.MethodPost, "/api/auth/register", "", endUser)
	require.Equal(t, http.StatusOK, code, body)
	verifyFromMail("alice@e2e.test")
	code, alice := login(endUser)
	require.Equal(t, http.StatusOK, code, alice)
	aliceToken := alice["access_token"].(string)
	_, claims := decodeClaims(t, aliceToken)
	require.Equal(t, []any{"service:acme/web"}, claims["aud"])
	require.Equal(t, "acme", claims["org"])
	require.Equal(t, "web", claims["service"])
	code, me := call(http.MethodGet, "/api/user", aliceToken, nil)
	require.Equal(t, http.StatusOK, code, me)
	require.Equal(t, "acme", me["org"])
	require.Equal(t, "web", me["service"])

	// The end user is a tenant user: the platform scope does not know her.
	code, _ = login(map[string]string{"email": "alice@e2e.test", "password": "alice-passphrase-1"})
	require.Equal(t, http.StatusUnauthorized, code)
	// An unregistered redirect is refused.
	withRedirect := map[string]string{"email": "alice@e2e.test", "password": "alice-passphrase-1", "org_slug": "acme", "service_slug": "web", "redirect_uri": "https://app.acme.test.evil.test/callback"}
	code, body = login(withRedirect)
	require.Equal(t, http.StatusBadRequest, code, body)

	// Suspension: the next request and the next login are refused.
	code, body = call(http.MethodPost, "/api/platform/organizations/"+orgID+"/suspend", poToken, nil)
	require.Equal(t, http.StatusOK, code, body)
	code, _ = call(http.MethodGet, "/api/user", aliceToken, nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, body = login(endUser)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "ORGANIZATION_NOT_ACTIVE", body["error_code"])
	require.Equal(t, "Organization is not active. Current status: suspended", body["error"])

	// Reactivation: login works again.
	code, body = call(http.MethodPost, "/api/platform/organizations/"+orgID+"/activate", poToken, nil)
	require.Equal(t, http.StatusOK, code, body)
	code, body = login(endUser)
	require.Equal(t, http.StatusOK, code, body)

	// The audit trails saw every step.
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	for _, action := range []string{"approve_organization", "suspend_organization", "activate_organization"} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM platform_audit_log WHERE action = $1 AND target_id = $2`, action, orgID).Scan(&n))
		require.Equal(t, 1, n, action)
	}
	for _, action := range []string{"org.created", "service.created", "plan.created", "user.invited", "user.joined", "invitation.accepted", "user.signup.success", "user.login.success"} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM organization_audit_log WHERE action = $1 AND org_id = $2`, action, orgID).Scan(&n))
		require.Positive(t, n, action)
	}
}

// decodeClaims returns a JWT's header and claims without verifying it (the
// token comes from our own server in these tests; verification is tested elsewhere).
func decodeClaims(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		raw, err := base64URLDecode(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, dst))
	}
	return h, c
}
