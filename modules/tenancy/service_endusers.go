package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// End users (spec §4.5): the people who sign in to an organization's
// services. Their accounts, identities, sessions and logins belong to the
// identity module and their subscriptions to the billing module; this
// module decides who may see and manage them (end_users.view,
// end_users.manage, the active-organization gate) and names the services
// and plans (its own tables) in the answers.

// Sentinel errors of the end-user endpoints.
var (
	// ErrCannotViewEndUsers: the caller's role lacks end_users.view and
	// end_users.manage.
	ErrCannotViewEndUsers = errors.New("insufficient permissions to view end users")
	// ErrCannotManageEndUsers: the caller's role lacks end_users.manage.
	ErrCannotManageEndUsers = errors.New("insufficient permissions to manage end users")
	// ErrEndUserNotFound: no end user of the organization has this id.
	ErrEndUserNotFound = errors.New("end-user not found")
	// ErrNotAnEndUser: the user is a member (administrator) of the
	// organization, not an end user of its services.
	ErrNotAnEndUser = errors.New("user is not an end-user of this organization")
	// ErrEndUsersNotConfigured: the composition root did not wire the
	// identity or billing side of the end-user views.
	ErrEndUsersNotConfigured = errors.New("tenancy: end-user directory not configured")
)

// ServiceSlugNotFoundError is returned when a filter names a service the
// organization does not have.
type ServiceSlugNotFoundError struct {
	Slug string
}

// Error names the unknown slug.
func (e *ServiceSlugNotFoundError) Error() string { return fmt.Sprintf("service %q not found", e.Slug) }

// Is makes errors.Is(err, ErrServiceNotFound) hold.
func (e *ServiceSlugNotFoundError) Is(target error) bool { return target == ErrServiceNotFound }

// EndUserIdentity is an identity the organization issued to an end user;
// ServiceID is nil for an organization-wide one.
type EndUserIdentity struct {
	Provider       string
	ProviderUserID string
	ServiceID      *uuid.UUID
	CreatedAt      time.Time
}

// EndUserSubscription is an end user's subscription to one of the
// organization's services. The billing side fills the subscription; this
// module fills ServiceSlug, ServiceName and PlanName.
type EndUserSubscription struct {
	UserID           uuid.UUID
	ServiceID        uuid.UUID
	PlanID           *uuid.UUID
	Status           string
	CurrentPeriodEnd *time.Time
	CreatedAt        time.Time
	ServiceSlug      string
	ServiceName      string
	PlanName         *string
}

// EndUserSession is a live session of an end user scoped to the
// organization. ServiceName is filled by this module.
type EndUserSession struct {
	ID               uuid.UUID
	ServiceID        *uuid.UUID
	ServiceName      *string
	OrgSlug          string
	IP               string
	UserAgent        string
	ExpiresAt        time.Time
	RefreshExpiresAt *time.Time
	CreatedAt        time.Time
}

// EndUserLogin is a login event of an end user in the organization.
// ServiceName is filled by this module.
type EndUserLogin struct {
	ID          uuid.UUID
	ServiceID   *uuid.UUID
	ServiceName *string
	Provider    string
	IP          string
	UserAgent   string
	RiskScore   int
	RiskFactors []string
	GeoCountry  *string
	GeoCity     *string
	CreatedAt   time.Time
}

// EndUser is an end user with the organization's identities and
// subscriptions of them.
type EndUser struct {
	User          UserInfo
	Identities    []EndUserIdentity
	Subscriptions []EndUserSubscription
}

// EndUserDetail is an end user with their activity in the organization.
type EndUserDetail struct {
	EndUser
	SessionCount int
	Sessions     []EndUserSession
	RecentLogins []EndUserLogin
}

// EndUserList is one page of an organization's end users.
type EndUserList struct {
	Users []EndUser
	Total int
	Page  int
	Limit int
}

// EndUserDirectory is the identity module's side of the end-user views.
// cmd/* passes an adapter over the identity service; tenancy.ErrUserNotFound
// answers unknown users and users who are not end users of the
// organization alike.
type EndUserDirectory interface {
	// ListEndUsers returns one page of the organization's end users (of
	// one service when serviceID is not nil), oldest first, with the
	// identities the organization issued them (Subscriptions left empty),
	// and their total count.
	ListEndUsers(ctx context.Context, orgID uuid.UUID, serviceID *uuid.UUID, limit, offset int) ([]EndUser, int, error)
	// GetEndUser returns an end user with their live sessions scoped to
	// the organization and their 20 most recent logins there, or
	// ErrUserNotFound.
	GetEndUser(ctx context.Context, orgID, userID uuid.UUID) (EndUserDetail, error)
	// RevokeEndUserSessions revokes the end user's sessions scoped to the
	// organization (and only those) so that they fail on the next request,
	// and returns how many it revoked, or ErrUserNotFound.
	RevokeEndUserSessions(ctx context.Context, orgID, userID uuid.UUID) (int, error)
}

