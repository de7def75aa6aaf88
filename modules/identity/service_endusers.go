package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// The end-user directory of an organization (spec §4.5), for the tenancy
// module's end-user endpoints, and the per-service counts and checks the
// billing and compliance modules need. Users, identities, sessions and
// login events stay in this module: the other modules see them through
// these methods only.
//
// An end user of an organization is a live tenant user of it (users.org_id)
// or a user holding an identity the organization issued; with a service,
// a user holding an identity issued for that service (the Service API's
// "users of a service", spec §9). Subscriptions belong to billing and do
// not widen the set: every subscription is written for a user of the
// service, and unlinking the user deletes it.

// endUserSessionLimit caps the sessions one detail answer lists
// (SessionCount still counts them all).
const endUserSessionLimit = 100

// endUserLoginLimit is how many recent login events the detail lists.
const endUserLoginLimit = 20

// endUserRevokeReason is the revoked_reason of sessions an organization
// administrator ended.
const endUserRevokeReason = "end_user_sessions_revoked"

// orgEndUserFilter selects the end users of organization $1.
const orgEndUserFilter = `u.deleted_at IS NULL AND (u.org_id = $1
	OR EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.org_id = $1))`

// serviceEndUserFilter selects the end users of service $2 of organization $1.
const serviceEndUserFilter = `u.deleted_at IS NULL
	AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.org_id = $1 AND i.service_id = $2)`

// EndUserIdentity is one identity an organization issued to an end user.
// ServiceID is nil for an organization-wide identity.
type EndUserIdentity struct {
	ID             uuid.UUID
	Provider       string
	ProviderUserID string
	ServiceID      *uuid.UUID
	CreatedAt      time.Time
}

// EndUser is an end user with the identities the organization issued.
type EndUser struct {
	User       User
	Identities []EndUserIdentity
}

// OrgSession is a live session of an end user scoped to the organization.
type OrgSession struct {
	ID               uuid.UUID
	ServiceID        *uuid.UUID
	OrgSlug          string
	ServiceSlug      string
	IP               string
	UserAgent        string
	ExpiresAt        time.Time // of the current access token
	RefreshExpiresAt *time.Time
	CreatedAt        time.Time
}

// LoginEvent is one login of a user (spec §12.4).
type LoginEvent struct {
	ID          uuid.UUID
	ServiceID   *uuid.UUID
	Provider    string
	IP          string
	UserAgent   string
	RiskScore   int
	RiskFactors []string
	GeoCountry  *string
	GeoCity     *string
	CreatedAt   time.Time
}

// EndUserDetail is an end user with their activity in the organization:
// the live sessions scoped to it (at most 100 listed, all counted) and the
// 20 most recent login events of the organization, newest first.
type EndUserDetail struct {
	EndUser
	Sessions     []OrgSession
	SessionCount int
	RecentLogins []LoginEvent
}

// ServiceUserStats are a service's user and login counts (spec §9.1 GET
// /api/service/analytics).
type ServiceUserStats struct {
	Users       int // users of the service
	Logins      int // login events of the service since the cut-off
	UniqueUsers int // distinct users among those logins
}

