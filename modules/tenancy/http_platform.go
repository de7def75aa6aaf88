package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// platformTag is the OpenAPI tag of the platform-owner operations.
const platformTag = "Platform Owner"

// OwnerBody is an organization's owner in platform listings; an owner
// whose account is gone is {id:"unknown", email:"deleted-user@unknown"}.
type OwnerBody struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	IsPlatformOwner bool       `json:"is_platform_owner"`
	CreatedAt       *time.Time `json:"created_at,omitempty"`
}

// PlatformOrgBody is an organization with its tier and owner.
type PlatformOrgBody struct {
	OrganizationBody
	Tier  *TierBody `json:"tier,omitempty"`
	Owner OwnerBody `json:"owner"`
}

func toPlatformOrgBody(o PlatformOrg) PlatformOrgBody {
	b := PlatformOrgBody{OrganizationBody: toOrganizationBody(o.Org), Tier: toTierBodyPtr(o.Tier),
		Owner: OwnerBody{ID: "unknown", Email: "deleted-user@unknown"}}
	if o.Owner != nil {
		created := o.Owner.CreatedAt
		b.Owner = OwnerBody{ID: o.Owner.ID.String(), Email: o.Owner.Email, IsPlatformOwner: o.Owner.IsPlatformOwner, CreatedAt: &created}
	}
	return b
}

// ListTiersOutput is every tier, cheapest first.
type ListTiersOutput struct {
	Body []TierBody
}

// ListPlatformOrgsInput is GET /api/platform/organizations.
type ListPlatformOrgsInput struct {
	Status string `query:"status" enum:"pending,active,suspended,rejected"`
	TierID string `query:"tier_id" maxLength:"64"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset int    `query:"offset" minimum:"0" default:"0"`
}

// ListPlatformOrgsOutput is one page of organizations.
type ListPlatformOrgsOutput struct {
	Body struct {
		Organizations []PlatformOrgBody `json:"organizations"`
		Total         int               `json:"total"`
	}
}

// PlatformOrgInput names an organization by id.
type PlatformOrgInput struct {
	ClientMeta
	OrgID string `path:"org-id" maxLength:"64"`
}

// OrganizationOutput is one organization.
type OrganizationOutput struct {
	Body OrganizationBody
}

// ApproveOrgInput is POST /api/platform/organizations/{org-id}/approve.
type ApproveOrgInput struct {
	PlatformOrgInput
	Body *struct {
		TierID string `json:"tier_id,omitempty" maxLength:"64" doc:"Defaults to tier_free"`
	}
}

// RejectOrgInput is POST /api/platform/organizations/{org-id}/reject.
type RejectOrgInput struct {
	PlatformOrgInput
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

// SetTierInput is PATCH /api/platform/organizations/{org-id}/tier.
type SetTierInput struct {
	PlatformOrgInput
	Body struct {
		TierID      string `json:"tier_id" minLength:"1" maxLength:"64"`
		MaxServices *int   `json:"max_services,omitempty" nullable:"true" minimum:"0" doc:"Absent or null clears the override"`
		MaxUsers    *int   `json:"max_users,omitempty" nullable:"true" minimum:"1" doc:"Absent or null clears the override"`
	}
}

// SetFeaturesInput is PATCH /api/platform/organizations/{org-id}/features.
// Overrides only widen the tier; false grants nothing beyond the tier.
type SetFeaturesInput struct {
	PlatformOrgInput
	Body struct {
		AllowCustomDomain      *bool    `json:"allow_custom_domain,omitempty"`
		AllowSAMLIdP           *bool    `json:"allow_saml_idp,omitempty"`
		AllowSAML              *bool    `json:"allow_saml,omitempty" doc:"Alias of allow_saml_idp"`
		AllowSCIM              *bool    `json:"allow_scim,omitempty"`
		AllowSIEM              *bool    `json:"allow_siem,omitempty"`
		AllowSIEMIntegration   *bool    `json:"allow_siem_integration,omitempty" doc:"Alias of allow_siem"`
		AllowBranding          *bool    `json:"allow_branding,omitempty"`
		AllowCustomBranding    *bool    `json:"allow_custom_branding,omitempty" doc:"Alias of allow_branding"`
		AllowPasskeys          *bool    `json:"allow_passkeys,omitempty"`
		AllowedSocialProviders []string `json:"allowed_social_providers,omitempty" maxItems:"10" doc:"Added to the tier's providers"`
		MaxMAU                 *int     `json:"max_mau,omitempty" doc:"Used when larger than the tier's; 0 or less is unlimited"`
		AllowOverage           *bool    `json:"allow_overage,omitempty"`
	}
}

func firstSet(vs ...*bool) *bool {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func (in *SetFeaturesInput) overrides() FeatureOverrides {
	b := in.Body
	return FeatureOverrides{
		AllowCustomDomain: b.AllowCustomDomain, AllowSAMLIdP: firstSet(b.AllowSAMLIdP, b.AllowSAML), AllowSCIM: b.AllowSCIM,
		AllowSIEM: firstSet(b.AllowSIEM, b.AllowSIEMIntegration), AllowBranding: firstSet(b.AllowBranding, b.AllowCustomBranding),
		AllowPasskeys: b.AllowPasskeys, AllowedSocialProviders: b.AllowedSocialProviders, MaxMAU: b.MaxMAU, AllowOverage: b.AllowOverage,
	}
}

// SuccessOutput is a `{success, message}` answer.
type SuccessOutput struct {
	Body struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
}

// PromoteOwnerInput is POST /api/platform/owners.
type PromoteOwnerInput struct {
	ClientMeta
	Body struct {
		UserID string `json:"user_id" minLength:"1" maxLength:"64"`
	}
}

// PlatformUserInput names a user by id.
type PlatformUserInput struct {
	ClientMeta
	UserID string `path:"user-id" maxLength:"64"`
}

// UserOutput is one user.
type UserOutput struct {
	Body UserBody
}

// ListUsersInput is GET /api/platform/users.
type ListUsersInput struct {
	Limit  int `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset int `query:"offset" minimum:"0" default:"0"`
}

