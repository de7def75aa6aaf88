package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocs(t *testing.T) {
	t.Parallel()

	t.Run("PageIsSelfContained", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/docs", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
		html := rec.Body.String()
		require.NotContains(t, html, "http://")
		require.NotContains(t, html, "https://")
		require.NotContains(t, html, "//unpkg")
		require.Contains(t, html, `src="/docs/assets/web-components.min.js`)
		require.Contains(t, html, `href="/docs/assets/styles.min.css`)
		require.Contains(t, html, `apiDescriptionUrl="/openapi.json"`)
		csp := rec.Header().Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'")
		require.Contains(t, csp, "style-src 'self'")
		require.NotContains(t, csp, "https:")
	})

	t.Run("AssetsServedWithTypesAndCaching", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/docs/assets/web-components.min.js?v="+elementsVersion, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Contains(t, rec.Header().Get("Cache-Control"), "max-age=31536000")
		require.Greater(t, rec.Body.Len(), 1<<20)

		rec = b.do(t, httptest.NewRequest(http.MethodGet, "/docs/assets/styles.min.css", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/css; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Greater(t, rec.Body.Len(), 100<<10)
	})

	t.Run("UnknownAssetIs404", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		for _, p := range []string{"/docs/assets/LICENSE", "/docs/assets/..%2fdocs.go"} {
			rec := b.do(t, httptest.NewRequest(http.MethodGet, p, nil))
			requireProblem(t, rec, http.StatusNotFound, "NOT_FOUND")
		}
	})
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{Version: "1.2.3", ServerURL: "https://auth.example.com"})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		var doc struct {
			OpenAPI string `json:"openapi"`
			Info    struct {
				Title   string `json:"title"`
				Version string `json:"version"`
			} `json:"info"`
			Servers    []map[string]any `json:"servers"`
			Components struct {
				SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
				Schemas         map[string]struct {
					Properties map[string]any `json:"properties"`
				} `json:"schemas"`
			} `json:"components"`
			Paths map[string]map[string]struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
				Responses   map[string]any        `json:"responses"`
			} `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		require.Equal(t, "3.1.0", doc.OpenAPI)
		require.Equal(t, "AuthOS API", doc.Info.Title)
		require.Equal(t, "1.2.3", doc.Info.Version)
		require.Equal(t, "https://auth.example.com", doc.Servers[0]["url"])

		schemes := doc.Components.SecuritySchemes
		require.Len(t, schemes, 3)
		require.Equal(t, "http", schemes[SchemeBearer]["type"])
		require.Equal(t, "bearer", schemes[SchemeBearer]["scheme"])
		require.Equal(t, "JWT", schemes[SchemeBearer]["bearerFormat"])
		require.Equal(t, "apiKey", schemes[SchemeAPIKey]["type"])
		require.Equal(t, "header", schemes[SchemeAPIKey]["in"])
		require.Equal(t, "X-Api-Key", schemes[SchemeAPIKey]["name"])
		require.Equal(t, "http", schemes[SchemeSCIM]["type"])
		require.Equal(t, "bearer", schemes[SchemeSCIM]["scheme"])

		errModel := doc.Components.Schemas["ErrorModel"].Properties
		for _, member := range []string{"detail", "instance", "error", "error_code", "timestamp", "errors"} {
			require.Contains(t, errModel, member)
		}
		require.Equal(t, "get-me", doc.Paths["/me"]["get"].OperationID)
		require.Equal(t, []map[string][]string{{SchemeBearer: {}}}, doc.Paths["/me"]["get"].Security)
		require.Contains(t, doc.Paths["/me"]["get"].Responses, "401")
		require.NotContains(t, doc.Paths["/request-info"]["get"].Responses, "401")
		require.NotContains(t, rec.Body.String(), `"$schema"`)
	})

	t.Run("YAMLAndNoHumaDocs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{})
		rec := b.do(t, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), "openapi: 3.1.0")
		rec = b.do(t, httptest.NewRequest(http.MethodGet, "/docs", nil))
		require.NotContains(t, rec.Body.String(), "unpkg.com")
	})
}
