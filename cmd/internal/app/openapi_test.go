package app_test

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/cmd/internal/app"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.yaml")

// TestOpenAPIGolden fails when the API surface changes without the golden
// file being regenerated (`go tool task openapi`) and reviewed.
func TestOpenAPIGolden(t *testing.T) {
	got, err := app.OpenAPISpec("yaml")
	require.NoError(t, err)
	const path = "testdata/openapi.yaml"
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run `go tool task openapi`")
	require.Equal(t, string(want), string(got), "the OpenAPI document changed: run `go tool task openapi` and review the diff")
}

// TestOpenAPIIsValid validates the document against the OpenAPI 3.1 JSON
// schema with a validator we did not write, and checks our conventions.
func TestOpenAPIIsValid(t *testing.T) {
	t.Parallel()
	raw, err := app.OpenAPISpec("json")
	require.NoError(t, err)

	doc, err := libopenapi.NewDocument(raw)
	require.NoError(t, err)
	valid, errs := schema_validation.ValidateOpenAPIDocument(doc)
	for _, e := range errs {
		t.Errorf("openapi: %s: %s", e.Message, e.Reason)
	}
	require.True(t, valid)

	var spec struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	require.Equal(t, "3.1.0", spec.OpenAPI)
	require.Contains(t, spec.Components.SecuritySchemes, "bearerAuth")
	require.Contains(t, spec.Components.SecuritySchemes, "apiKeyAuth")
	require.Contains(t, spec.Components.SecuritySchemes, "scimAuth")
	seen := map[string]bool{}
	for path, ops := range spec.Paths {
		for method, op := range ops {
			id, _ := op["operationId"].(string)
			require.NotEmpty(t, id, "%s %s has no operationId", method, path)
			require.Equal(t, strings.ToLower(id), id, "operationId %q must be kebab-case", id)
			require.NotContains(t, id, "_")
			require.False(t, seen[id], "duplicate operationId %q", id)
			seen[id] = true
		}
	}
	require.True(t, seen["get-health-ready"])
}

// TestOpenAPIValidatorRejectsBrokenDocuments proves the validity check can fail.
func TestOpenAPIValidatorRejectsBrokenDocuments(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument([]byte(`{"openapi":"3.1.0","info":{"title":"x"},"paths":{"/a":{"get":{"responses":"nope"}}}}`))
	require.NoError(t, err)
	valid, errs := schema_validation.ValidateOpenAPIDocument(doc)
	require.False(t, valid)
	require.NotEmpty(t, errs)
}
