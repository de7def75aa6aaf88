package identity

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/httpapi"
)

// oauthCookie binds an OAuth flow to the browser that started it.
const oauthCookie = "authos_oauth"

// StartOAuthRequest is GET /auth/{provider}.
type StartOAuthRequest struct {
	Provider    string `path:"provider" maxLength:"20" doc:"github, google or microsoft"`
	Org         string `query:"org" maxLength:"100" doc:"Organization slug (required unless user_code names a platform CLI code)"`
	Service     string `query:"service" maxLength:"100" doc:"Service slug (required unless user_code names a platform CLI code)"`
	RedirectURI string `query:"redirect_uri" maxLength:"2048" doc:"Must exactly equal one of the service's redirect URIs; tokens come back in its fragment"`
	State       string `query:"state" maxLength:"512" doc:"Client state, echoed back in the fragment"`
	UserCode    string `query:"user_code" maxLength:"20" doc:"Device user code this login approves"`
}

// StartAdminOAuthRequest is GET /auth/admin/{provider}.
type StartAdminOAuthRequest struct {
	Provider string `path:"provider" maxLength:"20" doc:"github, google or microsoft"`
	UserCode string `query:"user_code" maxLength:"20" doc:"Platform CLI device user code this login approves"`
	Next     string `query:"next" maxLength:"2048" doc:"Hosted page to return to with a browser session (/admin/..., /invitations/accept?...); without it the tokens go to the dashboard's /auth/callback fragment"`
}

// RedirectOutput is a 302 with the flow's cookie.
type RedirectOutput struct {
	Status       int
	Location     string      `header:"Location"`
	CacheControl string      `header:"Cache-Control"`
	SetCookie    http.Cookie `header:"Set-Cookie"`
}

// LinkIdentityRequest is POST /api/user/identities/{provider}/link.
type LinkIdentityRequest struct {
	Provider    string `path:"provider" maxLength:"20"`
	RedirectURI string `query:"redirect_uri" maxLength:"2048" doc:"Where the browser returns after linking (a redirect URI of the token's service)"`
}

// LinkIdentityOutput is where to send the browser to link a provider.
type LinkIdentityOutput struct {
	Body struct {
		AuthorizationURL string `json:"authorization_url"`
	}
}

// IdentityBody is one of the caller's identities in the token's context.
type IdentityBody struct {
	Provider string `json:"provider"`
}

// IdentitiesOutput lists the caller's identities in the token's context.
type IdentitiesOutput struct {
	Body []IdentityBody
}

// UnlinkIdentityRequest is DELETE /api/user/identities/{provider}.
type UnlinkIdentityRequest struct {
	ClientMeta
	Provider string `path:"provider" maxLength:"40"`
}

func (s *Service) flowCookie(value string) http.Cookie {
	return http.Cookie{Name: oauthCookie, Value: value, Path: "/auth", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.cfg.BaseURL, "https://"), MaxAge: int(stateLifetime.Seconds())}
}

func (s *Service) redirectWithCookie(started StartedOAuth) *RedirectOutput {
	return &RedirectOutput{Status: http.StatusFound, Location: started.AuthURL, CacheControl: "no-store", SetCookie: s.flowCookie(started.BrowserBinding)}
}

