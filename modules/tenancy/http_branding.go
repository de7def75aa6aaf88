package tenancy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// BrandingBody is an organization's branding (spec §4.4); unset fields are
// null.
type BrandingBody struct {
	LogoURL      *string `json:"logo_url" doc:"Absolute https URL of the logo; null when unset"`
	PrimaryColor *string `json:"primary_color" doc:"Hex color, #rrggbb or #rgb in lowercase; null when unset"`
}

// BrandingOutput is an organization's branding.
type BrandingOutput struct {
	Body BrandingBody
}

// PatchBrandingInput is PATCH /api/organizations/{org-slug}/branding. Both
// fields are written: a missing one clears it.
type PatchBrandingInput struct {
	OrgSlugInput
	Body struct {
		LogoURL      *string `json:"logo_url,omitempty" maxLength:"2048" doc:"Absolute https URL, no credentials or fragment; missing or null clears it"`
		PrimaryColor *string `json:"primary_color,omitempty" doc:"#rrggbb or #rgb; missing or null clears it"`
	}
}

// PublicBrandingInput is GET /api/organizations/{org-slug}/branding/public.
type PublicBrandingInput struct {
	OrgSlug string `path:"org-slug" maxLength:"100"`
}

func toBrandingBody(b Branding) BrandingBody {
	//lint:ignore S1016 the DTO and the domain type are kept apart on purpose
	return BrandingBody{LogoURL: b.LogoURL, PrimaryColor: b.PrimaryColor}
}

func registerBrandingRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/branding")
	g.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{orgTag} })

	bearer := httpapi.Security(httpapi.SchemeBearer)
	huma.Register(g, huma.Operation{
		OperationID: "get-organization-branding", Method: http.MethodGet, Path: "", Security: bearer,
		Summary: "Get an organization's branding", Description: "Members only.",
	}, func(ctx context.Context, in *OrgSlugInput) (*BrandingOutput, error) {
		b, err := s.GetBranding(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &BrandingOutput{Body: toBrandingBody(b)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-organization-branding", Method: http.MethodPatch, Path: "", Security: bearer,
		Summary: "Set an organization's branding",
		Description: "Needs org.settings.manage on an active organization whose plan allows Custom Branding. " +
			"Overwrites both fields: a missing field is cleared.",
	}, func(ctx context.Context, in *PatchBrandingInput) (*BrandingOutput, error) {
		b, err := s.UpdateBranding(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug,
			Branding{LogoURL: in.Body.LogoURL, PrimaryColor: in.Body.PrimaryColor})
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &BrandingOutput{Body: toBrandingBody(b)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-public-organization-branding", Method: http.MethodGet, Path: "/public",
		Summary:     "Get an organization's public branding",
		Description: "No authentication, for login pages. Only active organizations; any other answers 404.",
	}, func(ctx context.Context, in *PublicBrandingInput) (*BrandingOutput, error) {
		b, err := s.PublicBranding(ctx, in.OrgSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &BrandingOutput{Body: toBrandingBody(b)}, nil
	})
}
