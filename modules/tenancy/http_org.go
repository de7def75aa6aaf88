package tenancy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// orgTag is the OpenAPI tag of the organization operations.
const orgTag = "Organizations"

// CreateOrgInput is POST /api/organizations.
type CreateOrgInput struct {
	ClientMeta
	Body struct {
		Slug string `json:"slug" minLength:"3" maxLength:"50" pattern:"^[A-Za-z0-9_-]+$" doc:"Globally unique; not a reserved word"`
		Name string `json:"name" minLength:"2" maxLength:"100"`
	}
}

// CreateOrgOutput carries the new organization and the creator's
// org-scoped session.
type CreateOrgOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Organization OrganizationBody `json:"organization"`
		Owner        UserBody         `json:"owner"`
		Membership   MembershipBody   `json:"membership"`
		AccessToken  string           `json:"access_token"`
		RefreshToken string           `json:"refresh_token"`
		ExpiresIn    int              `json:"expires_in" doc:"Access-token lifetime in seconds"`
	}
}

// ListOrgsInput is GET /api/organizations.
type ListOrgsInput struct {
	Page   int    `query:"page" minimum:"1" default:"1"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Status string `query:"status" enum:"pending,active,suspended,rejected"`
}

// ListOrgsOutput is the caller's organizations.
type ListOrgsOutput struct {
	Body []OrgSummaryBody
}

// OrgSlugInput names an organization.
type OrgSlugInput struct {
	ClientMeta
	OrgSlug string `path:"org-slug" maxLength:"100"`
}

// OrgSummaryOutput is one organization with counts and tier.
type OrgSummaryOutput struct {
	Body OrgSummaryBody
}

// PatchOrgInput is PATCH /api/organizations/{org-slug}.
type PatchOrgInput struct {
	OrgSlugInput
	Body struct {
		Name *string `json:"name,omitempty" minLength:"2" maxLength:"100"`
	}
}

// SelectOrgOutput is the new org-scoped session.
type SelectOrgOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Organization OrganizationBody `json:"organization"`
		Membership   MembershipBody   `json:"membership"`
		AccessToken  string           `json:"access_token"`
		RefreshToken string           `json:"refresh_token"`
		ExpiresIn    int              `json:"expires_in" doc:"Access-token lifetime in seconds"`
	}
}

func registerOrgRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{orgTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-organization", Method: http.MethodPost, Path: "",
		Summary: "Create an organization",
		Description: "The caller becomes its owner. The organization starts pending until a platform owner approves it. " +
			"The answer carries an org-scoped session for the creator.",
	}, func(ctx context.Context, in *CreateOrgInput) (*CreateOrgOutput, error) {
		res, err := s.CreateOrganization(ctx, actorFrom(ctx, in.ClientMeta), in.Body.Slug, in.Body.Name)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &CreateOrgOutput{CacheControl: "no-store"}
		out.Body.Organization = toOrganizationBody(res.Org)
		out.Body.Owner = toUserBody(res.Owner)
		out.Body.Membership = toMembershipBody(res.Membership)
		out.Body.AccessToken, out.Body.RefreshToken, out.Body.ExpiresIn = res.Tokens.AccessToken, res.Tokens.RefreshToken, res.Tokens.ExpiresIn
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-organizations", Method: http.MethodGet, Path: "",
		Summary: "List the caller's organizations", Description: "In the order the caller joined them.",
	}, func(ctx context.Context, in *ListOrgsInput) (*ListOrgsOutput, error) {
		list, err := s.ListOrganizations(ctx, actorFrom(ctx, ClientMeta{}), OrgStatus(in.Status), in.Page, in.Limit)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListOrgsOutput{Body: make([]OrgSummaryBody, 0, len(list))}
		for _, o := range list {
			out.Body = append(out.Body, toOrgSummaryBody(o))
		}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-organization", Method: http.MethodGet, Path: "/{org-slug}",
		Summary: "Get an organization", Description: "Members and platform owners.",
	}, func(ctx context.Context, in *OrgSlugInput) (*OrgSummaryOutput, error) {
		sum, err := s.GetOrganization(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &OrgSummaryOutput{Body: toOrgSummaryBody(sum)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-organization", Method: http.MethodPatch, Path: "/{org-slug}",
		Summary:     "Update an organization",
		Description: "Needs org.settings.manage (owner, admin) or a platform owner.",
	}, func(ctx context.Context, in *PatchOrgInput) (*OrgSummaryOutput, error) {
		sum, err := s.UpdateOrganization(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Body.Name)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &OrgSummaryOutput{Body: toOrgSummaryBody(sum)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-organization", Method: http.MethodDelete, Path: "/{org-slug}",
		Summary:     "Delete an organization",
		Description: "Owner only. Deletes everything the organization owns.",
	}, func(ctx context.Context, in *OrgSlugInput) (*NullOutput, error) {
		if err := s.DeleteOrganization(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug); err != nil {
			return nil, toHTTPError(err)
		}
		return &NullOutput{}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "select-organization", Method: http.MethodPost, Path: "/{org-slug}/select",
		Summary:     "Switch to an organization",
		Description: "Members of an active organization get a new session whose token carries the organization.",
	}, func(ctx context.Context, in *OrgSlugInput) (*SelectOrgOutput, error) {
		res, err := s.SelectOrganization(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &SelectOrgOutput{CacheControl: "no-store"}
		out.Body.Organization = toOrganizationBody(res.Org)
		out.Body.Membership = toMembershipBody(res.Membership)
		out.Body.AccessToken, out.Body.RefreshToken, out.Body.ExpiresIn = res.Tokens.AccessToken, res.Tokens.RefreshToken, res.Tokens.ExpiresIn
		return out, nil
	})
}
