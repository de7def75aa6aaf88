package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// Service API permissions of the info endpoints (spec §8.2 allowlist).
const (
	permReadService  = "read:service"
	permWriteService = "write:service"
)

// serviceAPITag groups the Service API operations (X-Api-Key).
const serviceAPITag = "Service API"

// ServiceInfoBody is the key's service as the Service API shows it.
type ServiceInfoBody struct {
	ID          string    `json:"id" format:"uuid"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	ServiceType string    `json:"service_type" enum:"web,mobile,desktop,api"`
	CreatedAt   time.Time `json:"created_at"`
}

func toServiceInfoBody(a Application) ServiceInfoBody {
	return ServiceInfoBody{ID: a.ID.String(), Name: a.Name, Slug: a.Slug, ServiceType: string(a.Type), CreatedAt: a.CreatedAt}
}

// ServiceInfoOutput is the key's service.
type ServiceInfoOutput struct {
	Body ServiceInfoBody
}

// GetServiceInfoInput is GET /api/service/info.
type GetServiceInfoInput struct{}

// PatchServiceInfoInput is PATCH /api/service/info.
type PatchServiceInfoInput struct {
	ClientMeta
	Body struct {
		Name *string `json:"name,omitempty" minLength:"2" maxLength:"100"`
	}
}

// serviceAPIKeyFrom returns the caller's key scope when the principal is a
// service API key holding perm: 401 without a principal, 403 for any other
// principal or a key lacking perm.
func serviceAPIKeyFrom(ctx context.Context, perm string, m ClientMeta) (ServiceAPIKey, error) {
	p, ok := httpapi.PrincipalFrom(ctx)
	if !ok {
		return ServiceAPIKey{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Authentication required")
	}
	if p.Kind != httpapi.PrincipalAPIKey || p.OrgID == nil || p.ServiceID == nil {
		return ServiceAPIKey{}, forbidden("A service API key is required")
	}
	if !p.HasPermission(perm) {
		return ServiceAPIKey{}, forbidden("Missing required permission: " + perm)
	}
	k := ServiceAPIKey{OrgID: *p.OrgID, ServiceID: *p.ServiceID, APIKeyID: p.APIKeyID, Meta: RequestMeta{UserAgent: m.UserAgent}}
	if ip, ok := httpapi.ClientIPFrom(ctx); ok {
		k.Meta.IP = ip.String()
	}
	return k, nil
}

func registerServiceInfoRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api)
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{serviceAPITag}
		op.Security = httpapi.Security(httpapi.SchemeAPIKey)
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-service-info", Method: http.MethodGet, Path: "/api/service/info",
		Summary: "Get the key's service", Description: "Needs read:service. The service the API key belongs to.",
	}, func(ctx context.Context, _ *GetServiceInfoInput) (*ServiceInfoOutput, error) {
		k, err := serviceAPIKeyFrom(ctx, permReadService, ClientMeta{})
		if err != nil {
			return nil, err
		}
		app, err := s.ServiceInfo(ctx, k)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &ServiceInfoOutput{Body: toServiceInfoBody(app)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-service-info", Method: http.MethodPatch, Path: "/api/service/info",
		Summary: "Rename the key's service", Description: "Needs write:service. Records service.updated with the changed fields.",
	}, func(ctx context.Context, in *PatchServiceInfoInput) (*ServiceInfoOutput, error) {
		k, err := serviceAPIKeyFrom(ctx, permWriteService, in.ClientMeta)
		if err != nil {
			return nil, err
		}
		app, err := s.UpdateServiceInfo(ctx, k, in.Body.Name)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &ServiceInfoOutput{Body: toServiceInfoBody(app)}, nil
	})
}
