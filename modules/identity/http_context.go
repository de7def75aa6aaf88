package identity

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// AuthContextInput is GET /api/auth/context.
type AuthContextInput struct {
	Org         string `query:"org" maxLength:"100" doc:"Organization slug"`
	Service     string `query:"service" maxLength:"100" doc:"Service slug (needs org)"`
	RedirectURI string `query:"redirect_uri" maxLength:"2048" doc:"Checked against the service's registered redirect URIs"`
}

// ContextOrganization is the organization part of the auth context.
type ContextOrganization struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	LogoURL      string `json:"logo_url,omitempty"`
	PrimaryColor string `json:"primary_color,omitempty"`
	Status       string `json:"status"`
}

// ContextService is the service part of the auth context.
type ContextService struct {
	Slug             string `json:"slug"`
	Name             string `json:"name"`
	ServiceType      string `json:"service_type"`
	RedirectURIValid *bool  `json:"redirect_uri_valid,omitempty"`
}

// AuthContextOutput tells a login page what to show.
type AuthContextOutput struct {
	Body struct {
		Organization       *ContextOrganization `json:"organization,omitempty"`
		Service            *ContextService      `json:"service,omitempty"`
		AvailableProviders []string             `json:"available_providers"`
		AuthMethods        []string             `json:"auth_methods"`
		SupportAvailable   bool                 `json:"support_available"`
	}
}

// AuthContext describes what a login in a scope may use. Inactive
// organizations get empty method and provider lists (spec §1.6). Social
// providers are the organization's own apps, else the platform's, within
// the tier's allowance (AvailableProviders).
func (s *Service) AuthContext(ctx context.Context, orgSlug, serviceSlug, redirectURI string) (*AuthContextOutput, error) {
	out := &AuthContextOutput{}
	out.Body.SupportAvailable = true
	out.Body.AvailableProviders = []string{}
	out.Body.AuthMethods = []string{"password"}
	if orgSlug == "" {
		if serviceSlug != "" {
			return nil, ErrScopeInvalid
		}
		out.Body.AvailableProviders = append(out.Body.AvailableProviders, s.AvailableProviders(Scope{})...)
		return out, nil
	}
	if s.scopes == nil {
		return nil, ErrScopeNotFound
	}
	sc, err := s.scopes.ResolveScope(ctx, orgSlug, serviceSlug)
	if err != nil {
		return nil, err
	}
	out.Body.Organization = &ContextOrganization{Slug: sc.OrgSlug, Name: sc.OrgName, LogoURL: sc.LogoURL, PrimaryColor: sc.PrimaryColor, Status: sc.OrgStatus}
	if sc.ServiceID != nil {
		svc := &ContextService{Slug: sc.ServiceSlug, Name: sc.ServiceName, ServiceType: sc.ServiceType}
		if redirectURI != "" {
			valid := sc.RedirectAllowedFunc != nil && sc.RedirectAllowedFunc(redirectURI)
			svc.RedirectURIValid = &valid
		}
		out.Body.Service = svc
	}
	if sc.OrgStatus != "active" {
		out.Body.AuthMethods = []string{}
	} else if sc.ServiceID != nil {
		out.Body.AvailableProviders = append(out.Body.AvailableProviders, s.AvailableProviders(sc)...)
	}
	return out, nil
}

func registerContextRoute(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "get-auth-context", Method: http.MethodGet, Path: "/api/auth/context", Tags: []string{"Authentication"},
		Summary:     "What a login page should offer",
		Description: "The organization's branding and status, the service, whether redirect_uri is registered, and the available login methods. Inactive organizations offer none.",
	}, func(ctx context.Context, in *AuthContextInput) (*AuthContextOutput, error) {
		out, err := s.AuthContext(ctx, in.Org, in.Service, in.RedirectURI)
		if errors.Is(err, ErrScopeNotFound) {
			return nil, httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "Organization or service not found")
		}
		if err != nil {
			return nil, toHTTPError(err)
		}
		return out, nil
	})
}
