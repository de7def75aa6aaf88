package tenancy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// ListEndUsersInput is GET /api/organizations/{org-slug}/users.
type ListEndUsersInput struct {
	OrgSlugInput
	Page        int    `query:"page" minimum:"1" default:"1"`
	Limit       int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	ServiceSlug string `query:"service_slug" maxLength:"100" doc:"Only the end users of this service"`
}

// EndUserInput names an end user of an organization.
type EndUserInput struct {
	OrgSlugInput
	UserID string `path:"user-id" maxLength:"64"`
}

// EndUserSubscriptionBody is an end user's subscription to a service.
type EndUserSubscriptionBody struct {
	ServiceID        string     `json:"service_id" format:"uuid"`
	ServiceSlug      string     `json:"service_slug"`
	ServiceName      string     `json:"service_name"`
	PlanID           *string    `json:"plan_id" format:"uuid" doc:"Null once the plan was deleted"`
	PlanName         *string    `json:"plan_name"`
	Status           string     `json:"status"`
	CurrentPeriodEnd *time.Time `json:"current_period_end"`
	CreatedAt        time.Time  `json:"created_at"`
}

// EndUserIdentityBody is an identity the organization issued to an end user.
type EndUserIdentityBody struct {
	Provider       string    `json:"provider"`
	ProviderUserID string    `json:"provider_user_id"`
	ServiceID      *string   `json:"service_id,omitempty" format:"uuid" doc:"The issuing service; absent for an organization-wide identity"`
	CreatedAt      time.Time `json:"created_at"`
}

// EndUserBody is an end user with their subscriptions and identities.
type EndUserBody struct {
	User          UserBody                  `json:"user"`
	Subscriptions []EndUserSubscriptionBody `json:"subscriptions"`
	Identities    []EndUserIdentityBody     `json:"identities"`
}

func toEndUserBody(u EndUser) EndUserBody {
	b := EndUserBody{
		User:          toUserBody(u.User),
		Subscriptions: make([]EndUserSubscriptionBody, 0, len(u.Subscriptions)),
		Identities:    make([]EndUserIdentityBody, 0, len(u.Identities)),
	}
	for _, x := range u.Subscriptions {
		sub := EndUserSubscriptionBody{
			ServiceID: x.ServiceID.String(), ServiceSlug: x.ServiceSlug, ServiceName: x.ServiceName, PlanID: idString(x.PlanID),
			PlanName: x.PlanName, Status: x.Status, CurrentPeriodEnd: x.CurrentPeriodEnd, CreatedAt: x.CreatedAt,
		}
		b.Subscriptions = append(b.Subscriptions, sub)
	}
	for _, i := range u.Identities {
		b.Identities = append(b.Identities, EndUserIdentityBody{
			Provider: i.Provider, ProviderUserID: i.ProviderUserID, ServiceID: idString(i.ServiceID), CreatedAt: i.CreatedAt,
		})
	}
	return b
}

// ListEndUsersOutput is one page of end users.
type ListEndUsersOutput struct {
	Body struct {
		Users []EndUserBody `json:"users"`
		Total int           `json:"total"`
		Page  int           `json:"page"`
		Limit int           `json:"limit"`
	}
}

// EndUserSessionBody is a live session of the end user in the organization.
type EndUserSessionBody struct {
	ID                    string     `json:"id" format:"uuid"`
	ServiceID             *string    `json:"service_id,omitempty" format:"uuid"`
	ServiceName           *string    `json:"service_name,omitempty"`
	OrgSlug               *string    `json:"org_slug,omitempty"`
	IPAddress             *string    `json:"ip_address,omitempty"`
	UserAgent             *string    `json:"user_agent,omitempty"`
	ExpiresAt             time.Time  `json:"expires_at" doc:"When the current access token expires"`
	RefreshTokenExpiresAt *time.Time `json:"refresh_token_expires_at,omitempty"`
	CreatedAt             time.Time  `json:"created_at"`
}

