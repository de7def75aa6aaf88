package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// ErrLastPlatformOwner is returned when a demotion would leave no platform owner.
var ErrLastPlatformOwner = errors.New("cannot demote the last platform owner")

// UsersByIDs returns the live users among ids.
func (s *Service) UsersByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]User, error) {
	out := map[uuid.UUID]User{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = ANY($1) AND deleted_at IS NULL`, ids)
	if err != nil {
		return nil, db.MapError(err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// PlatformUserByEmail finds a platform-level user by email.
func (s *Service) PlatformUserByEmail(ctx context.Context, email string) (User, error) {
	return NewStore(s.pool).UserGetByEmail(ctx, nil, strings.TrimSpace(email))
}

// GetUser returns a live user.
func (s *Service) GetUser(ctx context.Context, id uuid.UUID) (User, error) {
	return NewStore(s.pool).UserGetByID(ctx, id)
}

// ListPlatformUsers pages through platform-level users, oldest first.
func (s *Service) ListPlatformUsers(ctx context.Context, limit, offset int) ([]User, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE org_id IS NULL AND deleted_at IS NULL`).Scan(&total); err != nil {
		return nil, 0, db.MapError(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE org_id IS NULL AND deleted_at IS NULL
		ORDER BY created_at, id LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, db.MapError(err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	return users, total, err
}

// SearchPlatformUsers finds platform-level users by id or email fragment:
// an exact id or email first, then prefix matches, then substring matches.
func (s *Service) SearchPlatformUsers(ctx context.Context, q string, limit int) ([]User, error) {
	q = strings.TrimSpace(q)
	if id, err := uuid.Parse(q); err == nil {
		u, err := NewStore(s.pool).UserGetByID(ctx, id)
		if errors.Is(err, ErrUserNotFound) || (err == nil && u.OrgID != nil) {
			return []User{}, nil
		}
		if err != nil {
			return nil, err
		}
		return []User{u}, nil
	}
	pattern := "%" + escapeLike(strings.ToLower(q)) + "%"
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE org_id IS NULL AND deleted_at IS NULL AND lower(email) LIKE $1 ESCAPE '\'
		ORDER BY (lower(email) = $2) DESC, (lower(email) LIKE $3 ESCAPE '\') DESC, lower(email), id
		LIMIT $4`, pattern, strings.ToLower(q), escapeLike(strings.ToLower(q))+"%", limit)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SetPlatformOwnerTx promotes or demotes a platform user inside the
// caller's transaction. Demotion refuses to leave no owner; concurrent
// demotions serialise on a transaction lock. The user's live sessions pick
// the change up on their next request once the transaction commits (call
// ReloadUser after commit).
func (s *Service) SetPlatformOwnerTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, owner bool) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(4711001)"); err != nil {
		return err
	}
	u, err := NewStore(tx).UserGetByID(ctx, id)
	if err != nil {
		return err
	}
	if u.OrgID != nil {
		return ErrUserNotFound // tenant end users cannot be platform owners
	}
	if !owner {
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE is_platform_owner AND deleted_at IS NULL`).Scan(&owners); err != nil {
			return db.MapError(err)
		}
		if u.IsPlatformOwner && owners <= 1 {
			return ErrLastPlatformOwner
		}
	}
	_, err = tx.Exec(ctx, `UPDATE users SET is_platform_owner = $2, updated_at = $3 WHERE id = $1`, id, owner, s.nowFunc())
	return db.MapError(err)
}

// ReloadUser makes a user's live sessions reload their profile (after an
// owner flag or email change committed elsewhere).
func (s *Service) ReloadUser(ctx context.Context, id uuid.UUID) error {
	return s.reloadProfile(ctx, id)
}

// IssueOrgSession starts an org-scoped session for a member (organization
// creation and `select`). Membership and the active gate are the caller's checks.
func (s *Service) IssueOrgSession(ctx context.Context, userID, orgID uuid.UUID, orgSlug string, meta RequestMeta) (Tokens, error) {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return Tokens{}, err
	}
	if s.sessions == nil {
		return Tokens{}, fmt.Errorf("identity: not started")
	}
	id := orgID
	scope := Scope{OrgID: &id, OrgSlug: orgSlug}
	var toks Tokens
	var sess Session
	// Switching the dashboard to an organization is not a login: no login
	// event (it would count as a monthly active end user) and no login audit.
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		toks, sess, err = s.sessions.Create(ctx, tx, u, scope, "org_select", meta)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	s.sessions.Cache(ctx, sess, u)
	return toks, nil
}

// RevokeOrgSessionsTx revokes, inside the caller's transaction, every live
// session scoped to an organization (only userID's when given) and returns
// their ids; call ForgetSessions with them after the commit so the
// revocation reaches every replica's next request.
func (s *Service) RevokeOrgSessionsTx(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, userID *uuid.UUID, reason string) ([]uuid.UUID, error) {
	return s.revokeScopeSessionsTx(ctx, tx, orgID, nil, userID, reason)
}

// RevokeServiceSessionsTx is RevokeOrgSessionsTx for one service's sessions.
func (s *Service) RevokeServiceSessionsTx(ctx context.Context, tx pgx.Tx, orgID, serviceID uuid.UUID, reason string) ([]uuid.UUID, error) {
	return s.revokeScopeSessionsTx(ctx, tx, orgID, &serviceID, nil, reason)
}

func (s *Service) revokeScopeSessionsTx(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, serviceID, userID *uuid.UUID, reason string) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = $4, revoked_reason = $5, refresh_token_hash = NULL
		WHERE org_id = $1 AND ($2::uuid IS NULL OR service_id = $2) AND ($3::uuid IS NULL OR user_id = $3) AND revoked_at IS NULL
		RETURNING id`, orgID, serviceID, userID, s.nowFunc(), reason)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// ForgetSessions marks revoked sessions as revoked in the session cache.
func (s *Service) ForgetSessions(ctx context.Context, ids []uuid.UUID) error {
	if s.sessions == nil {
		return nil
	}
	return s.sessions.forget(ctx, ids...)
}
