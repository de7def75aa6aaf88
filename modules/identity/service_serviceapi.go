package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// ServiceKey is the scope of a Service API call (spec §9): the service an
// API key belongs to and that service's organization. It always comes from
// the authenticated key, never from the request.
type ServiceKey struct {
	OrgID     uuid.UUID
	ServiceID uuid.UUID
	APIKeyID  uuid.UUID
}

// serviceAPIProvider is the identity provider of users linked by an API key.
const serviceAPIProvider = "service_api"

// serviceUnlinkReason is the revoked_reason of sessions ended by an unlink.
const serviceUnlinkReason = "service_unlink"

// linkAttempts bounds the retries of LinkServiceUser when a concurrent call
// creates the same user first.
const linkAttempts = 2

// The users of a service are the tenant users of its organization holding an
// identity issued for that organization and service.
const serviceUserFilter = `u.org_id = $1 AND u.deleted_at IS NULL
	AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.org_id = $1 AND i.service_id = $2)`

const serviceUserColumns = `u.id, u.org_id, u.email, u.is_platform_owner, coalesce(u.password_hash, ''), u.email_verified_at, u.created_at, u.updated_at`

// ListServiceUsers returns one page of the service's users, oldest first,
// and their total count.
func (s *Service) ListServiceUsers(ctx context.Context, k ServiceKey, limit, offset int) ([]User, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users u WHERE `+serviceUserFilter, k.OrgID, k.ServiceID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count service users: %w", db.MapError(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+serviceUserColumns+` FROM users u WHERE `+serviceUserFilter+`
		ORDER BY u.created_at, u.id LIMIT $3 OFFSET $4`, k.OrgID, k.ServiceID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list service users: %w", db.MapError(err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list service users: %w", db.MapError(err))
	}
	return users, total, nil
}

// GetServiceUser returns a user of the service. It returns ErrUserNotFound
// for unknown users and for users of other services or organizations alike.
func (s *Service) GetServiceUser(ctx context.Context, k ServiceKey, userID uuid.UUID) (User, error) {
	return getServiceUser(ctx, s.pool, k, userID, false)
}

func getServiceUser(ctx context.Context, q DBTX, k ServiceKey, userID uuid.UUID, lock bool) (User, error) {
	query := `SELECT ` + serviceUserColumns + ` FROM users u WHERE u.id = $3 AND ` + serviceUserFilter
	if lock {
		query += ` FOR UPDATE OF u`
	}
	u, err := scanUser(q.QueryRow(ctx, query, k.OrgID, k.ServiceID, userID))
	return u, mapUserErr(err)
}

// LinkServiceUser makes the organization's user with email a user of the
// service (spec §9.2): an existing, already linked user is returned as is
// (created false); an existing unlinked one gets a service_api identity; an
// unknown address becomes a new tenant user without password and with an
// unverified email, recorded as user.signup.success. created reports
// whether a user or identity was added. It returns ErrInvalidEmail for a
// malformed address.
func (s *Service) LinkServiceUser(ctx context.Context, k ServiceKey, rawEmail string, meta RequestMeta) (u User, created bool, err error) {
	email, err := normalizeEmail(rawEmail)
	if err != nil {
		return User{}, false, err
	}
	for range linkAttempts {
		u, created, err = s.linkServiceUserOnce(ctx, k, email, meta)
		if !errors.Is(err, ErrEmailTaken) {
			break
		}
		// A concurrent call created the user first: link that one.
	}
	if err != nil {
		return User{}, false, fmt.Errorf("link service user: %w", err)
	}
	return u, created, nil
}

func (s *Service) linkServiceUserOnce(ctx context.Context, k ServiceKey, email string, meta RequestMeta) (User, bool, error) {
	var u User
	var created bool
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		orgID := k.OrgID
		now := s.nowFunc()
		existing, err := st.UserGetByEmail(ctx, &orgID, email)
		switch {
		case err == nil:
			u = existing
			linked, err := insertServiceIdentity(ctx, tx, k, u.ID, email, now)
			if err != nil {
				return err
			}
			created = linked
			return nil
		case !errors.Is(err, ErrUserNotFound):
			return err
		}
		u, err = st.UserInsert(ctx, User{ID: newID(), OrgID: &orgID, Email: email, CreatedAt: now})
		if err != nil {
			return err
		}
		if _, err := insertServiceIdentity(ctx, tx, k, u.ID, email, now); err != nil {
			return err
		}
		created = true
		serviceID := k.ServiceID
		return s.record(ctx, tx, events.Event{
			Type: "user.signup.success", OrgID: &orgID, ActorType: events.ActorAPIKey, TargetType: "user", TargetID: u.ID.String(),
			IP: meta.IP, UserAgent: meta.UserAgent,
			Details: map[string]any{"service_id": serviceID.String(), "api_key_method": true, "api_key_id": k.APIKeyID.String()},
		})
	})
	return u, created, err
}

// insertServiceIdentity links a user to the key's service unless one of the
// user's identities already does; it reports whether it added one. The user
// row is locked first so that concurrent links of one user serialize. A
// service_api identity of another user with the same provider_user_id (an
// address that changed hands) answers ErrEmailTaken.
func insertServiceIdentity(ctx context.Context, tx pgx.Tx, k ServiceKey, userID uuid.UUID, email string, now time.Time) (bool, error) {
	var linked bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM identities WHERE user_id = u.id AND org_id = $2 AND service_id = $3)
		FROM users u WHERE u.id = $1 FOR UPDATE`, userID, k.OrgID, k.ServiceID).Scan(&linked)
	if err != nil {
		return false, fmt.Errorf("check service identity: %w", mapUserErr(err))
	}
	if linked {
		return false, nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO identities (id, user_id, provider, provider_user_id, org_id, service_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, newID(), userID, serviceAPIProvider, strings.ToLower(email), k.OrgID, k.ServiceID, now)
	if err = db.MapError(err); errors.Is(err, db.ErrUnique) {
		return false, ErrEmailTaken
	}
	if err != nil {
		return false, fmt.Errorf("insert service identity: %w", err)
	}
	return true, nil
}

// UnlinkServiceUser removes a user from the service (spec §9.2): it deletes
// the user's identities issued for the service, runs the unlink hook
// (billing deletes the user's subscription to the service) and revokes the
// user's sessions of the service, all in one transaction. The user itself,
// and its identities and sessions elsewhere, survive. It returns
// ErrUserNotFound when the user is not a user of the service.
func (s *Service) UnlinkServiceUser(ctx context.Context, k ServiceKey, userID uuid.UUID) error {
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := getServiceUser(ctx, tx, k, userID, true); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1 AND org_id = $2 AND service_id = $3`, userID, k.OrgID, k.ServiceID); err != nil {
			return fmt.Errorf("delete service identities: %w", db.MapError(err))
		}
		if s.unlinked != nil {
			if err := s.unlinked.ServiceUserUnlinkedTx(ctx, tx, k.OrgID, k.ServiceID, userID, k.APIKeyID); err != nil {
				return fmt.Errorf("unlink hook: %w", err)
			}
		}
		var err error
		revoked, err = s.revokeScopeSessionsTx(ctx, tx, k.OrgID, &k.ServiceID, &userID, serviceUnlinkReason)
		return err
	})
	if err != nil {
		return fmt.Errorf("unlink service user: %w", err)
	}
	return s.ForgetSessions(ctx, revoked)
}
