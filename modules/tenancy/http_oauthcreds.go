package tenancy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// OAuthCredentialInput names an organization's OAuth app for a provider.
type OAuthCredentialInput struct {
	OrgSlugInput
	Provider string `path:"provider" maxLength:"20" doc:"github, google or microsoft"`
}

// SetOAuthCredentialInput is POST /api/organizations/{org-slug}/oauth-credentials/{provider}.
type SetOAuthCredentialInput struct {
	OAuthCredentialInput
	Body struct {
		ClientID     string `json:"client_id" maxLength:"500"`
		ClientSecret string `json:"client_secret" maxLength:"1000" doc:"Stored encrypted; never returned"`
	}
}

// OAuthCredentialBody is an OAuth app as it can be read back: never the
// secret.
type OAuthCredentialBody struct {
	Provider  string    `json:"provider"`
	ClientID  string    `json:"client_id"`
	HasSecret bool      `json:"has_secret"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OAuthCredentialOutput is one OAuth app.
type OAuthCredentialOutput struct {
	Body OAuthCredentialBody
}

func toOAuthCredentialOutput(c OAuthCredentialSummary) *OAuthCredentialOutput {
	return &OAuthCredentialOutput{Body: OAuthCredentialBody{Provider: c.Provider, ClientID: c.ClientID, HasSecret: true, UpdatedAt: c.UpdatedAt}}
}

func registerOAuthCredentialRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/oauth-credentials/{provider}")
	g.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{orgTag} })
	bearer := httpapi.Security(httpapi.SchemeBearer)

	huma.Register(g, huma.Operation{
		OperationID: "set-organization-oauth-credentials", Method: http.MethodPost, Path: "", Security: bearer,
		Summary: "Bring your own OAuth app for a provider",
		Description: "Needs org.settings.manage (or a platform owner) on an active organization. Creates or replaces the " +
			"organization's app; every OAuth flow and token refresh of the organization then uses it. The secret is " +
			"encrypted at rest and never returned.",
	}, func(ctx context.Context, in *SetOAuthCredentialInput) (*OAuthCredentialOutput, error) {
		c, err := s.SetOAuthCredentials(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Provider, in.Body.ClientID, in.Body.ClientSecret)
		if err != nil {
			return nil, oauthCredError(err)
		}
		return toOAuthCredentialOutput(c), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-organization-oauth-credentials", Method: http.MethodGet, Path: "", Security: bearer,
		Summary:     "Read an organization's OAuth app for a provider",
		Description: "Needs org.settings.manage (or a platform owner). Returns the client id only.",
	}, func(ctx context.Context, in *OAuthCredentialInput) (*OAuthCredentialOutput, error) {
		c, err := s.GetOAuthCredentials(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Provider)
		if err != nil {
			return nil, oauthCredError(err)
		}
		return toOAuthCredentialOutput(c), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-organization-oauth-credentials", Method: http.MethodDelete, Path: "", Security: bearer,
		DefaultStatus: http.StatusNoContent,
		Summary:       "Remove an organization's OAuth app for a provider",
		Description:   "Needs org.settings.manage (or a platform owner). The organization's flows use the platform's app again.",
	}, func(ctx context.Context, in *OAuthCredentialInput) (*struct{}, error) {
		if err := s.DeleteOAuthCredentials(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Provider); err != nil {
			return nil, oauthCredError(err)
		}
		return nil, nil
	})
}

func oauthCredError(err error) error {
	switch {
	case errors.Is(err, ErrInvalidOAuthProvider):
		return badRequest("Invalid provider. Must be github, google, or microsoft")
	case errors.Is(err, ErrOAuthCredentialsNotFound):
		return notFound("OAuth credentials not found for this provider")
	}
	return toHTTPError(err)
}
