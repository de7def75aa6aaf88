package tenancy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/httpapi"
)

const msgManageAPIKeys = "Insufficient permissions to manage API keys for this service"

// apiKeyPattern is the exact key format of spec §8.2.
var apiKeyPattern = regexp.MustCompile(`^sk_[0-9a-f]{12}_[0-9a-f]{64}$`)

type apiKeyJSON struct {
	ID          string     `json:"id"`
	ServiceID   string     `json:"service_id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Permissions []string   `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *string    `json:"created_by"`
	Key         *string    `json:"key"`
}

type apiKeyListJSON struct {
	APIKeys []apiKeyJSON `json:"api_keys"`
	Total   int          `json:"total"`
}

// apiKeysPath is …/services/{slug}/api-keys, plus rest.
func apiKeysPath(s svc, rest ...string) string {
	return servicesPath(s.Org, append([]string{s.Slug, "api-keys"}, rest...)...)
}

// createAPIKey creates a key of s through the service as its
// organization's owner and returns it with its secret.
func (b *testBundle) createAPIKey(t *testing.T, s svc, name string, perms ...string) tenancy.CreatedAPIKey {
	t.Helper()
	if len(perms) == 0 {
		perms = []string{"read:users"}
	}
	res, err := b.mod.Service().CreateAPIKey(t.Context(), tenancy.Actor{UserID: s.Org.Owner.ID, Email: s.Org.Owner.Email},
		s.Org.Slug, s.Slug, tenancy.NewAPIKey{Name: name, Permissions: perms})
	require.NoError(t, err)
	return res
}

// storedAPIKey returns the stored prefix and hash of a key, and whether
// the row exists.
func (b *testBundle) storedAPIKey(t *testing.T, id string) (prefix, hash string, ok bool) {
	t.Helper()
	err := b.pool.QueryRow(t.Context(), `SELECT prefix, key_hash FROM api_keys WHERE id = $1`, id).Scan(&prefix, &hash)
	if err != nil {
		require.ErrorIs(t, db.MapError(err), db.ErrNotFound)
		return "", "", false
	}
	return prefix, hash, true
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// apiKeyFixture is one matrix case's world with a service of org A and a
// key of it.
type apiKeyFixture struct {
	w   world
	s   svc
	key tenancy.CreatedAPIKey
}

func TestAPIKeyAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)

	keyPath := func(f apiKeyFixture) string { return apiKeysPath(f.s, f.key.Key.ID.String()) }
	listPath := func(f apiKeyFixture) string { return apiKeysPath(f.s) }
	refused := func() []matrixCase {
		return []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
			forbiddenCase("Stranger", stranger, msgNotMember), forbiddenCase("MemberWithoutCapability", memberA, msgManageAPIKeys)}
	}
	endpoints := []struct {
		Name   string
		Method string
		Path   func(f apiKeyFixture) string
		Body   any
		Cases  []matrixCase
	}{
		{Name: "CreateAPIKey", Method: http.MethodPost, Path: listPath,
			Body:  map[string]any{"name": "Backend", "permissions": []string{"read:users"}},
			Cases: append(refused(), statusCase("Admin", adminA, http.StatusCreated), statusCase("Owner", ownerA, http.StatusCreated))},
		{Name: "ListAPIKeys", Method: http.MethodGet, Path: listPath,
			Cases: append(refused(), okCase("Admin", adminA), okCase("Owner", ownerA))},
		{Name: "GetAPIKey", Method: http.MethodGet, Path: keyPath,
			Cases: append(refused(), okCase("Admin", adminA), okCase("Owner", ownerA))},
		{Name: "DeleteAPIKey", Method: http.MethodDelete, Path: keyPath,
			Cases: append(refused(), statusCase("Admin", adminA, http.StatusNoContent), statusCase("Owner", ownerA, http.StatusNoContent))},
	}

	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					s := b.createService(t, w.A)
					f := apiKeyFixture{w: w, s: s, key: b.createAPIKey(t, s, "Existing")}
					r := b.do(t, ep.Method, ep.Path(f), tc.Caller(w), ep.Body)
					if tc.WantCode == "" {
						require.Equal(t, tc.WantStatus, r.status, string(r.body))
						return
					}
					requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
					// A refused caller never sees the organization's data.
					for _, secret := range []string{w.A.ID.String(), s.ID.String(), f.key.Key.ID.String(), f.key.Key.Prefix, f.key.Secret, "Existing"} {
						require.NotContains(t, string(r.body), secret)
					}
					var n int
					require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE service_id = $1`, s.ID).Scan(&n))
					require.Equal(t, 1, n, "a refused request changes nothing")
				})
			}
		})
	}

	t.Run("InactiveOrganizationGate", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		f := apiKeyFixture{w: w, s: s, key: b.createAPIKey(t, s, "Existing")}
		for _, status := range []tenancy.OrgStatus{tenancy.StatusSuspended, tenancy.StatusPending, tenancy.StatusRejected} {
			b.setStatus(t, w.A, status)
			for _, ep := range endpoints {
				r := b.do(t, ep.Method, ep.Path(f), w.OwnerA.Token, ep.Body)
				requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive,
					"Organization is not active. Current status: "+string(status))
			}
		}
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE service_id = $1`, s.ID).Scan(&n))
		require.Equal(t, 1, n, "nothing changed behind the gate")
	})

	t.Run("UnknownServiceIs404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, servicesPath(w.A, newSlug("nope"), "api-keys"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
	})
}

func TestCreateAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ReturnsKeyOnceAndStoresOnlyItsHash", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPost, apiKeysPath(s), w.AdminA.Token, map[string]any{
			"name": "  Backend  ", "permissions": []string{"read:users", "write:subscriptions", "read:users", "read:provider_tokens:github"},
			"expires_in_days": 30,
		})
		got := decode[apiKeyJSON](t, r, http.StatusCreated)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		require.NotNil(t, got.Key)
		key := *got.Key
		require.Regexp(t, apiKeyPattern, key)
		require.Equal(t, key[:15], got.Prefix)
		require.Equal(t, s.ID.String(), got.ServiceID)
		require.Equal(t, "Backend", got.Name)
		require.Equal(t, []string{"read:users", "write:subscriptions", "read:provider_tokens:github"}, got.Permissions)
		require.NotNil(t, got.CreatedBy)
		require.Equal(t, w.AdminA.ID.String(), *got.CreatedBy)
		require.True(t, b.now.Equal(got.CreatedAt))
		require.NotNil(t, got.ExpiresAt)
		require.True(t, b.now.Add(30*24*time.Hour).Equal(*got.ExpiresAt))
		require.Nil(t, got.LastUsedAt)

		prefix, hash, ok := b.storedAPIKey(t, got.ID)
		require.True(t, ok)
		require.Equal(t, got.Prefix, prefix)
		require.Equal(t, sha256Hex(key), hash)
		var dump string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT row_to_json(k)::text FROM api_keys k WHERE id = $1`, got.ID).Scan(&dump))
		require.NotContains(t, dump, key[16:], "the secret part is stored nowhere")

		// Listing and reading never show the key or its hash.
		for _, path := range []string{apiKeysPath(s), apiKeysPath(s, got.ID)} {
			r := b.do(t, http.MethodGet, path, w.OwnerA.Token, nil)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			require.NotContains(t, string(r.body), key[16:])
			require.NotContains(t, string(r.body), hash)
			require.NotContains(t, string(r.body), `"key"`)
			require.NotContains(t, string(r.body), "key_hash")
			require.Contains(t, string(r.body), got.Prefix)
		}

		rows := b.orgAudit(t, w.A.ID, "api_key.created")
		require.Len(t, rows, 1)
		require.Equal(t, "api_key", rows[0].TargetType)
		require.Equal(t, got.ID, rows[0].TargetID)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, map[string]any{
			"api_key_id": got.ID, "service_id": s.ID.String(), "service_slug": s.Slug, "name": "Backend",
			"permissions": []any{"read:users", "write:subscriptions", "read:provider_tokens:github"},
			"expires_at":  got.ExpiresAt.UTC().Format(time.RFC3339),
		}, rows[0].Details)
		require.NotContains(t, rows[0].Details, "key")
	})

	t.Run("WithoutExpiryNeverExpires", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPost, apiKeysPath(s), w.OwnerA.Token, map[string]any{"name": "Forever", "permissions": []string{"read:service"}})
		got := decode[apiKeyJSON](t, r, http.StatusCreated)
		require.Nil(t, got.ExpiresAt)
		rows := b.orgAudit(t, w.A.ID, "api_key.created")
		require.Len(t, rows, 1)
		require.Contains(t, rows[0].Details, "expires_at")
		require.Nil(t, rows[0].Details["expires_at"])
	})

	t.Run("EveryAllowlistedPermission", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		perms := append(tenancy.APIKeyPermissions(), "read:provider_tokens:google", "read:provider_tokens:Conn_1.a-b")
		r := b.do(t, http.MethodPost, apiKeysPath(s), w.OwnerA.Token, map[string]any{"name": "All", "permissions": perms})
		got := decode[apiKeyJSON](t, r, http.StatusCreated)
		require.Equal(t, perms, got.Permissions)
	})

	t.Run("ValidationIs422", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		cases := []struct {
			Name     string
			Body     map[string]any
			Location string
		}{
			{"EmptyName", map[string]any{"name": "", "permissions": []string{"read:users"}}, "body.name"},
			{"BlankName", map[string]any{"name": "   ", "permissions": []string{"read:users"}}, "body.name"},
			{"LongName", map[string]any{"name": strings.Repeat("n", 101), "permissions": []string{"read:users"}}, "body.name"},
			{"MissingPermissions", map[string]any{"name": "K"}, "body"}, // Huma: required property absent
			{"NoPermissions", map[string]any{"name": "K", "permissions": []string{}}, "body.permissions"},
			{"UnknownPermission", map[string]any{"name": "K", "permissions": []string{"read:users", "admin:all"}}, "body.permissions[1]"},
			{"BadProviderSuffix", map[string]any{"name": "K", "permissions": []string{"read:provider_tokens:git hub"}}, "body.permissions[0]"},
			{"EmptyProviderSuffix", map[string]any{"name": "K", "permissions": []string{"read:provider_tokens:"}}, "body.permissions[0]"},
			{"ProviderOnOtherPermission", map[string]any{"name": "K", "permissions": []string{"read:users:github"}}, "body.permissions[0]"},
			{"ExpiresInZeroDays", map[string]any{"name": "K", "permissions": []string{"read:users"}, "expires_in_days": 0}, "body.expires_in_days"},
			{"ExpiresTooLate", map[string]any{"name": "K", "permissions": []string{"read:users"}, "expires_in_days": 3651}, "body.expires_in_days"},
		}
		// The group returns once its parallel cases are done.
		t.Run("Cases", func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					requireFieldError(t, b.do(t, http.MethodPost, apiKeysPath(s), w.OwnerA.Token, tc.Body), tc.Location)
				})
			}
		})
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE service_id = $1`, s.ID).Scan(&n))
		require.Zero(t, n)
		require.Empty(t, b.orgAudit(t, w.A.ID, "api_key.created"))
	})

	t.Run("ServiceValidatesWithoutHTTP", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		days := 0
		_, err := b.mod.Service().CreateAPIKey(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug, s.Slug,
			tenancy.NewAPIKey{Name: "", Permissions: nil, ExpiresInDays: &days})
		var verrs tenancy.ValidationErrors
		require.ErrorAs(t, err, &verrs)
		var fields []string
		for _, v := range verrs {
			fields = append(fields, v.Field)
		}
		require.ElementsMatch(t, []string{"body.name", "body.permissions", "body.expires_in_days"}, fields)
	})

	t.Run("PrefixesAreUnique", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		seen := map[string]bool{}
		for range 20 {
			k := b.createAPIKey(t, s, "Many")
			require.Regexp(t, apiKeyPattern, k.Secret)
			require.False(t, seen[k.Key.Prefix])
			seen[k.Key.Prefix] = true
		}
		// The schema refuses a second key with a taken prefix.
		k := b.createAPIKey(t, s, "Original")
		_, err := b.pool.Exec(t.Context(), `INSERT INTO api_keys (id, org_id, service_id, name, prefix, key_hash, permissions)
			VALUES ($1, $2, $3, 'Clash', $4, $5, '["read:users"]')`, uuid.New(), w.A.ID, s.ID, k.Key.Prefix, sha256Hex("other"))
		err = db.MapError(err)
		require.ErrorIs(t, err, db.ErrUnique)
		require.Equal(t, "api_keys_prefix_key", db.ConstraintName(err))
	})

	t.Run("SchemaKeepsKeysInsideTheirOrganization", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		sB := b.createService(t, w.B)
		_, err := b.pool.Exec(t.Context(), `INSERT INTO api_keys (id, org_id, service_id, name, prefix, key_hash, permissions)
			VALUES ($1, $2, $3, 'Cross', 'sk_0123456789ab', $4, '["read:users"]')`, uuid.New(), w.A.ID, sB.ID, sha256Hex("x"))
		require.ErrorIs(t, db.MapError(err), db.ErrForeignKey)
		_, err = b.pool.Exec(t.Context(), `INSERT INTO api_keys (id, org_id, service_id, name, prefix, key_hash, permissions)
			VALUES ($1, $2, $3, 'Empty', 'sk_0123456789ac', $4, '[]')`, uuid.New(), w.B.ID, sB.ID, sha256Hex("y"))
		require.ErrorIs(t, db.MapError(err), db.ErrCheck)
	})
}

func TestListGetDeleteAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ListsNewestFirstWithPagination", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		other := b.createService(t, w.A)
		b.createAPIKey(t, other, "Other service")
		var ids []string
		for _, name := range []string{"First", "Second", "Third"} {
			ids = append(ids, b.createAPIKey(t, s, name).Key.ID.String())
		}
		list := decode[apiKeyListJSON](t, b.do(t, http.MethodGet, apiKeysPath(s), w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, 3, list.Total)
		require.Len(t, list.APIKeys, 3)
		require.Equal(t, []string{ids[2], ids[1], ids[0]}, []string{list.APIKeys[0].ID, list.APIKeys[1].ID, list.APIKeys[2].ID})
		for _, k := range list.APIKeys {
			require.Nil(t, k.Key)
			require.Equal(t, s.ID.String(), k.ServiceID)
		}

		page := decode[apiKeyListJSON](t, b.do(t, http.MethodGet, apiKeysPath(s)+"?limit=1&offset=1", w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, 3, page.Total)
		require.Len(t, page.APIKeys, 1)
		require.Equal(t, ids[1], page.APIKeys[0].ID)

		requireFieldError(t, b.do(t, http.MethodGet, apiKeysPath(s)+"?limit=101", w.AdminA.Token, nil), "query.limit")
	})

	t.Run("GetReturnsTheKeyWithoutSecret", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Reader", "read:analytics")
		got := decode[apiKeyJSON](t, b.do(t, http.MethodGet, apiKeysPath(s, k.Key.ID.String()), w.OwnerA.Token, nil), http.StatusOK)
		require.Equal(t, apiKeyJSON{
			ID: k.Key.ID.String(), ServiceID: s.ID.String(), Name: "Reader", Prefix: k.Key.Prefix, Permissions: []string{"read:analytics"},
			CreatedAt: got.CreatedAt, CreatedBy: got.CreatedBy,
		}, got)
		require.Equal(t, w.OwnerA.ID.String(), *got.CreatedBy)
	})

	t.Run("KeysOfOtherServicesAndOrganizationsAre404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		sibling := b.createService(t, w.A)
		foreign := b.createService(t, w.B)
		siblingKey := b.createAPIKey(t, sibling, "Sibling")
		foreignKey := b.createAPIKey(t, foreign, "Foreign")
		for _, id := range []string{siblingKey.Key.ID.String(), foreignKey.Key.ID.String(), uuid.NewString(), "not-a-uuid"} {
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				r := b.do(t, method, apiKeysPath(s, id), w.OwnerA.Token, nil)
				requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "API key not found")
				require.NotContains(t, string(r.body), "Sibling")
				require.NotContains(t, string(r.body), "Foreign")
			}
		}
		for _, k := range []tenancy.CreatedAPIKey{siblingKey, foreignKey} {
			_, _, ok := b.storedAPIKey(t, k.Key.ID.String())
			require.True(t, ok, "the other keys survive")
		}
	})

	t.Run("DeleteRemovesTheKey", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Doomed", "read:users", "delete:users")
		keep := b.createAPIKey(t, s, "Kept")
		id := k.Key.ID.String()

		r := b.do(t, http.MethodDelete, apiKeysPath(s, id), w.AdminA.Token, nil)
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Empty(t, r.body)
		_, _, ok := b.storedAPIKey(t, id)
		require.False(t, ok)

		requireProblem(t, b.do(t, http.MethodGet, apiKeysPath(s, id), w.AdminA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "API key not found")
		requireProblem(t, b.do(t, http.MethodDelete, apiKeysPath(s, id), w.AdminA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "API key not found")
		list := decode[apiKeyListJSON](t, b.do(t, http.MethodGet, apiKeysPath(s), w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, 1, list.Total)
		require.Equal(t, keep.Key.ID.String(), list.APIKeys[0].ID)

		_, err := b.mod.Service().LookupAPIKey(t.Context(), k.Key.Prefix)
		require.ErrorIs(t, err, tenancy.ErrAPIKeyNotFound, "a deleted key no longer authenticates")

		rows := b.orgAudit(t, w.A.ID, "api_key.deleted")
		require.Len(t, rows, 1)
		require.Equal(t, id, rows[0].TargetID)
		require.Equal(t, "api_key", rows[0].TargetType)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, map[string]any{
			"api_key_id": id, "service_id": s.ID.String(), "service_slug": s.Slug, "name": "Doomed",
			"permissions": []any{"read:users", "delete:users"}, "prefix": k.Key.Prefix,
		}, rows[0].Details)
	})

	t.Run("KeysGoWithTheirService", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Cascade")
		_, err := b.pool.Exec(t.Context(), `DELETE FROM services WHERE id = $1`, s.ID)
		require.NoError(t, err)
		_, _, ok := b.storedAPIKey(t, k.Key.ID.String())
		require.False(t, ok)
	})
}

func TestLookupAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("FindsTheKeyByPrefix", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		k := b.createAPIKey(t, s, "Auth", "read:users", "read:provider_tokens:github")
		prefix, ok := tenancy.ParseAPIKey(k.Secret)
		require.True(t, ok)

		c, err := b.mod.Service().LookupAPIKey(t.Context(), prefix)
		require.NoError(t, err)
		require.Equal(t, k.Key.ID, c.ID)
		require.Equal(t, w.A.ID, c.OrgID)
		require.Equal(t, s.ID, c.ServiceID)
		require.Equal(t, []string{"read:users", "read:provider_tokens:github"}, c.Permissions)
		require.Nil(t, c.ExpiresAt)
		require.Nil(t, c.RevokedAt)
		require.Equal(t, tenancy.StatusActive, c.OrgStatus)
		require.Equal(t, sha256Hex(k.Secret), c.KeyHash)
		require.True(t, c.Matches(k.Secret))
		wrong := k.Secret[:len(k.Secret)-1] + "0"
		if wrong == k.Secret {
			wrong = k.Secret[:len(k.Secret)-1] + "1"
		}
		require.False(t, c.Matches(wrong))

		b.setStatus(t, w.A, tenancy.StatusSuspended)
		c, err = b.mod.Service().LookupAPIKey(t.Context(), prefix)
		require.NoError(t, err)
		require.Equal(t, tenancy.StatusSuspended, c.OrgStatus, "the authenticator sees a suspended organization")
	})

	t.Run("ReportsExpiry", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		days := 7
		k, err := b.mod.Service().CreateAPIKey(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID}, w.A.Slug, s.Slug,
			tenancy.NewAPIKey{Name: "Short", Permissions: []string{"read:service"}, ExpiresInDays: &days})
		require.NoError(t, err)
		c, err := b.mod.Service().LookupAPIKey(t.Context(), k.Key.Prefix)
		require.NoError(t, err)
		require.NotNil(t, c.ExpiresAt)
		require.True(t, b.now.Add(7*24*time.Hour).Equal(*c.ExpiresAt))
	})

	t.Run("UnknownPrefixIsNotFound", func(t *testing.T) {
		t.Parallel()
		_, err := b.mod.Service().LookupAPIKey(t.Context(), "sk_000000000000")
		require.ErrorIs(t, err, tenancy.ErrAPIKeyNotFound)
	})
}