// ListUsersOutput is one page of platform-level users.
type ListUsersOutput struct {
	Body struct {
		Users []UserBody `json:"users"`
		Total int        `json:"total"`
	}
}

// SearchUsersInput is GET /api/platform/users/search.
type SearchUsersInput struct {
	Q     string `query:"q" required:"true" minLength:"1" maxLength:"254" doc:"Email fragment or user id"`
	Limit int    `query:"limit" minimum:"1" maximum:"50" default:"10"`
}

// SearchUsersOutput is the matching users, most relevant first.
type SearchUsersOutput struct {
	Body []UserBody
}

func toUserBodies(us []UserInfo) []UserBody {
	out := make([]UserBody, 0, len(us))
	for _, u := range us {
		out = append(out, toUserBody(u))
	}
	return out
}

func registerPlatformRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/platform")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{platformTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})
	registerPlatformOrgRoutes(g, s)
	registerPlatformUserRoutes(g, s)
}

func registerPlatformOrgRoutes(g huma.API, s *Service) {
	huma.Register(g, huma.Operation{
		OperationID: "list-tiers", Method: http.MethodGet, Path: "/tiers", Summary: "List the tiers", Description: "Cheapest first.",
	}, func(ctx context.Context, _ *struct{}) (*ListTiersOutput, error) {
		tiers, err := s.ListTiers(ctx, actorFrom(ctx, ClientMeta{}))
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListTiersOutput{Body: make([]TierBody, 0, len(tiers))}
		for _, t := range tiers {
			out.Body = append(out.Body, toTierBody(t))
		}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-platform-organizations", Method: http.MethodGet, Path: "/organizations",
		Summary: "List every organization", Description: "Newest first, with tier and owner.",
	}, func(ctx context.Context, in *ListPlatformOrgsInput) (*ListPlatformOrgsOutput, error) {
		list, total, err := s.ListPlatformOrganizations(ctx, actorFrom(ctx, ClientMeta{}), PlatformOrgFilter{
			Status: OrgStatus(in.Status), TierID: in.TierID, Limit: in.Limit, Offset: in.Offset,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListPlatformOrgsOutput{}
		out.Body.Organizations = make([]PlatformOrgBody, 0, len(list))
		for _, o := range list {
			out.Body.Organizations = append(out.Body.Organizations, toPlatformOrgBody(o))
		}
		out.Body.Total = total
		return out, nil
	})

	orgOp := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc}
	}
	respond := func(o Organization, err error) (*OrganizationOutput, error) {
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &OrganizationOutput{Body: toOrganizationBody(o)}, nil
	}

	huma.Register(g, orgOp("approve-organization", http.MethodPost, "/organizations/{org-id}/approve",
		"Approve a pending organization", "Activates it on tier_id (default tier_free)."),
		func(ctx context.Context, in *ApproveOrgInput) (*OrganizationOutput, error) {
			tier := ""
			if in.Body != nil {
				tier = in.Body.TierID
			}
			return respond(s.ApproveOrganization(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID), tier))
		})

	huma.Register(g, orgOp("reject-organization", http.MethodPost, "/organizations/{org-id}/reject",
		"Reject a pending organization", "Rejection is terminal."),
		func(ctx context.Context, in *RejectOrgInput) (*OrganizationOutput, error) {
			return respond(s.RejectOrganization(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID), in.Body.Reason))
		})

	huma.Register(g, orgOp("suspend-organization", http.MethodPost, "/organizations/{org-id}/suspend",
		"Suspend an organization", "Any status but suspended. Suspended organizations fail the active-organization gate."),
		func(ctx context.Context, in *PlatformOrgInput) (*OrganizationOutput, error) {
			return respond(s.SuspendOrganization(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID)))
		})

	huma.Register(g, orgOp("activate-organization", http.MethodPost, "/organizations/{org-id}/activate",
		"Reactivate a suspended organization", ""),
		func(ctx context.Context, in *PlatformOrgInput) (*OrganizationOutput, error) {
			return respond(s.ActivateOrganization(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID)))
		})

	huma.Register(g, orgOp("update-organization-tier", http.MethodPatch, "/organizations/{org-id}/tier",
		"Set an organization's tier and limit overrides", "The request states the whole assignment: an absent or null override is cleared."),
		func(ctx context.Context, in *SetTierInput) (*OrganizationOutput, error) {
			return respond(s.SetOrganizationTier(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID), TierUpdate{
				TierID: in.Body.TierID, MaxServices: in.Body.MaxServices, MaxUsers: in.Body.MaxUsers,
			}))
		})

	huma.Register(g, orgOp("update-organization-features", http.MethodPatch, "/organizations/{org-id}/features",
		"Merge feature overrides", "Overrides only widen the tier's features: flags are OR-ed, providers added, the larger MAU quota used."),
		func(ctx context.Context, in *SetFeaturesInput) (*OrganizationOutput, error) {
			return respond(s.SetOrganizationFeatures(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID), in.overrides()))
		})

	huma.Register(g, orgOp("delete-platform-organization", http.MethodDelete, "/organizations/{org-id}",
		"Delete an organization", "Any status. Deletes everything the organization owns."),
		func(ctx context.Context, in *PlatformOrgInput) (*SuccessOutput, error) {
			if err := s.DeletePlatformOrganization(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.OrgID)); err != nil {
				return nil, toHTTPError(err)
			}
			out := &SuccessOutput{}
			out.Body.Success, out.Body.Message = true, "Organization deleted successfully"
			return out, nil
		})
}

