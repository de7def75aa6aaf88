package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

const (
	msgServiceUserNotFound = "User not found or has not authenticated with this service"
	msgServiceUserReadOnly = "Service API keys cannot update organization user profile fields"

	keyAll          = "sk_all"           // org/svc: read, write, delete users
	keyRead         = "sk_read"          // org/svc: read:users only
	keyWrite        = "sk_write"         // org/svc: write:users only
	keyOtherService = "sk_other_service" // org/svc2: every user permission
	keyOtherOrg     = "sk_other_org"     // org2/svc3: every user permission
	keyUserKind     = "sk_user_kind"     // a principal that is not an API key
)

// serviceAPIBundle is the identity harness with an API-key authenticator
// standing in for the tenancy module's: it maps the key constants above to
// principals scoped to the orgs and services it inserts.
type serviceAPIBundle struct {
	*testBundle
	api                        *app
	org, svc, svc2, org2, svc3 uuid.UUID
}

func setupServiceAPI(t *testing.T) *serviceAPIBundle {
	t.Helper()
	b := &serviceAPIBundle{testBundle: setup(t)}
	b.org, b.org2 = b.insertOrg(t, "acme"), b.insertOrg(t, "globex")
	b.svc, b.svc2 = b.insertService(t, b.org, "web-app"), b.insertService(t, b.org, "mobile-app")
	b.svc3 = b.insertService(t, b.org2, "web-app")
	all := []string{"read:users", "write:users", "delete:users"}
	keys := map[string]httpapi.Principal{
		keyAll:          b.keyPrincipal(b.org, b.svc, all...),
		keyRead:         b.keyPrincipal(b.org, b.svc, "read:users", "read:subscriptions"),
		keyWrite:        b.keyPrincipal(b.org, b.svc, "write:users"),
		keyOtherService: b.keyPrincipal(b.org, b.svc2, all...),
		keyOtherOrg:     b.keyPrincipal(b.org2, b.svc3, all...),
		keyUserKind:     {Kind: httpapi.PrincipalUser, UserID: uuid.New(), OrgID: &b.org, ServiceID: &b.svc, Permissions: all},
	}
	authn := httpapi.AuthenticatorFunc(func(_ context.Context, cred string) (*httpapi.Principal, error) {
		p, ok := keys[cred]
		if !ok {
			return nil, errors.New("unknown api key")
		}
		return &p, nil
	})
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mux, api := httpapi.New(httpapi.Options{
		Logger: logger,
		Authenticators: map[string]httpapi.Authenticator{
			httpapi.SchemeBearer: b.mod.Authenticator(),
			httpapi.SchemeAPIKey: authn,
		},
	})
	b.mod.RegisterRoutes(api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.api = &app{b: b.testBundle, mod: b.mod, cfg: b.cfg, url: srv.URL}
	return b
}

func (b *serviceAPIBundle) keyPrincipal(org, svc uuid.UUID, perms ...string) httpapi.Principal {
	return httpapi.Principal{Kind: httpapi.PrincipalAPIKey, APIKeyID: uuid.New(), OrgID: &org, ServiceID: &svc, Permissions: perms}
}

func (b *serviceAPIBundle) insertOrg(t *testing.T, slug string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, $3, 'active')`, id, slug, "Org "+slug)
	require.NoError(t, err)
	return id
}

func (b *serviceAPIBundle) insertService(t *testing.T, org uuid.UUID, slug string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO services (id, org_id, slug, name, service_type, client_id, client_secret_hash)
		VALUES ($1, $2, $3, $4, 'web', $5, $6)`, id, org, slug, "Service "+slug, uuid.NewString(), strings.Repeat("ab", 32))
	require.NoError(t, err)
	return id
}

// serviceSession inserts a live session of the user scoped to org/svc.
func (b *serviceAPIBundle) serviceSession(t *testing.T, user, org, svc uuid.UUID) uuid.UUID {
	t.Helper()
	now := b.clock.Now()
	id := uuid.New()
	require.NoError(t, identity.NewStore(b.pool).SessionInsert(t.Context(), identity.Session{
		ID: id, UserID: user, OrgID: &org, ServiceID: &svc, Audience: testBaseURL, AuthMethod: "password",
		AccessJTI: uuid.NewString(), TokenHash: uuid.NewString(), AccessExpiresAt: now.Add(time.Hour), CreatedAt: now,
	}, ""))
	return id
}