// ListOrgEndUsers returns one page of an organization's end users (of one
// service when serviceID is not nil), oldest first, with the identities the
// organization issued them, and their total count. Authorization is the
// caller's (tenancy checks end_users.view).
func (s *Service) ListOrgEndUsers(ctx context.Context, orgID uuid.UUID, serviceID *uuid.UUID, limit, offset int) ([]EndUser, int, error) {
	filter, args := orgEndUserFilter, []any{orgID}
	if serviceID != nil {
		filter, args = serviceEndUserFilter, []any{orgID, *serviceID}
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users u WHERE `+filter, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count end users: %w", db.MapError(err))
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, `SELECT `+serviceUserColumns+` FROM users u WHERE `+filter+
		fmt.Sprintf(` ORDER BY u.created_at, u.id LIMIT $%d OFFSET $%d`, n+1, n+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list end users: %w", db.MapError(err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list end users: %w", db.MapError(err))
	}
	ids := make([]uuid.UUID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	idents, err := orgIdentities(ctx, s.pool, orgID, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]EndUser, len(users))
	for i, u := range users {
		out[i] = EndUser{User: u, Identities: idents[u.ID]}
		if out[i].Identities == nil {
			out[i].Identities = []EndUserIdentity{}
		}
	}
	return out, total, nil
}

// GetOrgEndUser returns an end user of the organization with the sessions
// scoped to it and its recent logins. It returns ErrUserNotFound for an
// unknown user and for a user who is not an end user of this organization
// alike.
func (s *Service) GetOrgEndUser(ctx context.Context, orgID, userID uuid.UUID) (EndUserDetail, error) {
	u, err := getOrgEndUser(ctx, s.pool, orgID, userID, false)
	if err != nil {
		return EndUserDetail{}, err
	}
	idents, err := orgIdentities(ctx, s.pool, orgID, []uuid.UUID{userID})
	if err != nil {
		return EndUserDetail{}, err
	}
	d := EndUserDetail{EndUser: EndUser{User: u, Identities: idents[userID]}}
	if d.Identities == nil {
		d.Identities = []EndUserIdentity{}
	}
	now := s.nowFunc()
	const live = `user_id = $1 AND org_id = $2 AND revoked_at IS NULL
		AND (access_expires_at > $3 OR refresh_expires_at > $3)`
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE `+live, userID, orgID, now).Scan(&d.SessionCount); err != nil {
		return EndUserDetail{}, fmt.Errorf("count end-user sessions: %w", db.MapError(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT id, service_id, org_slug, service_slug, ip_address, user_agent, access_expires_at,
			refresh_expires_at, created_at
		FROM sessions WHERE `+live+` ORDER BY created_at DESC, id DESC LIMIT $4`, userID, orgID, now, endUserSessionLimit)
	if err != nil {
		return EndUserDetail{}, fmt.Errorf("list end-user sessions: %w", db.MapError(err))
	}
	d.Sessions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrgSession, error) {
		var x OrgSession
		err := r.Scan(&x.ID, &x.ServiceID, &x.OrgSlug, &x.ServiceSlug, &x.IP, &x.UserAgent, &x.ExpiresAt, &x.RefreshExpiresAt, &x.CreatedAt)
		return x, err
	})
	if err != nil {
		return EndUserDetail{}, fmt.Errorf("list end-user sessions: %w", db.MapError(err))
	}
	rows, err = s.pool.Query(ctx, `SELECT id, service_id, provider, ip_address, user_agent, risk_score, risk_factors,
			geo_country, geo_city, created_at
		FROM login_events WHERE user_id = $1 AND org_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, userID, orgID, endUserLoginLimit)
	if err != nil {
		return EndUserDetail{}, fmt.Errorf("list end-user logins: %w", db.MapError(err))
	}
	d.RecentLogins, err = pgx.CollectRows(rows, scanLoginEvent)
	if err != nil {
		return EndUserDetail{}, fmt.Errorf("list end-user logins: %w", db.MapError(err))
	}
	return d, nil
}

func scanLoginEvent(r pgx.CollectableRow) (LoginEvent, error) {
	var e LoginEvent
	var factors []byte
	if err := r.Scan(&e.ID, &e.ServiceID, &e.Provider, &e.IP, &e.UserAgent, &e.RiskScore, &factors, &e.GeoCountry, &e.GeoCity, &e.CreatedAt); err != nil {
		return e, err
	}
	e.RiskFactors = []string{}
	if len(factors) > 0 {
		// Factors are stored as a JSON array of strings; anything else is
		// shown as no factors rather than failing the whole answer.
		var list []string
		if json.Unmarshal(factors, &list) == nil && list != nil {
			e.RiskFactors = list
		}
	}
	return e, nil
}

// RevokeOrgEndUserSessions ends every live session of an end user that is
// scoped to the organization (platform sessions and other organizations'
// sessions of the same account survive, spec §22.1 item 19) and returns how
// many it revoked. The revocation reaches every replica's next request: the
// sessions are marked revoked in the session cache after the commit. It
// returns ErrUserNotFound when the user is not an end user of the
// organization.
func (s *Service) RevokeOrgEndUserSessions(ctx context.Context, orgID, userID uuid.UUID) (int, error) {
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := getOrgEndUser(ctx, tx, orgID, userID, true); err != nil {
			return err
		}
		var err error
		revoked, err = s.revokeScopeSessionsTx(ctx, tx, orgID, nil, &userID, endUserRevokeReason)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke end-user sessions: %w", err)
	}
	if err := s.ForgetSessions(ctx, revoked); err != nil {
		return 0, fmt.Errorf("revoke end-user sessions: %w", err)
	}
	return len(revoked), nil
}

// RequireServiceUserTx checks, inside the caller's transaction, that userID
// is a user of the service (holds an identity issued for it) and keeps the
// user row share-locked until the transaction ends, so that a concurrent
// unlink (which locks it exclusively) runs entirely before or after the
// caller. It returns ErrUserNotFound otherwise.
func (s *Service) RequireServiceUserTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID uuid.UUID) error {
	// Lock first, then look: under READ COMMITTED the second statement sees
	// whatever an unlink we waited for committed.
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL FOR SHARE`, userID, orgID).Scan(&id)
	if err != nil {
		return mapUserErr(err)
	}
	_, err = getServiceUser(ctx, tx, ServiceKey{OrgID: orgID, ServiceID: serviceID}, userID, false)
	return err
}

// ServiceUserStatsSince counts a service's users, and its login events and
// distinct login users since the cut-off.
func (s *Service) ServiceUserStatsSince(ctx context.Context, orgID, serviceID uuid.UUID, since time.Time) (ServiceUserStats, error) {
	var st ServiceUserStats
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM users u WHERE `+serviceUserFilter+`),
			(SELECT count(*) FROM login_events WHERE org_id = $1 AND service_id = $2 AND created_at >= $3),
			(SELECT count(DISTINCT user_id) FROM login_events WHERE org_id = $1 AND service_id = $2 AND created_at >= $3)`,
		orgID, serviceID, since).Scan(&st.Users, &st.Logins, &st.UniqueUsers)
	if err != nil {
		return ServiceUserStats{}, fmt.Errorf("count service users: %w", db.MapError(err))
	}
	return st, nil
}

