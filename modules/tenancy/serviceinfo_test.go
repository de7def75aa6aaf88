package tenancy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
)

const serviceInfoPath = "/api/service/info"

// keyRouter serves the bundle's module with an X-Api-Key test double:
// key strings map to principals the test builds.
type keyRouter struct {
	handler http.Handler
	keys    sync.Map // key -> *httpapi.Principal
}

func newKeyRouter(b *testBundle) *keyRouter {
	r := &keyRouter{}
	mux, api := httpapi.New(httpapi.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticators: map[string]httpapi.Authenticator{
			httpapi.SchemeBearer: httpapi.AuthenticatorFunc(b.authenticate),
			httpapi.SchemeAPIKey: httpapi.AuthenticatorFunc(r.authenticate),
		},
	})
	b.mod.RegisterRoutes(api)
	r.handler = mux
	return r
}

func (r *keyRouter) authenticate(_ context.Context, key string) (*httpapi.Principal, error) {
	v, ok := r.keys.Load(key)
	if !ok {
		return nil, errors.New("unknown test key")
	}
	p := *v.(*httpapi.Principal)
	return &p, nil
}

// key registers a service API key principal of s holding perms.
func (r *keyRouter) key(s svc, perms ...string) string {
	orgID, serviceID := s.Org.ID, s.ID
	k := "key-" + uuid.NewString()
	r.keys.Store(k, &httpapi.Principal{
		Kind: httpapi.PrincipalAPIKey, APIKeyID: uuid.Must(uuid.NewV7()), OrgID: &orgID, ServiceID: &serviceID, Permissions: perms,
	})
	return k
}

// userKey registers a user (bearer-style) principal under an API key
// string: a principal of the wrong kind reaching the handler.
func (r *keyRouter) userKey(a account) string {
	k := "key-" + uuid.NewString()
	r.keys.Store(k, &httpapi.Principal{Kind: httpapi.PrincipalUser, UserID: a.ID, Email: a.Email, SessionID: uuid.New()})
	return k
}

// do sends a request with an X-Api-Key ("" sends none).
func (r *keyRouter) do(t *testing.T, method, key string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, serviceInfoPath, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "tenancy-test")
	if key != "" {
		req.Header.Set(httpapi.APIKeyHeader, key)
	}
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

type serviceInfoJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	ServiceType string    `json:"service_type"`
	CreatedAt   time.Time `json:"created_at"`
}

