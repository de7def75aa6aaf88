package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testBundle struct {
	mux  *chi.Mux
	api  huma.API
	logs *syncBuffer
}

type widgetInput struct {
	Body struct {
		Name  string `json:"name" minLength:"3" maxLength:"20"`
		Count int    `json:"count" minimum:"1" maximum:"10"`
	}
}

type widgetOutput struct {
	Body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
}

type infoOutput struct {
	Body map[string]any
}

// setup builds the real router with opts (a log buffer is added) and the
// dummy operations the tests call.
func setup(t *testing.T, opts Options) *testBundle {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	mux, api := New(opts)
	registerTestOperations(api)
	return &testBundle{mux: mux, api: api, logs: logs}
}

func registerTestOperations(api huma.API) {
	huma.Register(api, huma.Operation{OperationID: "create-widget", Method: http.MethodPost,
		Path: "/widgets", DefaultStatus: http.StatusCreated},
		func(_ context.Context, in *widgetInput) (*widgetOutput, error) {
			out := &widgetOutput{}
			out.Body.Name, out.Body.Count = in.Body.Name, in.Body.Count
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "upload-blob", Method: http.MethodPost, Path: "/blobs"},
		func(_ context.Context, in *struct {
			Body struct {
				Data string `json:"data"`
			}
		},
		) (*infoOutput, error) {
			return &infoOutput{Body: map[string]any{"size": len(in.Body.Data)}}, nil
		})
	get := func(id, path string, security []map[string][]string, h func(ctx context.Context) (*infoOutput, error)) {
		huma.Register(api, huma.Operation{OperationID: id, Method: http.MethodGet, Path: path, Security: security},
			func(ctx context.Context, _ *struct{}) (*infoOutput, error) { return h(ctx) })
	}
	get("fail-plain", "/fail", nil, func(context.Context) (*infoOutput, error) {
		return nil, errors.New("query users: password=hunter2 connection refused")
	})
	get("fail-huma", "/fail-huma", nil, func(context.Context) (*infoOutput, error) {
		return nil, huma.Error500InternalServerError("secret detail", errors.New("inner secret"))
	})
	get("fail-coded", "/fail-coded", nil, func(context.Context) (*infoOutput, error) {
		return nil, NewError(http.StatusInternalServerError, "DATABASE_ERROR", "db at 10.1.2.3 down").
			WithCause(errors.New("dial tcp 10.1.2.3:5432"))
	})
	get("panic-op", "/panic", nil, func(context.Context) (*infoOutput, error) {
		panic("boom secret")
	})
	get("org-inactive", "/org-inactive", nil, func(context.Context) (*infoOutput, error) {
		return nil, NewError(http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE",
			"Organization is not active. Current status: pending")
	})
	get("rate-limited", "/rate-limited", nil, func(context.Context) (*infoOutput, error) {
		return nil, NewError(http.StatusTooManyRequests, "", "Too many requests").WithHeader("Retry-After", "30")
	})
	get("widget-missing", "/widget-missing", nil, func(context.Context) (*infoOutput, error) {
		return nil, huma.Error404NotFound("widget not found")
	})
	get("slow", "/slow", nil, func(ctx context.Context) (*infoOutput, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return &infoOutput{}, nil
		}
	})
	get("request-info", "/request-info", nil, func(ctx context.Context) (*infoOutput, error) {
		ip, _ := ClientIPFrom(ctx)
		return &infoOutput{Body: map[string]any{"ip": ip.String(), "request_id": RequestIDFrom(ctx)}}, nil
	})
	principalBody := func(ctx context.Context) (*infoOutput, error) {
		p := MustPrincipal(ctx)
		return &infoOutput{Body: map[string]any{"kind": p.Kind, "scheme": p.Scheme, "user_id": p.UserID.String()}}, nil
	}
	get("get-me", "/me", Security(SchemeBearer), principalBody)
	get("get-service-info", "/service/info", Security(SchemeAPIKey), principalBody)
	get("get-scim-config", "/scim/config", Security(SchemeSCIM), principalBody)
	get("get-either", "/either", Security(SchemeBearer, SchemeAPIKey), principalBody)
}

// do serves one request through the bundle's router.
func (b *testBundle) do(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	b.mux.ServeHTTP(rec, req)
	return rec
}

func newJSONRequest(method, target, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// requireProblem asserts rec is a complete AuthOS problem with status and
// code, and returns the decoded body.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, ProblemContentType, rec.Header().Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	for _, member := range []string{"type", "title", "status", "detail", "instance", "error", "error_code", "timestamp"} {
		require.Contains(t, body, member)
	}
	require.Equal(t, "about:blank", body["type"])
	require.Equal(t, http.StatusText(status), body["title"])
	require.InDelta(t, float64(status), body["status"], 0)
	require.Equal(t, code, body["error_code"])
	require.Equal(t, body["detail"], body["error"])
	require.NotEmpty(t, body["detail"])
	require.Equal(t, rec.Header().Get(RequestIDHeader), body["instance"])
	ts, err := time.Parse(time.RFC3339, body["timestamp"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute)
	return body
}

// unknownLength hides the length of s, so the request has no Content-Length.
func unknownLength(s string) io.Reader {
	return io.MultiReader(strings.NewReader(s))
}
