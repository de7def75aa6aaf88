package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// fakeAuthenticator accepts "good", answers a specific problem for "expired"
// and fails with an opaque error otherwise.
func fakeAuthenticator(kind PrincipalKind, userID uuid.UUID) Authenticator {
	return AuthenticatorFunc(func(_ context.Context, cred string) (*Principal, error) {
		switch cred {
		case "good":
			return &Principal{Kind: kind, UserID: userID}, nil
		case "expired":
			return nil, NewError(http.StatusUnauthorized, "TOKEN_EXPIRED", "Token expired")
		default:
			return nil, errors.New("signature mismatch for kid k1")
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()

	userID := uuid.New()
	withAuth := func(t *testing.T) *testBundle {
		t.Helper()
		return setup(t, Options{Authenticators: map[string]Authenticator{
			SchemeBearer: fakeAuthenticator(PrincipalUser, userID),
			SchemeAPIKey: fakeAuthenticator(PrincipalAPIKey, userID),
			SchemeSCIM:   fakeAuthenticator(PrincipalSCIM, userID),
		}})
	}
	get := func(path string, headers map[string]string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return req
	}
	principalOf := func(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
		t.Helper()
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return body
	}

	t.Run("PublicOperationNeedsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, get("/request-info", nil))
		require.Equal(t, http.StatusOK, rec.Code)
	})

	t.Run("NoAuthenticatorConfiguredIs401", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, get("/me", map[string]string{"Authorization": "Bearer good"}))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
		require.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
	})

	t.Run("MissingCredentialIs401WithChallenge", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		rec := b.do(t, get("/me", nil))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
		require.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
	})

	t.Run("PrincipalVisibleInHandler", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		body := principalOf(t, b.do(t, get("/me", map[string]string{"Authorization": "bearer good"})))
		require.Equal(t, "user", body["kind"])
		require.Equal(t, SchemeBearer, body["scheme"])
		require.Equal(t, userID.String(), body["user_id"])
	})

	t.Run("APIKeyScheme", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		body := principalOf(t, b.do(t, get("/service/info", map[string]string{APIKeyHeader: "good"})))
		require.Equal(t, "api_key", body["kind"])
	})

	t.Run("SCIMSchemeUsesItsOwnAuthenticator", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		body := principalOf(t, b.do(t, get("/scim/config", map[string]string{"Authorization": "Bearer good"})))
		require.Equal(t, "scim", body["kind"])
		require.Equal(t, SchemeSCIM, body["scheme"])
	})

	t.Run("WrongSchemeCredentialIs401", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		rec := b.do(t, get("/service/info", map[string]string{"Authorization": "Bearer good"}))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
		rec = b.do(t, get("/me", map[string]string{APIKeyHeader: "good"}))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
		rec = b.do(t, get("/me", map[string]string{"Authorization": "Basic Z29vZDpnb29k"}))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
	})

	t.Run("AuthenticatorProblemRenderedAsIs", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		rec := b.do(t, get("/me", map[string]string{"Authorization": "Bearer expired"}))
		body := requireProblem(t, rec, http.StatusUnauthorized, "TOKEN_EXPIRED")
		require.Equal(t, "Token expired", body["error"])
		require.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
	})

	t.Run("OpaqueAuthenticatorErrorIsGeneric401", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		rec := b.do(t, get("/me", map[string]string{"Authorization": "Bearer forged"}))
		requireProblem(t, rec, http.StatusUnauthorized, "UNAUTHORIZED")
		require.NotContains(t, rec.Body.String(), "signature")
		require.Contains(t, b.logs.String(), "signature mismatch")
	})

	t.Run("EitherSchemeAccepted", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		body := principalOf(t, b.do(t, get("/either", map[string]string{APIKeyHeader: "good"})))
		require.Equal(t, "api_key", body["kind"])
		body = principalOf(t, b.do(t, get("/either", map[string]string{"Authorization": "Bearer good"})))
		require.Equal(t, "user", body["kind"])
	})

	t.Run("FirstFailureReportedWhenAllFail", func(t *testing.T) {
		t.Parallel()
		b := withAuth(t)
		rec := b.do(t, get("/either", map[string]string{"Authorization": "Bearer expired"}))
		requireProblem(t, rec, http.StatusUnauthorized, "TOKEN_EXPIRED")
	})
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()

	_, ok := PrincipalFrom(context.Background())
	require.False(t, ok)
	require.Panics(t, func() { MustPrincipal(context.Background()) })

	p := &Principal{Kind: PrincipalAPIKey, Permissions: []string{"users:read"}}
	ctx := WithPrincipal(context.Background(), p)
	got, ok := PrincipalFrom(ctx)
	require.True(t, ok)
	require.Same(t, p, got)
	require.True(t, got.HasPermission("users:read"))
	require.False(t, got.HasPermission("users:write"))
}