// getOrgEndUser loads an end user of the organization, locking the user
// row (FOR SHARE) when lock.
func getOrgEndUser(ctx context.Context, q DBTX, orgID, userID uuid.UUID, lock bool) (User, error) {
	query := `SELECT ` + serviceUserColumns + ` FROM users u WHERE u.id = $2 AND ` + orgEndUserFilter
	if lock {
		query += ` FOR SHARE OF u`
	}
	u, err := scanUser(q.QueryRow(ctx, query, orgID, userID))
	return u, mapUserErr(err)
}

// orgIdentities returns the identities the organization issued to users,
// by user, oldest first.
func orgIdentities(ctx context.Context, q DBTX, orgID uuid.UUID, userIDs []uuid.UUID) (map[uuid.UUID][]EndUserIdentity, error) {
	out := map[uuid.UUID][]EndUserIdentity{}
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT user_id, id, provider, provider_user_id, service_id, created_at FROM identities
		WHERE org_id = $1 AND user_id = ANY($2) ORDER BY created_at, id`, orgID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("list end-user identities: %w", db.MapError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var userID uuid.UUID
		var i EndUserIdentity
		if err := rows.Scan(&userID, &i.ID, &i.Provider, &i.ProviderUserID, &i.ServiceID, &i.CreatedAt); err != nil {
			return nil, fmt.Errorf("list end-user identities: %w", err)
		}
		out[userID] = append(out[userID], i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list end-user identities: %w", db.MapError(err))
	}
	return out, nil
}
