package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// codeProviderReauthRequired is the error_code of a provider token that
// expired and cannot be refreshed (the Service API broker's code for the
// same condition, spec §9.1).
const codeProviderReauthRequired = "PROVIDER_REAUTH_REQUIRED"

// GetProviderTokenRequest is GET /api/provider-token/{provider}.
type GetProviderTokenRequest struct {
	ClientMeta
	Provider string `path:"provider" maxLength:"40" doc:"github, google or microsoft"`
}

// ProviderTokenBody is the caller's provider access token. The provider's
// refresh token stays on the server.
type ProviderTokenBody struct {
	AccessToken string     `json:"access_token"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty" doc:"Absent when the provider gave no expiry (GitHub)"`
	Scopes      []string   `json:"scopes"`
	Provider    string     `json:"provider"`
}

// GetProviderTokenOutput wraps ProviderTokenBody; it is never cached.
type GetProviderTokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         ProviderTokenBody
}

func registerProviderTokenRoutes(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "get-provider-token", Method: http.MethodGet, Path: "/api/provider-token/{provider}",
		Tags: []string{"User Management"}, Security: httpapi.Security(httpapi.SchemeBearer),
		Summary: "The caller's provider access token, for the service of the session",
		Description: "Service-scoped sessions only. The service must have scopes configured for the provider, and the caller " +
			"must have signed in to the service with the provider. Google and Microsoft tokens expiring within five minutes " +
			"are refreshed first; GitHub tokens are not refreshable. The provider's refresh token is never returned.",
	}, func(ctx context.Context, in *GetProviderTokenRequest) (*GetProviderTokenOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		tok, err := s.ProviderToken(ctx, ProviderTokenCaller{
			UserID: p.UserID, OrgID: p.OrgID, ServiceID: p.ServiceID, OrgSlug: p.OrgSlug, ServiceSlug: p.ServiceSlug,
			Provider: in.Provider, Meta: metaFrom(ctx, in.ClientMeta),
		})
		if err != nil {
			return nil, providerTokenHTTPError(err, in.Provider)
		}
		return &GetProviderTokenOutput{CacheControl: "no-store", Pragma: "no-cache", Body: ProviderTokenBody{
			AccessToken: tok.AccessToken, ExpiresAt: tok.ExpiresAt, Scopes: tok.Scopes, Provider: tok.Provider,
		}}, nil
	})
}

// providerTokenHTTPError maps the provider token errors to the reference's
// statuses and messages.
func providerTokenHTTPError(err error, provider string) error {
	switch {
	case errors.Is(err, ErrProviderTokenContext):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Provider tokens can only be requested in service context")
	case errors.Is(err, ErrUnknownProvider):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid provider. Must be github, google, or microsoft")
	case errors.Is(err, ErrProviderScopesMissing):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Service does not have "+provider+" scopes configured")
	case errors.Is(err, ErrIdentityNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "User has not authenticated with "+provider+" for this service")
	case errors.Is(err, ErrProviderReauthRequired):
		return httpapi.NewError(http.StatusForbidden, codeProviderReauthRequired,
			"The "+provider+" authorization has expired. Please sign in with "+provider+" again.")
	case errors.Is(err, ErrProviderRefreshFailed):
		return httpapi.NewError(http.StatusBadGateway, "PROVIDER_REFRESH_FAILED", "Could not refresh the "+provider+" token. Please try again later.").
			WithCause(err)
	}
	return toHTTPError(err)
}