func registerOAuthRoutes(api huma.API, s *Service, limit func(huma.Context, func(huma.Context))) {
	tags := []string{"Authentication"}
	huma.Register(api, huma.Operation{
		OperationID: "start-oauth", Method: http.MethodGet, Path: "/auth/{provider}", Tags: tags,
		Summary: "Start a social login",
		Description: "Redirects to the provider (the organization's own OAuth app when it has one, else the platform's), with " +
			"a single-use state (10 minutes) and PKCE. The provider returns to /auth/{provider}/callback, which redirects to " +
			"redirect_uri with access_token, refresh_token, expires_in and state in the URL fragment (or preauth_token and " +
			"mfa_required=true when the user has MFA).",
		Middlewares: huma.Middlewares{limit},
	}, func(ctx context.Context, in *StartOAuthRequest) (*RedirectOutput, error) {
		started, err := s.StartOAuth(ctx, StartOAuthInput{Provider: in.Provider, OrgSlug: in.Org, ServiceSlug: in.Service,
			RedirectURI: in.RedirectURI, ClientState: in.State, UserCode: in.UserCode})
		if err != nil {
			return nil, oauthHTTPError(err)
		}
		return s.redirectWithCookie(started), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "start-admin-oauth", Method: http.MethodGet, Path: "/auth/admin/{provider}", Tags: tags,
		Summary:     "Start a platform (administrator) social login",
		Description: "Uses the platform's OAuth apps and signs in platform-level users; with user_code it approves a platform CLI device code.",
		Middlewares: huma.Middlewares{limit},
	}, func(ctx context.Context, in *StartAdminOAuthRequest) (*RedirectOutput, error) {
		started, err := s.StartOAuth(ctx, StartOAuthInput{Provider: in.Provider, Admin: true, UserCode: in.UserCode, RedirectURI: in.Next})
		if err != nil {
			return nil, oauthHTTPError(err)
		}
		return s.redirectWithCookie(started), nil
	})

	bearer := httpapi.Security(httpapi.SchemeBearer)
	userTags := []string{"User Management"}
	huma.Register(api, huma.Operation{
		OperationID: "link-identity", Method: http.MethodPost, Path: "/api/user/identities/{provider}/link", Tags: userTags, Security: bearer,
		Summary:     "Start linking a provider account to the caller",
		Description: "Returns the provider's authorization URL; the flow's state is bound to the caller, so the callback links to this account only.",
	}, func(ctx context.Context, in *LinkIdentityRequest) (*LinkIdentityOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		u, scope, err := s.callerScope(ctx, p)
		if err != nil {
			return nil, oauthHTTPError(err)
		}
		started, err := s.StartOAuth(ctx, StartOAuthInput{Provider: in.Provider, RedirectURI: in.RedirectURI, LinkUser: &u, LinkScope: scope})
		if err != nil {
			return nil, oauthHTTPError(err)
		}
		out := &LinkIdentityOutput{}
		out.Body.AuthorizationURL = started.AuthURL
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-identities", Method: http.MethodGet, Path: "/api/user/identities", Tags: userTags, Security: bearer,
		Summary: "The caller's identities in the token's context",
	}, func(ctx context.Context, _ *struct{}) (*IdentitiesOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		providers, err := s.ListIdentities(ctx, p.UserID, p.OrgID, p.ServiceID)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &IdentitiesOutput{Body: []IdentityBody{}}
		for _, pr := range providers {
			out.Body = append(out.Body, IdentityBody{Provider: pr})
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "unlink-identity", Method: http.MethodDelete, Path: "/api/user/identities/{provider}", Tags: userTags, Security: bearer,
		DefaultStatus: http.StatusNoContent,
		Summary:       "Unlink a provider from the caller (never the last identity)",
	}, func(ctx context.Context, in *UnlinkIdentityRequest) (*struct{}, error) {
		p := httpapi.MustPrincipal(ctx)
		if err := s.UnlinkIdentity(ctx, p.UserID, p.OrgID, p.ServiceID, in.Provider, metaFrom(ctx, in.ClientMeta)); err != nil {
			if errors.Is(err, ErrIdentityNotFound) {
				return nil, httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "Identity for provider '"+in.Provider+"' not found")
			}
			return nil, oauthHTTPError(err)
		}
		return nil, nil
	})
}

// callerScope is the scope of the caller's session.
func (s *Service) callerScope(ctx context.Context, p *httpapi.Principal) (User, Scope, error) {
	u, err := NewStore(s.pool).UserGetByID(ctx, p.UserID)
	if err != nil {
		return User{}, Scope{}, err
	}
	if p.ServiceID == nil {
		return u, Scope{}, nil
	}
	scope, err := s.resolveScope(ctx, p.OrgSlug, p.ServiceSlug, "")
	return u, scope, err
}

// oauthHTTPError maps the flow errors of the JSON endpoints.
func oauthHTTPError(err error) error {
	bad := func(msg string) error { return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, msg) }
	switch {
	case errors.Is(err, ErrUnknownProvider):
		return bad("Invalid provider. Must be github, google, or microsoft")
	case errors.Is(err, ErrProviderNotAvailable):
		return bad("This provider is not available for this organization")
	case errors.Is(err, ErrServiceRequired):
		return bad("org and service are required")
	case errors.Is(err, ErrInvalidState):
		return bad("Invalid state")
	case errors.Is(err, ErrLastIdentity):
		return bad("Cannot unlink last identity. At least one identity must remain.")
	case errors.Is(err, ErrInvalidUserCodeFormat):
		return bad("Invalid user code format")
	case errors.Is(err, ErrInvalidUserCode):
		return bad("Invalid user code")
	case errors.Is(err, ErrDeviceCodeExpired):
		return httpapi.NewError(http.StatusBadRequest, "DEVICE_CODE_EXPIRED", "Device code has expired")
	case errors.Is(err, ErrDeviceAlreadyAuthorized):
		return bad("Device already authorized")
	case errors.Is(err, ErrUserNotFound):
		return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid session")
	}
	return toHTTPError(err)
}

// ListIdentities returns the providers of a user's identities in a
// context: the service's for service tokens, the platform's otherwise
// (spec §3.2).
func (s *Service) ListIdentities(ctx context.Context, userID uuid.UUID, orgID, serviceID *uuid.UUID) ([]string, error) {
	if serviceID == nil {
		orgID = nil
	}
	rows, err := s.pool.Query(ctx, `SELECT provider FROM identities WHERE user_id = $1
		AND org_id IS NOT DISTINCT FROM $2 AND service_id IS NOT DISTINCT FROM $3 ORDER BY provider`, userID, orgID, serviceID)
	if err != nil {
		return nil, db.MapError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, db.MapError(err)
}