func (b *testBundle) serviceName(t *testing.T, s svc) string {
	t.Helper()
	var name string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT name FROM services WHERE id = $1`, s.ID).Scan(&name))
	return name
}

// serviceUpdates returns the service.updated audit rows of s.
func (b *testBundle) serviceUpdates(t *testing.T, s svc) []compliance.AuditEntry {
	t.Helper()
	var out []compliance.AuditEntry
	for _, e := range b.orgAudit(t, s.Org.ID, "service.updated") {
		if e.TargetID == s.ID.String() {
			out = append(out, e)
		}
	}
	return out
}

func TestServiceInfo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := newKeyRouter(b)
	ownerA, ownerB := b.user(t, "owner-a"), b.user(t, "owner-b")
	orgA, orgB := b.activeOrg(t, ownerA), b.activeOrg(t, ownerB)
	// The subtests create more services than the default tier allows.
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET max_services = 100 WHERE id = ANY($1)`, []uuid.UUID{orgA.ID, orgB.ID})
	require.NoError(t, err)

	t.Run("NoKey", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, r.do(t, http.MethodGet, "", nil), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		requireProblem(t, r.do(t, http.MethodPatch, "", map[string]any{"name": "X name"}), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
	})

	t.Run("BearerTokenIsNotAKey", func(t *testing.T) {
		t.Parallel()
		// A bearer token on an X-Api-Key operation authenticates nothing.
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, serviceInfoPath, nil)
		req.Header.Set("Authorization", "Bearer "+ownerA.Token)
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		requireProblem(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()},
			http.StatusUnauthorized, httpapi.CodeUnauthorized, "Authentication required")
	})

	t.Run("UserPrincipalForbidden", func(t *testing.T) {
		t.Parallel()
		k := r.userKey(ownerA)
		requireProblem(t, r.do(t, http.MethodGet, k, nil), http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
		requireProblem(t, r.do(t, http.MethodPatch, k, map[string]any{"name": "New name"}),
			http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
	})

	t.Run("MissingPermission", func(t *testing.T) {
		t.Parallel()
		s := b.createService(t, orgA)
		writeOnly := r.key(s, "write:service", "read:users")
		readOnly := r.key(s, "read:service", "write:users")
		requireProblem(t, r.do(t, http.MethodGet, writeOnly, nil),
			http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: read:service")
		requireProblem(t, r.do(t, http.MethodPatch, readOnly, map[string]any{"name": "New name"}),
			http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: write:service")
		require.Equal(t, "Service "+s.Slug, b.serviceName(t, s))
		require.Empty(t, b.serviceUpdates(t, s))
	})

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		s := b.createService(t, orgA)
		got := decode[serviceInfoJSON](t, r.do(t, http.MethodGet, r.key(s, "read:service"), nil), http.StatusOK)
		require.Equal(t, s.ID.String(), got.ID)
		require.Equal(t, s.Slug, got.Slug)
		require.Equal(t, "Service "+s.Slug, got.Name)
		require.Equal(t, "web", got.ServiceType)
		require.Equal(t, b.now, got.CreatedAt.UTC())
		var raw map[string]any
		require.NoError(t, json.Unmarshal(r.do(t, http.MethodGet, r.key(s, "read:service"), nil).body, &raw))
		delete(raw, "$schema")
		require.Len(t, raw, 5, "only id, name, slug, service_type, created_at")
	})

	t.Run("ScopedToTheKeysService", func(t *testing.T) {
		t.Parallel()
		a1, a2, bs := b.createService(t, orgA), b.createService(t, orgA), b.createService(t, orgB)
		for _, s := range []svc{a1, a2, bs} {
			got := decode[serviceInfoJSON](t, r.do(t, http.MethodGet, r.key(s, "read:service"), nil), http.StatusOK)
			require.Equal(t, s.ID.String(), got.ID)
		}
		// Renaming through B's key touches only B's service.
		got := decode[serviceInfoJSON](t, r.do(t, http.MethodPatch, r.key(bs, "write:service"), map[string]any{"name": "Renamed B"}), http.StatusOK)
		require.Equal(t, bs.ID.String(), got.ID)
		require.Equal(t, "Renamed B", b.serviceName(t, bs))
		require.Equal(t, "Service "+a1.Slug, b.serviceName(t, a1))
		require.Equal(t, "Service "+a2.Slug, b.serviceName(t, a2))
		require.Empty(t, b.serviceUpdates(t, a1))
		require.Empty(t, b.serviceUpdates(t, a2))
		require.Len(t, b.serviceUpdates(t, bs), 1)
	})

	t.Run("MismatchedScopeIsNotFound", func(t *testing.T) {
		t.Parallel()
		// A principal naming B's service under A's organization finds
		// nothing: the service is looked up within the key's organization.
		bs := b.createService(t, orgB)
		orgID, serviceID := orgA.ID, bs.ID
		k := "key-" + uuid.NewString()
		r.keys.Store(k, &httpapi.Principal{Kind: httpapi.PrincipalAPIKey, OrgID: &orgID, ServiceID: &serviceID,
			Permissions: []string{"read:service", "write:service"}})
		requireProblem(t, r.do(t, http.MethodGet, k, nil), http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
		requireProblem(t, r.do(t, http.MethodPatch, k, map[string]any{"name": "Hijacked"}), http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
		require.Equal(t, "Service "+bs.Slug, b.serviceName(t, bs))
		require.Empty(t, b.serviceUpdates(t, bs))
	})

	t.Run("Patch", func(t *testing.T) {
		t.Parallel()
		s := b.createService(t, orgA)
		got := decode[serviceInfoJSON](t, r.do(t, http.MethodPatch, r.key(s, "write:service"), map[string]any{"name": "  Renamed  "}), http.StatusOK)
		require.Equal(t, s.ID.String(), got.ID)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, s.Slug, got.Slug)
		require.Equal(t, "Renamed", b.serviceName(t, s))

		updates := b.serviceUpdates(t, s)
		require.Len(t, updates, 1)
		e := updates[0]
		require.Equal(t, "api_key", e.ActorType)
		require.Nil(t, e.ActorID)
		require.Equal(t, "service", e.TargetType)
		require.Equal(t, "tenancy-test", e.UserAgent)
		require.Equal(t, []any{"name"}, e.Details["changed_fields"])
		require.Equal(t, "Service "+s.Slug, e.Details["old_name"])
		require.Equal(t, "Renamed", e.Details["service_name"])
		require.NotEmpty(t, e.Details["api_key_id"])

		// The same name again changes nothing and records nothing.
		got = decode[serviceInfoJSON](t, r.do(t, http.MethodPatch, r.key(s, "write:service"), map[string]any{"name": "Renamed"}), http.StatusOK)
		require.Equal(t, "Renamed", got.Name)
		require.Len(t, b.serviceUpdates(t, s), 1)
	})

	t.Run("PatchValidation", func(t *testing.T) {
		t.Parallel()
		s := b.createService(t, orgA)
		k := r.key(s, "write:service")
		requireFieldError(t, r.do(t, http.MethodPatch, k, map[string]any{"name": "x"}), "body.name")
		// Whitespace passes the schema's length but not the service's rule.
		requireFieldError(t, r.do(t, http.MethodPatch, k, map[string]any{"name": "     "}), "body.name")
		requireProblem(t, r.do(t, http.MethodPatch, k, map[string]any{}), http.StatusBadRequest, httpapi.CodeBadRequest, "No fields to update")
		require.Equal(t, "Service "+s.Slug, b.serviceName(t, s))
		require.Empty(t, b.serviceUpdates(t, s))
	})
}

func TestServiceInfoInactiveOrg(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := newKeyRouter(b)
	o := b.activeOrg(t, b.user(t, "owner"))
	s := b.createService(t, o)
	read, write := r.key(s, "read:service"), r.key(s, "write:service")
	// The key was verified while the organization was active; it is
	// suspended since.
	b.setStatus(t, o, tenancy.StatusSuspended)
	msg := "Organization is not active. Current status: suspended"
	requireProblem(t, r.do(t, http.MethodGet, read, nil), http.StatusForbidden, tenancy.CodeOrganizationNotActive, msg)
	requireProblem(t, r.do(t, http.MethodPatch, write, map[string]any{"name": "Renamed"}), http.StatusForbidden, tenancy.CodeOrganizationNotActive, msg)
	require.Equal(t, "Service "+s.Slug, b.serviceName(t, s))
	require.Empty(t, b.serviceUpdates(t, s))
}

func TestServiceInfoRealKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mux, api := httpapi.New(httpapi.Options{
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticators: map[string]httpapi.Authenticator{httpapi.SchemeAPIKey: b.mod.APIKeyAuthenticator()},
	})
	b.mod.RegisterRoutes(api)
	o := b.activeOrg(t, b.user(t, "owner"))
	s := b.createService(t, o)
	key := b.createAPIKey(t, s, "info", "read:service")
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, serviceInfoPath, nil)
	req.Header.Set(httpapi.APIKeyHeader, key.Secret)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	got := decode[serviceInfoJSON](t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, http.StatusOK)
	require.Equal(t, s.ID.String(), got.ID)
}
