package app

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/health"
)

// HealthOutput is GET /health.
type HealthOutput struct {
	Body struct {
		Status  string `json:"status" example:"healthy"`
		Version string `json:"version"`
	}
}

// LiveOutput is GET /health/live: 200 with an empty body.
type LiveOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
}

// ReadyBody is the readiness answer.
type ReadyBody struct {
	Status   string `json:"status" enum:"ready,unhealthy"`
	Version  string `json:"version"`
	Database string `json:"database" enum:"connected,disconnected"`
	Redis    string `json:"redis" enum:"connected,disconnected"`
	Schema   string `json:"schema" enum:"ok,behind"`
}

// ReadyOutput is GET /health/ready: 200 when ready, 503 naming what failed.
type ReadyOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
	Body         ReadyBody
}

func registerHealth(api huma.API, checker *health.Checker) {
	tags := []string{"Health"}
	huma.Register(api, huma.Operation{
		OperationID: "get-health", Method: http.MethodGet, Path: "/health", Tags: tags,
		Summary: "Process health",
	}, func(context.Context, *struct{}) (*HealthOutput, error) {
		out := &HealthOutput{}
		out.Body.Status, out.Body.Version = "healthy", checker.Version()
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-health-live", Method: http.MethodGet, Path: "/health/live", Tags: tags,
		Summary: "Liveness (never touches a dependency)",
	}, func(context.Context, *struct{}) (*LiveOutput, error) {
		return &LiveOutput{Status: http.StatusOK, CacheControl: "no-store"}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-health-ready", Method: http.MethodGet, Path: "/health/ready", Tags: tags,
		Summary:     "Readiness: database, Redis and schema version",
		Description: "Answers 503 naming the failed component when the database or Redis is unreachable or the schema is behind.",
		Responses: map[string]*huma.Response{
			"503": {Description: "Not ready", Content: map[string]*huma.MediaType{"application/json": {}}},
		},
	}, func(ctx context.Context, _ *struct{}) (*ReadyOutput, error) {
		res := checker.Ready(ctx)
		out := &ReadyOutput{Status: http.StatusOK, CacheControl: "no-store"}
		out.Body = ReadyBody{
			Status: "ready", Version: checker.Version(),
			Database: res.Components["database"], Redis: res.Components["redis"], Schema: res.Components["schema"],
		}
		if !res.Ready {
			out.Status = http.StatusServiceUnavailable
			out.Body.Status = "unhealthy"
		}
		return out, nil
	})
}
