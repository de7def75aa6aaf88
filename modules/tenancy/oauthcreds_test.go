package tenancy_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
)

const byooSecret = "byoo-secret-value-0123456789"

func oauthCredPath(o org, provider string) string {
	return "/api/organizations/" + o.Slug + "/oauth-credentials/" + provider
}

type oauthCredJSON struct {
	Provider  string `json:"provider"`
	ClientID  string `json:"client_id"`
	HasSecret bool   `json:"has_secret"`
}

// TestOAuthCredentialsAuthorization runs the BYOO routes against every kind
// of caller. Nobody ever reads the secret back, and refused callers change
// nothing.
func TestOAuthCredentialsAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const msgSettings = "Insufficient permissions to manage organization settings"
	body := map[string]string{"client_id": "org-client-id", "client_secret": byooSecret}
	endpoints := []struct {
		Name   string
		Method string
		Body   any
		Seed   bool
		Status int
	}{
		{Name: "Set", Method: http.MethodPost, Body: body, Status: http.StatusOK},
		{Name: "Get", Method: http.MethodGet, Seed: true, Status: http.StatusOK},
		{Name: "Delete", Method: http.MethodDelete, Seed: true, Status: http.StatusNoContent},
	}
	cases := []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("Stranger", stranger, msgNotMember),
		forbiddenCase("MemberWithoutCapability", memberA, msgSettings), okCase("Admin", adminA), okCase("Owner", ownerA),
		okCase("PlatformOwner", platformOwner)}
	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					if ep.Seed {
						r := b.do(t, http.MethodPost, oauthCredPath(w.A, "github"), w.OwnerA.Token, map[string]string{"client_id": "seeded-id", "client_secret": byooSecret})
						require.Equal(t, http.StatusOK, r.status, string(r.body))
					}
					r := b.do(t, ep.Method, oauthCredPath(w.A, "github"), tc.Caller(w), ep.Body)
					require.NotContains(t, string(r.body), byooSecret)
					if tc.WantStatus != http.StatusOK {
						requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
						require.NotContains(t, string(r.body), "seeded-id")
						_, _, found, err := b.mod.Service().OrgOAuthCredentials(t.Context(), w.A.ID, "github")
						require.NoError(t, err)
						require.Equal(t, ep.Seed, found, "a refused call changes nothing")
						return
					}
					require.Equal(t, ep.Status, r.status, string(r.body))
					id, secret, found, err := b.mod.Service().OrgOAuthCredentials(t.Context(), w.A.ID, "github")
					require.NoError(t, err)
					switch ep.Name {
					case "Set":
						require.Equal(t, oauthCredJSON{Provider: "github", ClientID: "org-client-id", HasSecret: true}, decode[oauthCredJSON](t, r, http.StatusOK))
						require.True(t, found)
						require.Equal(t, "org-client-id", id)
						require.Equal(t, byooSecret, secret)
						require.Len(t, b.orgAudit(t, w.A.ID, "service.oauth_credentials.updated"), 1)
					case "Get":
						require.Equal(t, oauthCredJSON{Provider: "github", ClientID: "seeded-id", HasSecret: true}, decode[oauthCredJSON](t, r, http.StatusOK))
					case "Delete":
						require.False(t, found)
						require.Len(t, b.orgAudit(t, w.A.ID, "service.oauth_credentials.updated"), 2)
					}
				})
			}
		})
	}
}

func TestOAuthCredentialsRules(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("SecretEncryptedAtRest", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, oauthCredPath(w.A, "google"), w.OwnerA.Token, map[string]string{"client_id": "gid", "client_secret": byooSecret})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var sealed string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT secret_sealed FROM org_oauth_credentials WHERE org_id = $1`, w.A.ID).Scan(&sealed))
		require.NotContains(t, sealed, byooSecret)
		// The ciphertext is bound to its organization: copied to another org it does not open.
		_, err := b.pool.Exec(t.Context(), `INSERT INTO org_oauth_credentials (org_id, provider, client_id, secret_sealed) VALUES ($1, 'google', 'x', $2)`, w.B.ID, sealed)
		require.NoError(t, err)
		_, _, _, err = b.mod.Service().OrgOAuthCredentials(t.Context(), w.B.ID, "google")
		require.Error(t, err)
	})

	t.Run("UpsertReplaces", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		for _, id := range []string{"first", "second"} {
			r := b.do(t, http.MethodPost, oauthCredPath(w.A, "microsoft"), w.OwnerA.Token, map[string]string{"client_id": id, "client_secret": byooSecret + id})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
		}
		id, secret, found, err := b.mod.Service().OrgOAuthCredentials(t.Context(), w.A.ID, "microsoft")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, "second", id)
		require.Equal(t, byooSecret+"second", secret)
		providers, err := b.mod.Service().OrgOAuthProviders(t.Context(), w.A.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"microsoft"}, providers)
	})

	t.Run("InvalidProvider", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, oauthCredPath(w.A, "facebook"), w.OwnerA.Token, map[string]string{"client_id": "x", "client_secret": "y"})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid provider. Must be github, google, or microsoft")
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, oauthCredPath(w.A, "github"), w.OwnerA.Token, map[string]string{"client_id": " ", "client_secret": "has space"})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		requireFieldError(t, r, "body.client_id")
		requireFieldError(t, r, "body.client_secret")
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, oauthCredPath(w.A, "github"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "OAuth credentials not found for this provider")
	})

	t.Run("InactiveOrganization", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPost, oauthCredPath(w.A, "github"), w.OwnerA.Token, map[string]string{"client_id": "x", "client_secret": "y"})
		require.Equal(t, http.StatusForbidden, r.status, string(r.body))
	})
}