// EndUserSubscriptions is the billing module's side of the end-user views.
type EndUserSubscriptions interface {
	// SubscriptionsOfUsers returns the users' subscriptions to the
	// organization's services, oldest first (names left empty).
	SubscriptionsOfUsers(ctx context.Context, orgID uuid.UUID, userIDs []uuid.UUID) ([]EndUserSubscription, error)
}

// EndUserService serves the end-user endpoints. Its directory comes with
// the module's Deps; its subscriptions are set after the billing module is
// built (Module.SetEndUserSubscriptions), because billing needs this
// module's plans first.
type EndUserService struct {
	svc  *Service
	dir  EndUserDirectory
	subs EndUserSubscriptions
}

// endUserAccess resolves the organization and the caller's membership,
// applies the active-organization gate (spec §1.6) and checks that the
// caller's role grants one of caps.
func (e *EndUserService) endUserAccess(ctx context.Context, a Actor, slug string, denied error, caps ...Capability) (access, error) {
	s := e.svc
	ac, err := s.resolve(ctx, s.store, slug, a, false, false)
	if err != nil {
		return access{}, err
	}
	if err := requireActive(ac.org); err != nil {
		return access{}, err
	}
	for _, c := range caps {
		if ac.can(c) {
			if e.dir == nil || e.subs == nil {
				return access{}, ErrEndUsersNotConfigured
			}
			return ac, nil
		}
	}
	return access{}, denied
}

// ListEndUsers returns one page of the organization's end users (of one
// service when serviceSlug is not empty) with their identities and
// subscriptions. The caller needs end_users.view or end_users.manage.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotViewEndUsers, *ServiceSlugNotFoundError.
func (e *EndUserService) ListEndUsers(ctx context.Context, a Actor, orgSlug, serviceSlug string, page, limit int) (EndUserList, error) {
	ac, err := e.endUserAccess(ctx, a, orgSlug, ErrCannotViewEndUsers, CapEndUsersView, CapEndUsersManage)
	if err != nil {
		return EndUserList{}, err
	}
	var serviceID *uuid.UUID
	if serviceSlug != "" {
		app, err := e.svc.store.ServiceGetBySlug(ctx, ac.org.ID, serviceSlug)
		if errors.Is(err, ErrServiceNotFound) {
			return EndUserList{}, &ServiceSlugNotFoundError{Slug: serviceSlug}
		}
		if err != nil {
			return EndUserList{}, err
		}
		serviceID = &app.ID
	}
	users, total, err := e.dir.ListEndUsers(ctx, ac.org.ID, serviceID, limit, pageOffset(page, limit))
	if err != nil {
		return EndUserList{}, fmt.Errorf("list end users: %w", err)
	}
	if err := e.attachSubscriptions(ctx, ac.org.ID, users); err != nil {
		return EndUserList{}, err
	}
	return EndUserList{Users: users, Total: total, Page: max(page, 1), Limit: limit}, nil
}

// GetEndUser returns an end user of the organization with their
// subscriptions, sessions scoped to the organization and recent logins.
// The caller needs end_users.view or end_users.manage.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotViewEndUsers, ErrEndUserNotFound, ErrNotAnEndUser.
func (e *EndUserService) GetEndUser(ctx context.Context, a Actor, orgSlug string, userID uuid.UUID) (EndUserDetail, error) {
	ac, err := e.endUserAccess(ctx, a, orgSlug, ErrCannotViewEndUsers, CapEndUsersView, CapEndUsersManage)
	if err != nil {
		return EndUserDetail{}, err
	}
	d, err := e.dir.GetEndUser(ctx, ac.org.ID, userID)
	if err != nil {
		return EndUserDetail{}, e.endUserErr(ctx, ac.org.ID, userID, err)
	}
	users := []EndUser{d.EndUser}
	if err := e.attachSubscriptions(ctx, ac.org.ID, users); err != nil {
		return EndUserDetail{}, err
	}
	d.EndUser = users[0]
	var ids []uuid.UUID
	for _, x := range d.Sessions {
		if x.ServiceID != nil {
			ids = append(ids, *x.ServiceID)
		}
	}
	for _, l := range d.RecentLogins {
		if l.ServiceID != nil {
			ids = append(ids, *l.ServiceID)
		}
	}
	names, err := e.svc.store.serviceRefs(ctx, ac.org.ID, ids)
	if err != nil {
		return EndUserDetail{}, err
	}
	for i, x := range d.Sessions {
		if x.ServiceID != nil {
			if ref, ok := names[*x.ServiceID]; ok {
				d.Sessions[i].ServiceName = &ref.name
			}
		}
	}
	for i, l := range d.RecentLogins {
		if l.ServiceID != nil {
			if ref, ok := names[*l.ServiceID]; ok {
				d.RecentLogins[i].ServiceName = &ref.name
			}
		}
	}
	return d, nil
}

