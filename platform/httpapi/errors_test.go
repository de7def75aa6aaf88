package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestErrors(t *testing.T) {
	t.Parallel()

	t.Run("UnknownRouteIsProblem404", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/no/such/thing", nil))
		body := requireProblem(t, rec, http.StatusNotFound, "NOT_FOUND")
		require.Equal(t, "Not found", body["detail"])
	})

	t.Run("WrongMethodIsProblem405", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodDelete, "/widgets", nil))
		requireProblem(t, rec, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		require.Contains(t, rec.Header().Get("Allow"), http.MethodPost)
	})

	t.Run("MalformedJSONIs400", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, newJSONRequest(http.MethodPost, "/widgets", `{"name": "abc", "count": `))
		body := requireProblem(t, rec, http.StatusBadRequest, "BAD_REQUEST")
		require.True(t, strings.HasPrefix(body["detail"].(string), "JSON syntax error: "), body["detail"])
		require.NotContains(t, rec.Body.String(), `"count": `, "raw body must not be echoed")
	})

	t.Run("WrongContentTypeIs400", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		req := httptest.NewRequest(http.MethodPost, "/widgets", strings.NewReader("name=abc"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		body := requireProblem(t, b.do(t, req), http.StatusBadRequest, "BAD_REQUEST")
		require.Equal(t, "Content-Type must be application/json", body["detail"])
	})

	t.Run("ValidationIs422ListingEveryField", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, newJSONRequest(http.MethodPost, "/widgets", `{"name": "x", "count": 0}`))
		body := requireProblem(t, rec, http.StatusUnprocessableEntity, "VALIDATION_ERROR")
		require.Equal(t, "Validation failed", body["detail"])
		items := body["errors"].([]any)
		var locations []string
		for _, it := range items {
			m := it.(map[string]any)
			require.NotEmpty(t, m["message"])
			// Body values are never echoed: the field may hold a secret.
			require.NotContains(t, m, "value")
			locations = append(locations, m["location"].(string))
		}
		require.ElementsMatch(t, []string{"body.name", "body.count"}, locations)
	})

	t.Run("ValidRequestSucceeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, newJSONRequest(http.MethodPost, "/widgets", `{"name": "abc", "count": 2}`))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"name":"abc","count":2}`, rec.Body.String())
	})

	t.Run("PlainErrorIsGeneric500AndLogged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/fail", nil))
		body := requireProblem(t, rec, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR")
		require.Equal(t, "Internal server error", body["detail"])
		require.NotContains(t, body, "errors")
		require.NotContains(t, rec.Body.String(), "hunter2")
		require.NotContains(t, rec.Body.String(), "query users")
		logs := b.logs.String()
		require.Contains(t, logs, "password=hunter2")
		require.Contains(t, logs, rec.Header().Get(RequestIDHeader))
	})

	t.Run("HumaErrorModel500DoesNotLeak", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/fail-huma", nil))
		requireProblem(t, rec, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR")
		require.NotContains(t, rec.Body.String(), "secret")
		require.Contains(t, b.logs.String(), "inner secret")
	})

	t.Run("Coded500KeepsCodeButNotDetail", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/fail-coded", nil))
		body := requireProblem(t, rec, http.StatusInternalServerError, "DATABASE_ERROR")
		require.Equal(t, "Internal server error", body["detail"])
		require.NotContains(t, rec.Body.String(), "10.1.2.3")
		require.Contains(t, b.logs.String(), "dial tcp 10.1.2.3:5432")
	})

	t.Run("PanicIs500Problem", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/panic", nil))
		requireProblem(t, rec, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR")
		require.NotContains(t, rec.Body.String(), "boom")
		logs := b.logs.String()
		require.Contains(t, logs, "boom secret")
		require.Contains(t, logs, "goroutine")
		require.Contains(t, logs, rec.Header().Get(RequestIDHeader))
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	})

	t.Run("SpecificCodeRendered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/org-inactive", nil))
		body := requireProblem(t, rec, http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE")
		require.Equal(t, "Organization is not active. Current status: pending", body["error"])
	})

	t.Run("ErrorHeadersSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/rate-limited", nil))
		requireProblem(t, rec, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
		require.Equal(t, "30", rec.Header().Get("Retry-After"))
	})

	t.Run("HumaHelperErrorGetsAuthOSMembers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/widget-missing", nil))
		body := requireProblem(t, rec, http.StatusNotFound, "NOT_FOUND")
		require.Equal(t, "widget not found", body["error"])
	})

	t.Run("DeadlineIs503", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{RequestTimeout: 50 * time.Millisecond})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/slow", nil))
		requireProblem(t, rec, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
		require.Contains(t, b.logs.String(), "Request timed out")
	})
}

func TestWriteProblem(t *testing.T) {
	t.Parallel()

	t.Run("PlainHandlerShape", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		b.mux.Get("/plain", func(w http.ResponseWriter, r *http.Request) {
			WriteProblem(w, r, http.StatusTooManyRequests, "", "Too many requests")
		})
		requireProblem(t, b.do(t, httptest.NewRequest(http.MethodGet, "/plain", nil)),
			http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	})

	t.Run("WriteErrorHidesCause", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		b.mux.Get("/plain-fail", func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, errors.New("secret cause"))
		})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/plain-fail", nil))
		requireProblem(t, rec, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR")
		require.NotContains(t, rec.Body.String(), "secret")
		require.Contains(t, b.logs.String(), "secret cause")
	})

	t.Run("SentinelErrorNotMutated", func(t *testing.T) {
		t.Parallel()
		sentinel := NewError(http.StatusConflict, "", "Email is already taken")
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), sentinel)
		require.Equal(t, http.StatusConflict, rec.Code)
		require.Contains(t, rec.Body.String(), `"error_code":"DUPLICATE_CONSTRAINT"`)
		require.Empty(t, sentinel.Message)
		require.True(t, sentinel.Timestamp.IsZero())
	})
}

func TestCodeForStatus(t *testing.T) {
	t.Parallel()
	want := map[int]string{
		400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
		405: "METHOD_NOT_ALLOWED", 409: "DUPLICATE_CONSTRAINT", 413: "PAYLOAD_TOO_LARGE",
		422: "VALIDATION_ERROR", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
		503: "SERVICE_UNAVAILABLE", 415: "UNSUPPORTED_MEDIA_TYPE",
	}
	for status, code := range want {
		require.Equal(t, code, CodeForStatus(status), "status %d", status)
	}
}