// serviceIdentities returns provider:provider_user_id of the user's
// identities of a service.
func (b *serviceAPIBundle) serviceIdentities(t *testing.T, user, svc uuid.UUID) []string {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT provider || ':' || provider_user_id FROM identities WHERE user_id = $1 AND service_id = $2 ORDER BY 1`, user, svc)
	require.NoError(t, err)
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func apiKey(k string) reqOpt {
	return func(r *http.Request) { r.Header.Set(httpapi.APIKeyHeader, k) }
}

// serviceUser is a Service API user body.
type serviceUser struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func decodeServiceUser(t *testing.T, r response, status int) serviceUser {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	require.ElementsMatch(t, []string{"id", "email", "created_at"}, keysOf(raw), string(r.body))
	var u serviceUser
	require.NoError(t, json.Unmarshal(r.body, &u))
	return u
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// createServiceUser POSTs email with key and checks the status.
func (b *serviceAPIBundle) createServiceUser(t *testing.T, key, email string, status int) serviceUser {
	t.Helper()
	return decodeServiceUser(t, b.api.post(t, "/api/service/users", map[string]string{"email": email}, apiKey(key)), status)
}

// requireKeyProblem checks a problem answer of the Service API (its 401s
// carry no Bearer challenge, so requireProblem does not fit them).
func requireKeyProblem(t *testing.T, r response, status int, code, msg string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, httpapi.ProblemContentType, r.header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, code, p.ErrorCode, string(r.body))
	if msg != "" {
		require.Equal(t, msg, p.Error)
	}
}

type listBody struct {
	Users []serviceUser `json:"users"`
	Total int           `json:"total"`
}

func (b *serviceAPIBundle) list(t *testing.T, key, query string) listBody {
	t.Helper()
	r := b.api.get(t, "/api/service/users"+query, apiKey(key))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var l listBody
	require.NoError(t, json.Unmarshal(r.body, &l))
	require.NotNil(t, l.Users, string(r.body))
	return l
}

func TestServiceAPIUsersAuth(t *testing.T) {
	t.Parallel()
	b := setupServiceAPI(t)
	u := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
	user := "/api/service/users/" + u.ID
	platform := b.oauthUser(t, "admin@example.test")
	toks, err := b.mod.IssueSession(t.Context(), platform.ID, "github")
	require.NoError(t, err)

	endpoints := []struct {
		name, method, path string
		body               any
		perm               string
		lacking            string // a key without perm
	}{
		{"List", http.MethodGet, "/api/service/users", nil, "read:users", keyWrite},
		{"Get", http.MethodGet, user, nil, "read:users", keyWrite},
		{"Create", http.MethodPost, "/api/service/users", map[string]string{"email": "new@example.test"}, "write:users", keyRead},
		{"Patch", http.MethodPatch, user, map[string]string{}, "write:users", keyRead},
		{"Delete", http.MethodDelete, user, nil, "delete:users", keyRead},
	}
	for _, ep := range endpoints {
		t.Run(ep.name+"NoKey", func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.do(t, ep.method, ep.path, ep.body), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		})
		t.Run(ep.name+"UnknownKey", func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.do(t, ep.method, ep.path, ep.body, apiKey("sk_nope")), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		})
		t.Run(ep.name+"UserTokenIsNotAKey", func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.do(t, ep.method, ep.path, ep.body, bearer(toks.AccessToken)), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		})
		t.Run(ep.name+"NonKeyPrincipal", func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.do(t, ep.method, ep.path, ep.body, apiKey(keyUserKind)), http.StatusForbidden, httpapi.CodeForbidden, "")
		})
		t.Run(ep.name+"MissingPermission", func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.do(t, ep.method, ep.path, ep.body, apiKey(ep.lacking)), http.StatusForbidden, httpapi.CodeForbidden,
				"Missing required permission: "+ep.perm)
		})
	}
	t.Run("NothingChanged", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, 0, b.countUsers(t, "new@example.test"))
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, uuid.MustParse(u.ID), b.svc))
	})
}

func TestServiceAPICreateUser(t *testing.T) {
	t.Parallel()

	t.Run("CreatesTenantUserWithoutPassword", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		got := b.createServiceUser(t, keyAll, " Ada@Example.test ", http.StatusCreated)
		require.Equal(t, "Ada@Example.test", got.Email)
		id := uuid.MustParse(got.ID)

		u, err := identity.NewStore(b.pool).UserGetByID(t.Context(), id)
		require.NoError(t, err)
		require.NotNil(t, u.OrgID)
		require.Equal(t, b.org, *u.OrgID)
		require.False(t, u.HasPassword())
		require.Nil(t, u.EmailVerifiedAt)
		require.False(t, u.IsPlatformOwner)
		require.True(t, u.CreatedAt.Equal(got.CreatedAt))
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc))

		signups := b.events.ofType("user.signup.success")
		require.Len(t, signups, 1)
		e := signups[0]
		require.Equal(t, &b.org, e.OrgID)
		require.Equal(t, "user", e.TargetType)
		require.Equal(t, got.ID, e.TargetID)
		require.Equal(t, b.svc.String(), e.Details["service_id"])
		require.Equal(t, true, e.Details["api_key_method"])
		// No verification mail: the service owns its users' onboarding.
		require.Empty(t, b.emails(t, "Ada@Example.test"))
	})

	t.Run("AlreadyLinkedIsIdempotent", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		first := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		again := b.createServiceUser(t, keyWrite, "ADA@example.test", http.StatusOK)
		require.Equal(t, first.ID, again.ID)
		require.Equal(t, "ada@example.test", again.Email)
		require.Equal(t, 1, b.countUsers(t, "ada@example.test"))
		require.Len(t, b.events.ofType("user.signup.success"), 1)
	})

	t.Run("LinksExistingOrgUser", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		first := b.createServiceUser(t, keyOtherService, "ada@example.test", http.StatusCreated)
		linked := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		require.Equal(t, first.ID, linked.ID)
		id := uuid.MustParse(linked.ID)
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc))
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc2))
		// Linking is not a signup.
		require.Len(t, b.events.ofType("user.signup.success"), 1)
		b.createServiceUser(t, keyAll, "ada@example.test", http.StatusOK)
	})

	t.Run("UsersAreOrgScoped", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		// A platform user and another org's user with the same address are
		// other accounts.
		platform := b.oauthUser(t, "ada@example.test")
		ours := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		theirs := b.createServiceUser(t, keyOtherOrg, "ada@example.test", http.StatusCreated)
		require.NotEqual(t, ours.ID, theirs.ID)
		require.NotEqual(t, platform.ID.String(), ours.ID)
		require.Equal(t, 3, b.countUsers(t, "ada@example.test"))
		require.Empty(t, b.serviceIdentities(t, platform.ID, b.svc))
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		for _, email := range []string{"not-an-email", "", "@example.test", "a b@example.test"} {
			p := requireFieldError(t, b.api.post(t, "/api/service/users", map[string]string{"email": email}, apiKey(keyAll)), "body.email")
			require.Equal(t, "Invalid email format", p.message("body.email"))
		}
		// email is required.
		requireFieldError(t, b.api.post(t, "/api/service/users", map[string]any{}, apiKey(keyAll)), "body")
		require.Equal(t, 0, b.countUsers(t, "not-an-email"))
		require.Empty(t, b.events.ofType("user.signup.success"))
	})
}

func TestServiceAPIListUsers(t *testing.T) {
	t.Parallel()
	b := setupServiceAPI(t)
	var ours []serviceUser
	for _, e := range []string{"a@example.test", "b@example.test", "c@example.test"} {
		ours = append(ours, b.createServiceUser(t, keyAll, e, http.StatusCreated))
		b.clock.Advance(time.Second)
	}
	other := b.createServiceUser(t, keyOtherService, "other@example.test", http.StatusCreated)
	b.createServiceUser(t, keyOtherOrg, "a@example.test", http.StatusCreated)
	b.oauthUser(t, "platform@example.test")

	t.Run("Default", func(t *testing.T) {
		t.Parallel()
		l := b.list(t, keyRead, "")
		require.Equal(t, 3, l.Total)
		require.Equal(t, ours, l.Users)
	})

	t.Run("Page", func(t *testing.T) {
		t.Parallel()
		l := b.list(t, keyRead, "?limit=1&offset=1")
		require.Equal(t, listBody{Users: ours[1:2], Total: 3}, l)
		l = b.list(t, keyRead, "?offset=5")
		require.Equal(t, listBody{Users: []serviceUser{}, Total: 3}, l)
	})

	t.Run("OtherServiceSeesOnlyItsUsers", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, listBody{Users: []serviceUser{other}, Total: 1}, b.list(t, keyOtherService, ""))
		l := b.list(t, keyOtherOrg, "")
		require.Equal(t, 1, l.Total)
		require.NotEqual(t, ours[0].ID, l.Users[0].ID)
	})

	t.Run("LimitBounds", func(t *testing.T) {
		t.Parallel()
		requireFieldError(t, b.api.get(t, "/api/service/users?limit=101", apiKey(keyRead)), "query.limit")
		requireFieldError(t, b.api.get(t, "/api/service/users?limit=0", apiKey(keyRead)), "query.limit")
		requireFieldError(t, b.api.get(t, "/api/service/users?offset=-1", apiKey(keyRead)), "query.offset")
	})
}

func TestServiceAPIGetAndPatchUser(t *testing.T) {
	t.Parallel()
	b := setupServiceAPI(t)
	ours := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
	other := b.createServiceUser(t, keyOtherService, "bob@example.test", http.StatusCreated)
	platform := b.oauthUser(t, "carol@example.test")

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		got := decodeServiceUser(t, b.api.get(t, "/api/service/users/"+ours.ID, apiKey(keyRead)), http.StatusOK)
		require.Equal(t, ours, got)
	})

	t.Run("PatchWithoutFieldsReturnsUser", func(t *testing.T) {
		t.Parallel()
		got := decodeServiceUser(t, b.api.do(t, http.MethodPatch, "/api/service/users/"+ours.ID, map[string]any{}, apiKey(keyWrite)), http.StatusOK)
		require.Equal(t, ours, got)
	})

	t.Run("PatchEmailForbidden", func(t *testing.T) {
		t.Parallel()
		r := b.api.do(t, http.MethodPatch, "/api/service/users/"+ours.ID, map[string]string{"email": "eve@example.test"}, apiKey(keyWrite))
		requireKeyProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, msgServiceUserReadOnly)
		require.Equal(t, "ada@example.test", b.list(t, keyRead, "").Users[0].Email)
	})

	for _, tc := range []struct{ name, key, id string }{
		{"OtherServicesUser", keyAll, other.ID},
		{"OtherServiceKey", keyOtherService, ours.ID},
		{"OtherOrgKey", keyOtherOrg, ours.ID},
		{"PlatformUser", keyAll, platform.ID.String()},
		{"UnknownID", keyAll, uuid.NewString()},
		{"MalformedID", keyAll, "not-a-uuid"},
	} {
		t.Run("NotFound"+tc.name, func(t *testing.T) {
			t.Parallel()
			requireKeyProblem(t, b.api.get(t, "/api/service/users/"+tc.id, apiKey(tc.key)), http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
			r := b.api.do(t, http.MethodPatch, "/api/service/users/"+tc.id, map[string]any{}, apiKey(tc.key))
			requireKeyProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
		})
	}
}

func TestServiceAPIDeleteUser(t *testing.T) {
	t.Parallel()

	t.Run("UnlinksOnlyThisService", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		u := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		b.createServiceUser(t, keyOtherService, "ada@example.test", http.StatusCreated)
		id := uuid.MustParse(u.ID)
		ours := b.serviceSession(t, id, b.org, b.svc)
		theirs := b.serviceSession(t, id, b.org, b.svc2)

		r := b.api.do(t, http.MethodDelete, "/api/service/users/"+u.ID, nil, apiKey(keyAll))
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Empty(t, r.body)

		// The user survives, with its identity of the other service.
		_, err := identity.NewStore(b.pool).UserGetByID(t.Context(), id)
		require.NoError(t, err)
		require.Empty(t, b.serviceIdentities(t, id, b.svc))
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc2))

		// This service's session is revoked everywhere; the other's is live.
		require.NotNil(t, b.session(t, ours).RevokedAt)
		require.Equal(t, "service_unlink", b.revokedReason(t, ours))
		marker, err := b.rdb.Get(t.Context(), b.prefix+"sess:"+ours.String()).Result()
		require.NoError(t, err)
		require.Equal(t, "-", marker)
		require.Nil(t, b.session(t, theirs).RevokedAt)

		requireKeyProblem(t, b.api.get(t, "/api/service/users/"+u.ID, apiKey(keyAll)), http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
		require.Equal(t, 0, b.list(t, keyAll, "").Total)
		decodeServiceUser(t, b.api.get(t, "/api/service/users/"+u.ID, apiKey(keyOtherService)), http.StatusOK)

		// Deleting again is a 404; linking again re-adds the identity.
		requireKeyProblem(t, b.api.do(t, http.MethodDelete, "/api/service/users/"+u.ID, nil, apiKey(keyAll)), http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
		again := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		require.Equal(t, u.ID, again.ID)
		require.Len(t, b.events.ofType("user.signup.success"), 1)
	})

	t.Run("OtherScopesNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupServiceAPI(t)
		u := b.createServiceUser(t, keyAll, "ada@example.test", http.StatusCreated)
		id := uuid.MustParse(u.ID)
		sess := b.serviceSession(t, id, b.org, b.svc)
		for _, key := range []string{keyOtherService, keyOtherOrg} {
			r := b.api.do(t, http.MethodDelete, "/api/service/users/"+u.ID, nil, apiKey(key))
			requireKeyProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
		}
		r := b.api.do(t, http.MethodDelete, "/api/service/users/not-a-uuid", nil, apiKey(keyAll))
		requireKeyProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
		require.Equal(t, []string{"service_api:ada@example.test"}, b.serviceIdentities(t, id, b.svc))
		require.Nil(t, b.session(t, sess).RevokedAt)
	})
}
