package compliance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/authos/authos/platform/httpapi"
)

// Service analytics (spec §9.1, §15.1 GET /api/service/analytics).
//
// Where the counting happens: compliance owns the analytics endpoints, but
// none of the rows this one counts. Users and login events are the
// identity module's tables and subscriptions the billing module's, and a
// module never reads another module's tables. So the owners count (each
// with one indexed query scoped to the key's organization and service) and
// compliance stays thin: it checks the key's permission, asks both sources
// through the small interfaces below and combines their answers. cmd/*
// wires them with SetServiceAnalyticsSources.

// permReadAnalytics is the Service API permission of the endpoint (spec §8.2).
const permReadAnalytics = "read:analytics"

// analyticsWindow is the period of the *_30d counts.
const analyticsWindow = 30 * 24 * time.Hour

// ErrAnalyticsNotConfigured is returned when the composition root did not
// wire the analytics sources.
var ErrAnalyticsNotConfigured = errors.New("compliance: service analytics sources not configured")

// ServiceUserCounts are a service's user and login counts.
type ServiceUserCounts struct {
	Users       int // users of the service (holding an identity it issued)
	Logins      int // login events of the service since the cut-off
	UniqueUsers int // distinct users among those login events
}

// ServiceUserStats counts a service's users and logins; the identity
// module implements it.
type ServiceUserStats interface {
	ServiceUserCounts(ctx context.Context, orgID, serviceID uuid.UUID, since time.Time) (ServiceUserCounts, error)
}

// ServiceSubscriptionStats counts a service's subscriptions; the billing
// module implements it.
type ServiceSubscriptionStats interface {
	ServiceSubscriptionCounts(ctx context.Context, orgID, serviceID uuid.UUID) (total, active int, err error)
}

// ServiceAnalytics are one service's counts.
type ServiceAnalytics struct {
	TotalUsers          int
	TotalSubscriptions  int
	ActiveSubscriptions int
	TotalLogins30d      int
	UniqueUsers30d      int
}

// ServiceAnalytics combines the service's counts; logins count the last
// 30 days. Errors: ErrAnalyticsNotConfigured, or the sources' errors.
func (m *Module) ServiceAnalytics(ctx context.Context, orgID, serviceID uuid.UUID) (ServiceAnalytics, error) {
	if m.serviceUsers == nil || m.serviceSubs == nil {
		return ServiceAnalytics{}, ErrAnalyticsNotConfigured
	}
	since := m.recorder.nowFunc().Add(-analyticsWindow)
	u, err := m.serviceUsers.ServiceUserCounts(ctx, orgID, serviceID, since)
	if err != nil {
		return ServiceAnalytics{}, fmt.Errorf("count service users: %w", err)
	}
	total, active, err := m.serviceSubs.ServiceSubscriptionCounts(ctx, orgID, serviceID)
	if err != nil {
		return ServiceAnalytics{}, fmt.Errorf("count service subscriptions: %w", err)
	}
	return ServiceAnalytics{
		TotalUsers: u.Users, TotalSubscriptions: total, ActiveSubscriptions: active,
		TotalLogins30d: u.Logins, UniqueUsers30d: u.UniqueUsers,
	}, nil
}

// ServiceAnalyticsInput is GET /api/service/analytics.
type ServiceAnalyticsInput struct{}

// ServiceAnalyticsOutput is the key's service's counts.
type ServiceAnalyticsOutput struct {
	Body struct {
		TotalUsers          int `json:"total_users"`
		TotalSubscriptions  int `json:"total_subscriptions"`
		ActiveSubscriptions int `json:"active_subscriptions"`
		TotalLogins30d      int `json:"total_logins_30d"`
		UniqueUsers30d      int `json:"unique_users_30d"`
	}
}

// analyticsKeyFrom returns the calling key's organization and service when
// the principal is a service API key holding read:analytics: 401 without a
// principal, 403 for any other principal or a key lacking the permission.
func analyticsKeyFrom(ctx context.Context) (orgID, serviceID uuid.UUID, err error) {
	p, ok := httpapi.PrincipalFrom(ctx)
	if !ok {
		return uuid.Nil, uuid.Nil, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Authentication required")
	}
	if p.Kind != httpapi.PrincipalAPIKey || p.OrgID == nil || p.ServiceID == nil {
		return uuid.Nil, uuid.Nil, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
	}
	if !p.HasPermission(permReadAnalytics) {
		return uuid.Nil, uuid.Nil, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: "+permReadAnalytics)
	}
	return *p.OrgID, *p.ServiceID, nil
}

func registerServiceAnalyticsRoute(api huma.API, m *Module) {
	huma.Register(api, huma.Operation{
		OperationID: "get-service-analytics", Method: http.MethodGet, Path: "/api/service/analytics",
		Tags: []string{"Service API"}, Security: httpapi.Security(httpapi.SchemeAPIKey),
		Summary:     "Get the service's analytics",
		Description: "Needs read:analytics. Users of the key's service, its subscriptions, and its logins of the last 30 days.",
	}, func(ctx context.Context, _ *ServiceAnalyticsInput) (*ServiceAnalyticsOutput, error) {
		orgID, serviceID, err := analyticsKeyFrom(ctx)
		if err != nil {
			return nil, err
		}
		a, err := m.ServiceAnalytics(ctx, orgID, serviceID)
		if err != nil {
			return nil, err
		}
		out := &ServiceAnalyticsOutput{}
		out.Body.TotalUsers, out.Body.TotalSubscriptions, out.Body.ActiveSubscriptions = a.TotalUsers, a.TotalSubscriptions, a.ActiveSubscriptions
		out.Body.TotalLogins30d, out.Body.UniqueUsers30d = a.TotalLogins30d, a.UniqueUsers30d
		return out, nil
	})
}