func TestParseAPIKey(t *testing.T) {
	t.Parallel()
	good := "sk_a1b2c3d4e5f6_" + strings.Repeat("0123456789abcdef", 4)
	prefix, ok := tenancy.ParseAPIKey(good)
	require.True(t, ok)
	require.Equal(t, "sk_a1b2c3d4e5f6", prefix)

	bad := map[string]string{
		"Empty":            "",
		"PrefixOnly":       "sk_a1b2c3d4e5f6",
		"WrongScheme":      "pk_a1b2c3d4e5f6_" + strings.Repeat("0123456789abcdef", 4),
		"UppercaseScheme":  "SK_a1b2c3d4e5f6_" + strings.Repeat("0123456789abcdef", 4),
		"ShortPrefix":      "sk_a1b2c3d4e5_" + strings.Repeat("0123456789abcdef", 4) + "00",
		"MissingSeparator": "sk_a1b2c3d4e5f6-" + strings.Repeat("0123456789abcdef", 4),
		"ShortSecret":      "sk_a1b2c3d4e5f6_" + strings.Repeat("0123456789abcdef", 4)[1:],
		"LongSecret":       good + "0",
		"UppercaseHex":     "sk_A1B2C3D4E5F6_" + strings.Repeat("0123456789abcdef", 4),
		"NonHexSecret":     "sk_a1b2c3d4e5f6_" + strings.Repeat("0123456789abcdeg", 4),
		"NonHexPrefix":     "sk_a1b2c3d4e5fz_" + strings.Repeat("0123456789abcdef", 4),
		"TrailingSpace":    good[:len(good)-1] + " ",
		"Bearer":           "Bearer " + good,
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, ok := tenancy.ParseAPIKey(raw)
			require.False(t, ok, raw)
			require.Empty(t, p)
		})
	}
}

func TestValidAPIKeyPermission(t *testing.T) {
	t.Parallel()
	for _, p := range tenancy.APIKeyPermissions() {
		require.True(t, tenancy.ValidAPIKeyPermission(p), p)
	}
	require.True(t, tenancy.ValidAPIKeyPermission("read:provider_tokens:microsoft"))
	require.False(t, tenancy.ValidAPIKeyPermission("read:provider_tokens:"+strings.Repeat("a", 101)))
	require.False(t, tenancy.ValidAPIKeyPermission("READ:USERS"))
	require.False(t, tenancy.ValidAPIKeyPermission("read:provider_tokens:a/b"))
}
