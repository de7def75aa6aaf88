package tenancy

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// servicesTag is the OpenAPI tag of the service and plan operations.
const servicesTag = "Services"

// OptionalString is a PATCH field that tells an absent member from a null
// one: Set is true when the request named the field, Null when it was
// null (which clears the value).
type OptionalString struct {
	Set   bool
	Null  bool
	Value string
}

// UnmarshalJSON records that the field was present.
func (o *OptionalString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema documents the field as a nullable string.
func (OptionalString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true, Description: "null or an empty string clears the value"}
}

// clearable turns an OptionalString into the service's convention: nil
// leaves the value alone, "" clears it.
func (o OptionalString) clearable() *string {
	switch {
	case !o.Set:
		return nil
	case o.Null:
		empty := ""
		return &empty
	}
	v := o.Value
	return &v
}

// ServiceBody is the service object (spec §5). The client secret is never
// part of it, nor its hash.
type ServiceBody struct {
	ID                  string    `json:"id" format:"uuid"`
	OrgID               string    `json:"org_id" format:"uuid"`
	Slug                string    `json:"slug"`
	Name                string    `json:"name"`
	ServiceType         string    `json:"service_type" enum:"web,mobile,desktop,api"`
	ClientID            string    `json:"client_id"`
	GithubScopes        []string  `json:"github_scopes"`
	GoogleScopes        []string  `json:"google_scopes"`
	MicrosoftScopes     []string  `json:"microsoft_scopes"`
	RedirectURIs        []string  `json:"redirect_uris"`
	DeviceActivationURI *string   `json:"device_activation_uri,omitempty"`
	ResourceURIs        []string  `json:"resource_uris" doc:"Permitted RFC 8707 resources (not settable yet)"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return slices.Clone(l)
}

func toServiceBody(a Application) ServiceBody {
	return ServiceBody{
		ID: a.ID.String(), OrgID: a.OrgID.String(), Slug: a.Slug, Name: a.Name, ServiceType: string(a.Type), ClientID: a.ClientID,
		GithubScopes: nonNil(a.GithubScopes), GoogleScopes: nonNil(a.GoogleScopes), MicrosoftScopes: nonNil(a.MicrosoftScopes),
		RedirectURIs: nonNil(a.RedirectURIs), DeviceActivationURI: a.DeviceActivationURI, ResourceURIs: nonNil(a.ResourceURIs),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// ServiceWithSecretBody is a service with its client secret, answered
// only when the secret is created or rotated.
type ServiceWithSecretBody struct {
	ServiceBody
	ClientSecret string `json:"client_secret" doc:"Shown once; store it now"`
}

// ServiceUsageBody is the organization's service count against its limit.
type ServiceUsageBody struct {
	CurrentServices int    `json:"current_services"`
	MaxServices     int    `json:"max_services"`
	Tier            string `json:"tier" doc:"Name of the organization's tier"`
}

func toServiceUsageBody(u ServiceUsage) ServiceUsageBody {
	return ServiceUsageBody{CurrentServices: u.Current, MaxServices: u.Max, Tier: u.Tier}
}

// ServiceSlugInput names a service of an organization.
type ServiceSlugInput struct {
	OrgSlugInput
	ServiceSlug string `path:"service-slug" maxLength:"100"`
}

// CreateServiceInput is POST /api/organizations/{org-slug}/services.
type CreateServiceInput struct {
	OrgSlugInput
	Body struct {
		Slug                string   `json:"slug" minLength:"3" maxLength:"50" pattern:"^[A-Za-z0-9_-]+$" doc:"Unique in the organization; not a reserved word"`
		Name                string   `json:"name" minLength:"2" maxLength:"100"`
		ServiceType         string   `json:"service_type" enum:"web,mobile,desktop,api"`
		GithubScopes        []string `json:"github_scopes,omitempty" maxItems:"50"`
		GoogleScopes        []string `json:"google_scopes,omitempty" maxItems:"50"`
		MicrosoftScopes     []string `json:"microsoft_scopes,omitempty" maxItems:"50"`
		RedirectURIs        []string `json:"redirect_uris,omitempty" maxItems:"20" doc:"Absolute https URIs (http only on localhost, 127.0.0.1, [::1]); matched exactly. If present, not empty."`
		DeviceActivationURI *string  `json:"device_activation_uri,omitempty" maxLength:"2048"`
	}
}

// CreateServiceOutput carries the new service with its client secret
// (shown once), its default plan and the service usage.
type CreateServiceOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Service     ServiceWithSecretBody `json:"service"`
		DefaultPlan PlanBody              `json:"default_plan"`
		Usage       ServiceUsageBody      `json:"usage"`
	}
}

// ListServicesInput is GET /api/organizations/{org-slug}/services.
type ListServicesInput struct {
	OrgSlugInput
	ServiceType string `query:"service_type" enum:"web,mobile,desktop,api"`
	Limit       int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset      int    `query:"offset" minimum:"0" default:"0"`
}

// ServiceListItemBody is a listed service.
type ServiceListItemBody struct {
	ServiceBody
	PlanCount         int `json:"plan_count"`
	SubscriptionCount int `json:"subscription_count" doc:"Active subscriptions"`
}

// ListServicesOutput is one page of services with the service usage.
type ListServicesOutput struct {
	Body struct {
		Services []ServiceListItemBody `json:"services"`
		Total    int                   `json:"total" doc:"Services matching the filter that the caller may see"`
		Usage    ServiceUsageBody      `json:"usage"`
	}
}

// ServiceOutput is one service.
type ServiceOutput struct {
	Body ServiceBody
}

// PatchServiceInput is PATCH /api/organizations/{org-slug}/services/{service-slug}.
type PatchServiceInput struct {
	ServiceSlugInput
	Body struct {
		Name                *string        `json:"name,omitempty" minLength:"2" maxLength:"100"`
		ServiceType         *string        `json:"service_type,omitempty" enum:"web,mobile,desktop,api"`
		GithubScopes        []string       `json:"github_scopes,omitempty" maxItems:"50"`
		GoogleScopes        []string       `json:"google_scopes,omitempty" maxItems:"50"`
		MicrosoftScopes     []string       `json:"microsoft_scopes,omitempty" maxItems:"50"`
		RedirectURIs        []string       `json:"redirect_uris,omitempty" maxItems:"20" doc:"Replaces the list; if present, not empty"`
		DeviceActivationURI OptionalString `json:"device_activation_uri,omitempty" required:"false"`
	}
}

// RotateSecretOutput carries the service and its new client secret.
type RotateSecretOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Service      ServiceBody `json:"service"`
		ClientSecret string      `json:"client_secret" doc:"Shown once; the previous secret no longer works"`
	}
}

func registerServiceRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/services")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{servicesTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-service", Method: http.MethodPost, Path: "", DefaultStatus: http.StatusCreated,
		Summary: "Register a service",
		Description: "Needs services.create in an active organization below its service limit. The answer carries the " +
			"client secret, shown this once, and the default plan \"free\".",
	}, func(ctx context.Context, in *CreateServiceInput) (*CreateServiceOutput, error) {
		res, err := s.CreateService(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, NewApplication{
			Slug: in.Body.Slug, Name: in.Body.Name, Type: in.Body.ServiceType, RedirectURIs: in.Body.RedirectURIs,
			DeviceActivationURI: in.Body.DeviceActivationURI, GithubScopes: in.Body.GithubScopes,
			GoogleScopes: in.Body.GoogleScopes, MicrosoftScopes: in.Body.MicrosoftScopes,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &CreateServiceOutput{CacheControl: "no-store"}
		out.Body.Service = ServiceWithSecretBody{ServiceBody: toServiceBody(res.App), ClientSecret: res.ClientSecret}
		out.Body.DefaultPlan = toPlanBody(res.DefaultPlan)
		out.Body.Usage = toServiceUsageBody(res.Usage)
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-services", Method: http.MethodGet, Path: "",
		Summary: "List services",
		Description: "Members of an active organization. Members without services.view see only the services " +
			"they hold a direct grant on.",
	}, func(ctx context.Context, in *ListServicesInput) (*ListServicesOutput, error) {
		res, err := s.ListServices(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug,
			ApplicationFilter{Type: ServiceType(in.ServiceType), Limit: in.Limit, Offset: in.Offset})
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListServicesOutput{}
		out.Body.Services = make([]ServiceListItemBody, 0, len(res.Services))
		for _, sum := range res.Services {
			out.Body.Services = append(out.Body.Services, ServiceListItemBody{
				ServiceBody: toServiceBody(sum.App), PlanCount: sum.PlanCount, SubscriptionCount: sum.SubscriptionCount,
			})
		}
		out.Body.Total, out.Body.Usage = res.Total, toServiceUsageBody(res.Usage)
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-service", Method: http.MethodGet, Path: "/{service-slug}",
		Summary: "Get a service", Description: "Needs services.view.",
	}, func(ctx context.Context, in *ServiceSlugInput) (*ServiceOutput, error) {
		app, err := s.GetService(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &ServiceOutput{Body: toServiceBody(app)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-service", Method: http.MethodPatch, Path: "/{service-slug}",
		Summary:     "Update a service",
		Description: "Needs services.manage. Lists given replace the stored ones; a null device_activation_uri clears it.",
	}, func(ctx context.Context, in *PatchServiceInput) (*ServiceOutput, error) {
		app, err := s.UpdateService(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, ApplicationUpdate{
			Name: in.Body.Name, Type: in.Body.ServiceType, RedirectURIs: in.Body.RedirectURIs,
			DeviceActivationURI: in.Body.DeviceActivationURI.clearable(), GithubScopes: in.Body.GithubScopes,
			GoogleScopes: in.Body.GoogleScopes, MicrosoftScopes: in.Body.MicrosoftScopes,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &ServiceOutput{Body: toServiceBody(app)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "rotate-service-secret", Method: http.MethodPost, Path: "/{service-slug}/secret/rotate",
		Summary:     "Rotate a service's client secret",
		Description: "Needs services.manage. The new secret is shown this once; the previous one stops working.",
	}, func(ctx context.Context, in *ServiceSlugInput) (*RotateSecretOutput, error) {
		res, err := s.RotateServiceSecret(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &RotateSecretOutput{CacheControl: "no-store"}
		out.Body.Service, out.Body.ClientSecret = toServiceBody(res.App), res.ClientSecret
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-service", Method: http.MethodDelete, Path: "/{service-slug}", DefaultStatus: http.StatusNoContent,
		Summary:     "Delete a service",
		Description: "Owner only, and not while the service has active subscriptions. Deletes its plans and ends its sessions.",
	}, func(ctx context.Context, in *ServiceSlugInput) (*struct{}, error) {
		if err := s.DeleteService(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug); err != nil {
			return nil, toHTTPError(err)
		}
		return nil, nil
	})
}
