package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// invitationsTag is the OpenAPI tag of the invitation operations.
const invitationsTag = "Invitations"

// InvitationBody is an invitation (spec §6.1). The token is never part of
// it: the plaintext is returned once by create, and its hash stays in the
// database.
type InvitationBody struct {
	ID          string     `json:"id" format:"uuid"`
	OrgID       string     `json:"org_id" format:"uuid"`
	Email       string     `json:"email"`
	Role        string     `json:"role"`
	InvitedBy   *string    `json:"invited_by" format:"uuid" doc:"Null once the inviter's account is gone"`
	Status      string     `json:"status" enum:"pending,accepted,declined,cancelled,expired"`
	ExpiresAt   time.Time  `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
	RespondedAt *time.Time `json:"responded_at,omitempty"`
}

func toInvitationBody(inv Invitation) InvitationBody {
	return InvitationBody{
		ID: inv.ID.String(), OrgID: inv.OrgID.String(), Email: inv.Email, Role: string(inv.Role), InvitedBy: idString(inv.InvitedBy),
		Status: string(inv.Status), ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt, RespondedAt: inv.RespondedAt,
	}
}

// InviterBody is who sent an invitation.
type InviterBody struct {
	ID        string    `json:"id" format:"uuid"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func toInviterBody(u UserInfo) InviterBody {
	return InviterBody{ID: u.ID.String(), Email: u.Email, CreatedAt: u.CreatedAt}
}

// CreateInvitationInput is POST /api/organizations/{org-slug}/invitations.
type CreateInvitationInput struct {
	OrgSlugInput
	Body struct {
		Email string `json:"email" minLength:"3" maxLength:"254"`
		Role  string `json:"role" minLength:"1" maxLength:"64" doc:"admin or member; owner is not invitable"`
	}
}

// CreateInvitationOutput carries the invitation and its token, shown only
// here.
type CreateInvitationOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Invitation InvitationBody `json:"invitation"`
		Inviter    InviterBody    `json:"inviter"`
		Token      string         `json:"token" doc:"The invitation token, shown once; it is also emailed to the invitee"`
	}
}

