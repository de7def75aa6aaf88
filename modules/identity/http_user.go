package identity

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// UserBody is the caller's profile (spec §3.1).
type UserBody struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	IsPlatformOwner bool       `json:"is_platform_owner"`
	EmailVerifiedAt *time.Time `json:"email_verified_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	Org             string     `json:"org" doc:"Org slug of the session, empty when none"`
	Service         string     `json:"service" doc:"Service slug of the session, empty when none"`
	Permissions     []string   `json:"permissions"`
	PendingEmail    string     `json:"pending_email,omitempty" doc:"New address awaiting verification after an email change"`
}

// UserOutput wraps UserBody.
type UserOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         UserBody
}

func toUserOutput(p Profile) *UserOutput {
	return &UserOutput{CacheControl: "no-store", Body: UserBody{
		ID: p.ID.String(), Email: p.Email, IsPlatformOwner: p.IsPlatformOwner, EmailVerifiedAt: p.EmailVerifiedAt,
		CreatedAt: p.CreatedAt, Org: p.Org, Service: p.Service, Permissions: p.Permissions, PendingEmail: p.PendingEmail,
	}}
}

// PatchUserRequest is PATCH /api/user.
type PatchUserRequest struct {
	ClientMeta
	Body struct {
		Email *string `json:"email,omitempty" maxLength:"254" doc:"New email; verified before it replaces the current one"`
	}
}

// ChangePasswordRequest is POST /api/user/change-password.
type ChangePasswordRequest struct {
	ClientMeta
	Body struct {
		CurrentPassword string `json:"current_password" maxLength:"1024"`
		NewPassword     string `json:"new_password" maxLength:"1024"`
	}
}

// SetPasswordRequest is POST /api/user/set-password.
type SetPasswordRequest struct {
	ClientMeta
	Body struct {
		NewPassword string `json:"new_password" maxLength:"1024"`
	}
}

func registerUserRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api)
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{"User Management"}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-current-user", Method: http.MethodGet, Path: "/api/user", Summary: "The caller's profile",
	}, func(ctx context.Context, _ *struct{}) (*UserOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		// The authenticator already loaded the live profile with the session.
		if a, ok := p.Details.(activeSession); ok && a.UserID == p.UserID {
			return toUserOutput(profileFromActive(a, p.OrgSlug, p.ServiceSlug)), nil
		}
		prof, err := s.GetProfile(ctx, p.UserID, p.OrgSlug, p.ServiceSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return toUserOutput(prof), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-current-user", Method: http.MethodPatch, Path: "/api/user", Summary: "Update the caller's profile",
		Description: "An email change sends a verification link to the new address; the email changes once it is verified.",
	}, func(ctx context.Context, in *PatchUserRequest) (*UserOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		if in.Body.Email == nil {
			prof, err := s.GetProfile(ctx, p.UserID, p.OrgSlug, p.ServiceSlug)
			if err != nil {
				return nil, toHTTPError(err)
			}
			return toUserOutput(prof), nil
		}
		prof, err := s.ChangeEmail(ctx, p.UserID, *in.Body.Email, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		prof.Org, prof.Service = p.OrgSlug, p.ServiceSlug
		return toUserOutput(prof), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "change-password", Method: http.MethodPost, Path: "/api/user/change-password",
		Summary: "Change the password", Description: "Revokes every other session of the account.",
	}, func(ctx context.Context, in *ChangePasswordRequest) (*MessageOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		if err := s.ChangePassword(ctx, p.UserID, p.SessionID, in.Body.CurrentPassword, in.Body.NewPassword, metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, newPasswordError(err)
		}
		return message("Password changed successfully"), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "set-password", Method: http.MethodPost, Path: "/api/user/set-password",
		Summary: "Set a password on an OAuth-only account",
	}, func(ctx context.Context, in *SetPasswordRequest) (*MessageOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		if err := s.SetPassword(ctx, p.UserID, p.SessionID, in.Body.NewPassword, metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, newPasswordError(err)
		}
		return message("Password set successfully"), nil
	})
}