// RevokeEndUserSessions ends the end user's sessions scoped to the
// organization (spec §4.5, §22.1 item 19): their platform sessions and
// other organizations' sessions survive. The revocation takes effect on
// the next request on every replica. The caller needs end_users.manage.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageEndUsers, ErrEndUserNotFound, ErrNotAnEndUser.
func (e *EndUserService) RevokeEndUserSessions(ctx context.Context, a Actor, orgSlug string, userID uuid.UUID) (int, error) {
	ac, err := e.endUserAccess(ctx, a, orgSlug, ErrCannotManageEndUsers, CapEndUsersManage)
	if err != nil {
		return 0, err
	}
	n, err := e.dir.RevokeEndUserSessions(ctx, ac.org.ID, userID)
	if err != nil {
		return 0, e.endUserErr(ctx, ac.org.ID, userID, err)
	}
	return n, nil
}

// endUserErr turns the directory's ErrUserNotFound into the reference's
// two answers: a member of the organization (whom its administrators can
// see anyway) is "not an end-user"; anyone else, including users of other
// organizations, is simply not found.
func (e *EndUserService) endUserErr(ctx context.Context, orgID, userID uuid.UUID, err error) error {
	if !errors.Is(err, ErrUserNotFound) {
		return err
	}
	_, merr := e.svc.store.MembershipGet(ctx, orgID, userID)
	switch {
	case merr == nil:
		return ErrNotAnEndUser
	case errors.Is(merr, ErrMemberNotFound):
		return ErrEndUserNotFound
	}
	return merr
}

// attachSubscriptions sets each user's subscriptions, with service and
// plan names.
func (e *EndUserService) attachSubscriptions(ctx context.Context, orgID uuid.UUID, users []EndUser) error {
	ids := make([]uuid.UUID, len(users))
	for i, u := range users {
		ids[i] = u.User.ID
		users[i].Subscriptions = []EndUserSubscription{}
	}
	if len(ids) == 0 {
		return nil
	}
	subs, err := e.subs.SubscriptionsOfUsers(ctx, orgID, ids)
	if err != nil {
		return fmt.Errorf("load subscriptions: %w", err)
	}
	var serviceIDs, planIDs []uuid.UUID
	for _, x := range subs {
		serviceIDs = append(serviceIDs, x.ServiceID)
		if x.PlanID != nil {
			planIDs = append(planIDs, *x.PlanID)
		}
	}
	services, err := e.svc.store.serviceRefs(ctx, orgID, serviceIDs)
	if err != nil {
		return err
	}
	plans, err := e.svc.store.planNames(ctx, orgID, planIDs)
	if err != nil {
		return err
	}
	index := make(map[uuid.UUID]int, len(users))
	for i, u := range users {
		index[u.User.ID] = i
	}
	for _, x := range subs {
		i, ok := index[x.UserID]
		if !ok {
			continue
		}
		if ref, ok := services[x.ServiceID]; ok {
			x.ServiceSlug, x.ServiceName = ref.slug, ref.name
		}
		if x.PlanID != nil {
			if name, ok := plans[*x.PlanID]; ok {
				x.PlanName = &name
			}
		}
		users[i].Subscriptions = append(users[i].Subscriptions, x)
	}
	return nil
}

// ---- lookups for the billing module

// OrgPlan returns the organization's plan with this id, whatever its
// service, or ErrPlanNotFound (also for another organization's plan). The
// billing module checks that the plan belongs to the API key's service.
func (s *Service) OrgPlan(ctx context.Context, orgID, planID uuid.UUID) (Plan, error) {
	return scanPlan(s.store.db.QueryRow(ctx, `SELECT `+planColumns+` FROM plans p WHERE p.org_id = $1 AND p.id = $2`, orgID, planID))
}

// PlanNames returns the names of the organization's plans among ids;
// absent ids (other organizations' plans included) are left out.
func (s *Service) PlanNames(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	return s.store.planNames(ctx, orgID, ids)
}

// ---- store

// serviceRef is a service's slug and name.
type serviceRef struct{ slug, name string }

// serviceRefs returns the slugs and names of the organization's services
// among ids.
func (s *Store) serviceRefs(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]serviceRef, error) {
	out := map[uuid.UUID]serviceRef{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, slug, name FROM services WHERE org_id = $1 AND id = ANY($2)`, orgID, ids)
	if err != nil {
		return nil, fmt.Errorf("load service names: %w", db.MapError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var ref serviceRef
		if err := rows.Scan(&id, &ref.slug, &ref.name); err != nil {
			return nil, fmt.Errorf("load service names: %w", err)
		}
		out[id] = ref
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load service names: %w", db.MapError(err))
	}
	return out, nil
}

// planNames returns the names of the organization's plans among ids.
func (s *Store) planNames(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := map[uuid.UUID]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, name FROM plans WHERE org_id = $1 AND id = ANY($2)`, orgID, ids)
	if err != nil {
		return nil, fmt.Errorf("load plan names: %w", db.MapError(err))
	}
	out, err = collectNames(rows)
	if err != nil {
		return nil, fmt.Errorf("load plan names: %w", err)
	}
	return out, nil
}

func collectNames(rows pgx.Rows) (map[uuid.UUID]string, error) {
	defer rows.Close()
	out := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, db.MapError(rows.Err())
}