func registerPlatformUserRoutes(g huma.API, s *Service) {
	userResult := func(u UserInfo, err error) (*UserOutput, error) {
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &UserOutput{Body: toUserBody(u)}, nil
	}

	huma.Register(g, huma.Operation{
		OperationID: "promote-platform-owner", Method: http.MethodPost, Path: "/owners", Summary: "Promote a platform owner",
	}, func(ctx context.Context, in *PromoteOwnerInput) (*UserOutput, error) {
		return userResult(s.PromotePlatformOwner(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.Body.UserID)))
	})

	huma.Register(g, huma.Operation{
		OperationID: "demote-platform-owner", Method: http.MethodDelete, Path: "/owners/{user-id}", Summary: "Demote a platform owner",
		Description: "Nobody demotes themselves, and the last platform owner stays.",
	}, func(ctx context.Context, in *PlatformUserInput) (*UserOutput, error) {
		return userResult(s.DemotePlatformOwner(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.UserID)))
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-platform-users", Method: http.MethodGet, Path: "/users", Summary: "List platform users",
	}, func(ctx context.Context, in *ListUsersInput) (*ListUsersOutput, error) {
		users, total, err := s.ListPlatformUsers(ctx, actorFrom(ctx, ClientMeta{}), in.Limit, in.Offset)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListUsersOutput{}
		out.Body.Users, out.Body.Total = toUserBodies(users), total
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "search-platform-users", Method: http.MethodGet, Path: "/users/search", Summary: "Search platform users",
		Description: "By email fragment or id, most relevant first.",
	}, func(ctx context.Context, in *SearchUsersInput) (*SearchUsersOutput, error) {
		users, err := s.SearchPlatformUsers(ctx, actorFrom(ctx, ClientMeta{}), in.Q, in.Limit)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &SearchUsersOutput{Body: toUserBodies(users)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-platform-user", Method: http.MethodGet, Path: "/users/{user-id}", Summary: "Get a user",
	}, func(ctx context.Context, in *PlatformUserInput) (*UserOutput, error) {
		return userResult(s.GetPlatformUser(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.UserID)))
	})
}
