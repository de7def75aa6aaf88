package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
)

// tenancyEndUsers adapts identity's end-user directory to
// tenancy.EndUserDirectory (spec §4.5).
type tenancyEndUsers struct{ id *identity.Service }

var _ tenancy.EndUserDirectory = tenancyEndUsers{}

func toTenancyEndUser(u identity.EndUser) tenancy.EndUser {
	out := tenancy.EndUser{User: toUserInfo(u.User), Identities: make([]tenancy.EndUserIdentity, 0, len(u.Identities))}
	for _, i := range u.Identities {
		out.Identities = append(out.Identities, tenancy.EndUserIdentity{
			Provider: i.Provider, ProviderUserID: i.ProviderUserID, ServiceID: i.ServiceID, CreatedAt: i.CreatedAt,
		})
	}
	return out
}

func (a tenancyEndUsers) ListEndUsers(ctx context.Context, orgID uuid.UUID, serviceID *uuid.UUID, limit, offset int) ([]tenancy.EndUser, int, error) {
	users, total, err := a.id.ListOrgEndUsers(ctx, orgID, serviceID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := make([]tenancy.EndUser, len(users))
	for i, u := range users {
		out[i] = toTenancyEndUser(u)
	}
	return out, total, nil
}

func (a tenancyEndUsers) GetEndUser(ctx context.Context, orgID, userID uuid.UUID) (tenancy.EndUserDetail, error) {
	d, err := a.id.GetOrgEndUser(ctx, orgID, userID)
	if err != nil {
		return tenancy.EndUserDetail{}, tenancyUserErr(err)
	}
	out := tenancy.EndUserDetail{EndUser: toTenancyEndUser(d.EndUser), SessionCount: d.SessionCount}
	for _, x := range d.Sessions {
		out.Sessions = append(out.Sessions, tenancy.EndUserSession{
			ID: x.ID, ServiceID: x.ServiceID, OrgSlug: x.OrgSlug, IP: x.IP, UserAgent: x.UserAgent,
			ExpiresAt: x.ExpiresAt, RefreshExpiresAt: x.RefreshExpiresAt, CreatedAt: x.CreatedAt,
		})
	}
	for _, l := range d.RecentLogins {
		out.RecentLogins = append(out.RecentLogins, tenancy.EndUserLogin{
			ID: l.ID, ServiceID: l.ServiceID, Provider: l.Provider, IP: l.IP, UserAgent: l.UserAgent, RiskScore: l.RiskScore,
			RiskFactors: l.RiskFactors, GeoCountry: l.GeoCountry, GeoCity: l.GeoCity, CreatedAt: l.CreatedAt,
		})
	}
	return out, nil
}

func (a tenancyEndUsers) RevokeEndUserSessions(ctx context.Context, orgID, userID uuid.UUID) (int, error) {
	n, err := a.id.RevokeOrgEndUserSessions(ctx, orgID, userID)
	return n, tenancyUserErr(err)
}

// tenancySubscriptions adapts billing's subscriptions to
// tenancy.EndUserSubscriptions; tenancy names services and plans itself.
type tenancySubscriptions struct{ b *billing.Service }

var _ tenancy.EndUserSubscriptions = tenancySubscriptions{}

func (a tenancySubscriptions) SubscriptionsOfUsers(ctx context.Context, orgID uuid.UUID, userIDs []uuid.UUID) ([]tenancy.EndUserSubscription, error) {
	subs, err := a.b.UserSubscriptions(ctx, orgID, userIDs)
	if err != nil {
		return nil, err
	}
	out := make([]tenancy.EndUserSubscription, len(subs))
	for i, x := range subs {
		out[i] = tenancy.EndUserSubscription{
			UserID: x.UserID, ServiceID: x.ServiceID, PlanID: x.PlanID, Status: string(x.Status),
			CurrentPeriodEnd: x.CurrentPeriodEnd, CreatedAt: x.CreatedAt,
		}
	}
	return out, nil
}

// billingPlans adapts tenancy's plans to billing.Plans.
type billingPlans struct{ t *tenancy.Service }

var _ billing.Plans = billingPlans{}

func (a billingPlans) OrgPlan(ctx context.Context, orgID, planID uuid.UUID) (billing.PlanInfo, error) {
	p, err := a.t.OrgPlan(ctx, orgID, planID)
	if errors.Is(err, tenancy.ErrPlanNotFound) {
		return billing.PlanInfo{}, billing.ErrPlanNotFound
	}
	if err != nil {
		return billing.PlanInfo{}, err
	}
	return billing.PlanInfo{ID: p.ID, ServiceID: p.ServiceID, Name: p.Name}, nil
}

func (a billingPlans) PlanNames(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	return a.t.PlanNames(ctx, orgID, ids)
}

// billingUsers adapts identity's users of a service to billing.ServiceUsers.
type billingUsers struct{ id *identity.Service }

var _ billing.ServiceUsers = billingUsers{}

func (a billingUsers) RequireServiceUserTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID uuid.UUID) error {
	err := a.id.RequireServiceUserTx(ctx, tx, orgID, serviceID, userID)
	if errors.Is(err, identity.ErrUserNotFound) {
		return billing.ErrUserNotFound
	}
	return err
}

// complianceUserStats and complianceSubscriptionStats adapt the owners'
// counts to compliance's service analytics (GET /api/service/analytics).
type complianceUserStats struct{ id *identity.Service }

var _ compliance.ServiceUserStats = complianceUserStats{}

func (a complianceUserStats) ServiceUserCounts(ctx context.Context, orgID, serviceID uuid.UUID, since time.Time) (compliance.ServiceUserCounts, error) {
	s, err := a.id.ServiceUserStatsSince(ctx, orgID, serviceID, since)
	return compliance.ServiceUserCounts{Users: s.Users, Logins: s.Logins, UniqueUsers: s.UniqueUsers}, err
}

type complianceSubscriptionStats struct{ b *billing.Service }

var _ compliance.ServiceSubscriptionStats = complianceSubscriptionStats{}

func (a complianceSubscriptionStats) ServiceSubscriptionCounts(ctx context.Context, orgID, serviceID uuid.UUID) (int, int, error) {
	c, err := a.b.ServiceSubscriptionCounts(ctx, orgID, serviceID)
	return c.Total, c.Active, err
}

// billing.Service implements identity.ServiceUnlinkHook as is.
var _ identity.ServiceUnlinkHook = (*billing.Service)(nil)