// ListInvitationsInput is GET /api/organizations/{org-slug}/invitations.
type ListInvitationsInput struct {
	OrgSlugInput
	Page  int `query:"page" minimum:"1" default:"1"`
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"50"`
}

// OrgInvitationBody is an invitation with its inviter.
type OrgInvitationBody struct {
	Invitation InvitationBody `json:"invitation"`
	Inviter    *InviterBody   `json:"inviter" doc:"Null once the inviter's account is gone"`
}

// ListInvitationsOutput is one page of an organization's invitations.
type ListInvitationsOutput struct {
	Body []OrgInvitationBody
}

// OrgInvitationInput names an invitation of an organization.
type OrgInvitationInput struct {
	OrgSlugInput
	InvitationID string `path:"invitation-id" maxLength:"64"`
}

// AcceptedInvitationOutput is an accepted invitation with the organization
// joined and the new membership.
type AcceptedInvitationOutput struct {
	Body struct {
		Invitation   InvitationBody   `json:"invitation"`
		Organization OrganizationBody `json:"organization"`
		Membership   MembershipBody   `json:"membership"`
	}
}

func toAcceptedInvitationOutput(res AcceptedInvitation) *AcceptedInvitationOutput {
	out := &AcceptedInvitationOutput{}
	out.Body.Invitation = toInvitationBody(res.Invitation)
	out.Body.Organization = toOrganizationBody(res.Org)
	out.Body.Membership = toMembershipBody(res.Membership)
	return out
}

// UserInvitationBody is a pending invitation as its invitee sees it.
type UserInvitationBody struct {
	ID               string    `json:"id" format:"uuid"`
	Email            string    `json:"email"`
	Role             string    `json:"role"`
	ExpiresAt        time.Time `json:"expires_at"`
	CreatedAt        time.Time `json:"created_at"`
	OrganizationSlug string    `json:"organization_slug"`
	OrganizationName string    `json:"organization_name"`
}

// ListMyInvitationsOutput is the caller's pending invitations.
type ListMyInvitationsOutput struct {
	Body []UserInvitationBody
}

// InvitationTokenInput carries an emailed invitation token.
type InvitationTokenInput struct {
	ClientMeta
	Body struct {
		Token string `json:"token" minLength:"1" maxLength:"512"`
	}
}

// InvitationIDInput names an invitation addressed to the caller.
type InvitationIDInput struct {
	ClientMeta
	InvitationID string `path:"invitation-id" maxLength:"64"`
}

func success(msg string) *SuccessOutput {
	out := &SuccessOutput{}
	out.Body.Success, out.Body.Message = true, msg
	return out
}

// InvitationLinkInput is GET /invitations/accept/{token}.
type InvitationLinkInput struct {
	Token string `path:"token" maxLength:"512"`
}

// InvitationLinkOutput redirects to the dashboard's accept page.
type InvitationLinkOutput struct {
	Location     string `header:"Location"`
	CacheControl string `header:"Cache-Control"`
}

// anonMeta is what an unauthenticated handler knows about its caller.
func anonMeta(ctx context.Context, m ClientMeta) RequestMeta {
	meta := RequestMeta{UserAgent: m.UserAgent}
	if ip, ok := httpapi.ClientIPFrom(ctx); ok {
		meta.IP = ip.String()
	}
	return meta
}

func registerInvitationRoutes(api huma.API, s *Service) {
	registerOrgInvitationRoutes(api, s)
	registerMyInvitationRoutes(api, s)

	huma.Register(api, huma.Operation{
		OperationID: "decline-invitation-by-token", Method: http.MethodPost, Path: "/api/invitations/decline",
		Tags: []string{invitationsTag}, Summary: "Decline an invitation with its token",
		Description: "No authentication: holding the emailed token is the proof.",
	}, func(ctx context.Context, in *InvitationTokenInput) (*SuccessOutput, error) {
		if err := s.DeclineInvitationByToken(ctx, anonMeta(ctx, in.ClientMeta), in.Body.Token); err != nil {
			return nil, toHTTPError(err)
		}
		return success("Invitation declined"), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "open-invitation-link", Method: http.MethodGet, Path: "/invitations/accept/{token}",
		DefaultStatus: http.StatusFound, Tags: []string{invitationsTag}, Summary: "Open an invitation link",
		Description: "Redirects to the dashboard's accept page with the token as its query (AuthOS compatibility).",
	}, func(_ context.Context, in *InvitationLinkInput) (*InvitationLinkOutput, error) {
		return &InvitationLinkOutput{Location: s.InvitationAcceptURL(in.Token), CacheControl: "no-store"}, nil
	})
}

func registerOrgInvitationRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/invitations")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{invitationsTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-invitation", Method: http.MethodPost, Path: "", DefaultStatus: http.StatusCreated,
		Summary: "Invite someone",
		Description: "Needs org.members.manage on an active organization. The token is returned once and emailed once; " +
			"the invitation expires after 7 days.",
	}, func(ctx context.Context, in *CreateInvitationInput) (*CreateInvitationOutput, error) {
		res, err := s.CreateInvitation(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Body.Email, in.Body.Role)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &CreateInvitationOutput{CacheControl: "no-store"}
		out.Body.Invitation = toInvitationBody(res.Invitation)
		out.Body.Inviter = toInviterBody(res.Inviter)
		out.Body.Token = res.Token
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-invitations", Method: http.MethodGet, Path: "",
		Summary: "List invitations", Description: "Needs org.members.view or org.members.manage. Newest first, every status; never a token.",
	}, func(ctx context.Context, in *ListInvitationsInput) (*ListInvitationsOutput, error) {
		list, err := s.ListInvitations(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Page, in.Limit)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListInvitationsOutput{Body: make([]OrgInvitationBody, 0, len(list))}
		for _, oi := range list {
			b := OrgInvitationBody{Invitation: toInvitationBody(oi.Invitation)}
			if oi.Inviter != nil {
				ib := toInviterBody(*oi.Inviter)
				b.Inviter = &ib
			}
			out.Body = append(out.Body, b)
		}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "cancel-invitation", Method: http.MethodPost, Path: "/{invitation-id}",
		Summary:     "Cancel an invitation",
		Description: "This POST cancels the invitation (AuthOS compatibility). Needs org.members.manage; only pending invitations.",
	}, func(ctx context.Context, in *OrgInvitationInput) (*NullOutput, error) {
		if err := s.CancelInvitation(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.InvitationID)); err != nil {
			return nil, toHTTPError(err)
		}
		return &NullOutput{}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "accept-invitation-on-behalf", Method: http.MethodPost, Path: "/{invitation-id}/accept",
		Summary: "Accept an invitation for the invitee",
		Description: "Needs org.members.manage and a role that can grant the invited one. The invitee must have an account; " +
			"the team limit applies.",
	}, func(ctx context.Context, in *OrgInvitationInput) (*AcceptedInvitationOutput, error) {
		res, err := s.AcceptInvitationOnBehalf(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.InvitationID))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return toAcceptedInvitationOutput(res), nil
	})
}

func registerMyInvitationRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/invitations")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{invitationsTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-my-invitations", Method: http.MethodGet, Path: "",
		Summary: "List my invitations", Description: "The caller's pending, unexpired invitations (matched by email, case-insensitively).",
	}, func(ctx context.Context, _ *struct{}) (*ListMyInvitationsOutput, error) {
		list, err := s.ListMyInvitations(ctx, actorFrom(ctx, ClientMeta{}))
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListMyInvitationsOutput{Body: make([]UserInvitationBody, 0, len(list))}
		for _, ui := range list {
			inv := ui.Invitation
			out.Body = append(out.Body, UserInvitationBody{
				ID: inv.ID.String(), Email: inv.Email, Role: string(inv.Role), ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt,
				OrganizationSlug: ui.OrgSlug, OrganizationName: ui.OrgName,
			})
		}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "accept-invitation-by-token", Method: http.MethodPost, Path: "/accept",
		Summary: "Accept an invitation with its token", Description: "The caller's email must be the invited one.",
	}, func(ctx context.Context, in *InvitationTokenInput) (*AcceptedInvitationOutput, error) {
		res, err := s.AcceptInvitationByToken(ctx, actorFrom(ctx, in.ClientMeta), in.Body.Token)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return toAcceptedInvitationOutput(res), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "accept-invitation", Method: http.MethodPost, Path: "/{invitation-id}/accept",
		Summary: "Accept an invitation", Description: "The caller's email must be the invited one.",
	}, func(ctx context.Context, in *InvitationIDInput) (*AcceptedInvitationOutput, error) {
		res, err := s.AcceptInvitation(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.InvitationID))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return toAcceptedInvitationOutput(res), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "decline-invitation", Method: http.MethodPost, Path: "/{invitation-id}/decline",
		Summary: "Decline an invitation", Description: "The caller's email must be the invited one.",
	}, func(ctx context.Context, in *InvitationIDInput) (*SuccessOutput, error) {
		if err := s.DeclineInvitation(ctx, actorFrom(ctx, in.ClientMeta), pathID(in.InvitationID)); err != nil {
			return nil, toHTTPError(err)
		}
		return success("Invitation declined"), nil
	})
}