// EndUserLoginBody is a login event of the end user in the organization.
type EndUserLoginBody struct {
	ID          string    `json:"id" format:"uuid"`
	ServiceID   *string   `json:"service_id,omitempty" format:"uuid"`
	ServiceName *string   `json:"service_name,omitempty"`
	Provider    string    `json:"provider"`
	IPAddress   *string   `json:"ip_address,omitempty"`
	UserAgent   *string   `json:"user_agent,omitempty"`
	RiskScore   int       `json:"risk_score"`
	RiskFactors []string  `json:"risk_factors"`
	GeoCountry  *string   `json:"geo_country,omitempty"`
	GeoCity     *string   `json:"geo_city,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// EndUserDetailOutput is an end user with their activity in the organization.
type EndUserDetailOutput struct {
	Body struct {
		EndUserBody
		SessionCount int                  `json:"session_count"`
		Sessions     []EndUserSessionBody `json:"sessions"`
		RecentLogins []EndUserLoginBody   `json:"recent_logins" doc:"The 20 most recent, newest first"`
	}
}

// RevokeEndUserSessionsOutput is DELETE …/users/{user-id}/sessions.
type RevokeEndUserSessionsOutput struct {
	Body struct {
		Message      string `json:"message"`
		RevokedCount int    `json:"revoked_count"`
	}
}

// optString returns nil for "".
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toEndUserDetailOutput(d EndUserDetail) *EndUserDetailOutput {
	out := &EndUserDetailOutput{}
	out.Body.EndUserBody = toEndUserBody(d.EndUser)
	out.Body.SessionCount = d.SessionCount
	out.Body.Sessions = make([]EndUserSessionBody, 0, len(d.Sessions))
	for _, x := range d.Sessions {
		out.Body.Sessions = append(out.Body.Sessions, EndUserSessionBody{
			ID: x.ID.String(), ServiceID: idString(x.ServiceID), ServiceName: x.ServiceName, OrgSlug: optString(x.OrgSlug),
			IPAddress: optString(x.IP), UserAgent: optString(x.UserAgent), ExpiresAt: x.ExpiresAt,
			RefreshTokenExpiresAt: x.RefreshExpiresAt, CreatedAt: x.CreatedAt,
		})
	}
	out.Body.RecentLogins = make([]EndUserLoginBody, 0, len(d.RecentLogins))
	for _, l := range d.RecentLogins {
		factors := l.RiskFactors
		if factors == nil {
			factors = []string{}
		}
		out.Body.RecentLogins = append(out.Body.RecentLogins, EndUserLoginBody{
			ID: l.ID.String(), ServiceID: idString(l.ServiceID), ServiceName: l.ServiceName, Provider: l.Provider,
			IPAddress: optString(l.IP), UserAgent: optString(l.UserAgent), RiskScore: l.RiskScore, RiskFactors: factors,
			GeoCountry: l.GeoCountry, GeoCity: l.GeoCity, CreatedAt: l.CreatedAt,
		})
	}
	return out
}

// endUserHTTPError maps the end-user errors, then the module's others.
func endUserHTTPError(err error) error {
	var svc *ServiceSlugNotFoundError
	switch {
	case errors.As(err, &svc):
		return notFound("Service '" + svc.Slug + "' not found")
	case errors.Is(err, ErrCannotViewEndUsers):
		return forbidden("Insufficient permissions to view end users")
	case errors.Is(err, ErrCannotManageEndUsers):
		return forbidden("Insufficient permissions to manage end users")
	case errors.Is(err, ErrEndUserNotFound):
		return notFound("End-user not found")
	case errors.Is(err, ErrNotAnEndUser):
		return notFound("User is not an end-user of this organization")
	}
	return toHTTPError(err)
}

func registerEndUserRoutes(api huma.API, e *EndUserService) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{orgTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-organization-end-users", Method: http.MethodGet, Path: "/users",
		Summary: "List end users",
		Description: "Needs end_users.view or end_users.manage in an active organization. The people who sign in to the " +
			"organization's services, oldest first, with their subscriptions and the identities the organization issued.",
	}, func(ctx context.Context, in *ListEndUsersInput) (*ListEndUsersOutput, error) {
		res, err := e.ListEndUsers(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, in.Page, in.Limit)
		if err != nil {
			return nil, endUserHTTPError(err)
		}
		out := &ListEndUsersOutput{}
		out.Body.Users = make([]EndUserBody, 0, len(res.Users))
		for _, u := range res.Users {
			out.Body.Users = append(out.Body.Users, toEndUserBody(u))
		}
		out.Body.Total, out.Body.Page, out.Body.Limit = res.Total, res.Page, res.Limit
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-organization-end-user", Method: http.MethodGet, Path: "/users/{user-id}",
		Summary: "Get an end user",
		Description: "Needs end_users.view or end_users.manage in an active organization. With the user's live sessions " +
			"scoped to the organization and their 20 most recent logins there.",
	}, func(ctx context.Context, in *EndUserInput) (*EndUserDetailOutput, error) {
		d, err := e.GetEndUser(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.UserID))
		if err != nil {
			return nil, endUserHTTPError(err)
		}
		return toEndUserDetailOutput(d), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "revoke-organization-end-user-sessions", Method: http.MethodDelete, Path: "/users/{user-id}/sessions",
		Summary: "Revoke an end user's sessions",
		Description: "Needs end_users.manage in an active organization. Ends the user's sessions scoped to this " +
			"organization only; they fail on the next request.",
	}, func(ctx context.Context, in *EndUserInput) (*RevokeEndUserSessionsOutput, error) {
		n, err := e.RevokeEndUserSessions(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, pathID(in.UserID))
		if err != nil {
			return nil, endUserHTTPError(err)
		}
		out := &RevokeEndUserSessionsOutput{}
		out.Body.Message, out.Body.RevokedCount = "Sessions revoked successfully", n
		return out, nil
	})
}
