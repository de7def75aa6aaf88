package tenancy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// ListMembersInput is GET /api/organizations/{org-slug}/members.
type ListMembersInput struct {
	OrgSlugInput
	Page  int    `query:"page" minimum:"1" default:"1"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Role  string `query:"role" enum:"owner,admin,member"`
}

// TeamLimitBody is the member count against max_users.
type TeamLimitBody struct {
	Current int    `json:"current"`
	Max     int    `json:"max"`
	Source  string `json:"source" doc:"\"custom\" for an organization override, else the tier's name"`
}

// ListMembersOutput is one page of members.
type ListMembersOutput struct {
	Body struct {
		Members []MemberBody  `json:"members"`
		Total   int           `json:"total"`
		Limit   TeamLimitBody `json:"limit"`
	}
}

// MemberInput names a member of an organization.
type MemberInput struct {
	OrgSlugInput
	UserID string `path:"user-id" maxLength:"64"`
}

// ChangeRoleInput is PATCH /api/organizations/{org-slug}/members/{user-id}.
type ChangeRoleInput struct {
	MemberInput
	Body struct {
		Role string `json:"role" minLength:"1" maxLength:"64" doc:"owner, admin or member; granting owner transfers ownership"`
	}
}

// MemberOutput is a member with their user.
type MemberOutput struct {
	Body MemberBody
}

// TransferOwnershipInput is POST /api/organizations/{org-slug}/transfer-ownership.
type TransferOwnershipInput struct {
	OrgSlugInput
	Body struct {
		NewOwnerEmail string `json:"new_owner_email" minLength:"3" maxLength:"254"`
	}
}

func registerMemberRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{orgTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-organization-members", Method: http.MethodGet, Path: "/members",
		Summary: "List members", Description: "Any member. Oldest first, with the team limit.",
	}, func(ctx context.Context, in *ListMembersInput) (*ListMembersOutput, error) {
		res, err := s.ListMembers(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, Role(in.Role), in.Page, in.Limit)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListMembersOutput{}
		out.Body.Members = make([]MemberBody, 0, len(res.Members))
		for _, m := range res.Members {
			out.Body.Members = append(out.Body.Members, toMemberBody(m))
		}
		out.Body.Total = res.Total
		out.Body.Limit = TeamLimitBody{Current: res.Limit.Current, Max: res.Limit.Max, Source: res.Limit.Source}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "change-organization-member-role", Method: http.MethodPatch, Path: "/members/{user-id}",
		Summary: "Change a member's role",
		Description: "Needs org.roles.manage; only the owner changes owners and admins or grants admin or owner. " +
			"Granting owner transfers ownership and makes the previous owner an admin.",
	}, func(ctx context.Context, in *ChangeRoleInput) (*MemberOutput, error) {
		m, err := s.ChangeMemberRole(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.UserID), in.Body.Role)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &MemberOutput{Body: toMemberBody(m)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "remove-organization-member", Method: http.MethodPost, Path: "/members/{user-id}",
		Summary:     "Remove a member",
		Description: "This POST removes the member (AuthOS compatibility). Needs org.members.manage; only the owner removes admins.",
	}, func(ctx context.Context, in *MemberInput) (*NullOutput, error) {
		if err := s.RemoveMember(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.UserID)); err != nil {
			return nil, toHTTPError(err)
		}
		return &NullOutput{}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "transfer-organization-ownership", Method: http.MethodPost, Path: "/transfer-ownership",
		Summary:     "Transfer ownership",
		Description: "Owner only. The new owner must be a member; the previous owner becomes an admin.",
	}, func(ctx context.Context, in *TransferOwnershipInput) (*MemberOutput, error) {
		m, err := s.TransferOwnership(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Body.NewOwnerEmail)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &MemberOutput{Body: toMemberBody(m)}, nil
	})
}
