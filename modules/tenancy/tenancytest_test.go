package tenancy_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authos/authos/modules/tenancy"
)

// dbUsers implements tenancy.Users with plain SQL on the identity module's
// users table. It is a test stand-in for the identity adapter that cmd/*
// wires in production; the rules it keeps (platform-level users only,
// last-owner protection) are the ones the adapter must keep.
type dbUsers struct{ pool *pgxpool.Pool }

var _ tenancy.Users = dbUsers{}

const userCols = `id, email, is_platform_owner, created_at`

func scanUserInfo(row pgx.Row) (tenancy.UserInfo, error) {
	var u tenancy.UserInfo
	err := row.Scan(&u.ID, &u.Email, &u.IsPlatformOwner, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, tenancy.ErrUserNotFound
	}
	return u, err
}

func collectUsers(rows pgx.Rows, err error) ([]tenancy.UserInfo, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenancy.UserInfo, error) { return scanUserInfo(r) })
}

func (d dbUsers) UsersByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]tenancy.UserInfo, error) {
	list, err := collectUsers(d.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = ANY($1) AND deleted_at IS NULL`, ids))
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]tenancy.UserInfo, len(list))
	for _, u := range list {
		out[u.ID] = u
	}
	return out, nil
}

func (d dbUsers) PlatformUserByEmail(ctx context.Context, email string) (tenancy.UserInfo, error) {
	return scanUserInfo(d.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users
		WHERE org_id IS NULL AND lower(email) = lower($1) AND deleted_at IS NULL`, email))
}

func (d dbUsers) ListPlatformUsers(ctx context.Context, limit, offset int) ([]tenancy.UserInfo, int, error) {
	var total int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE org_id IS NULL AND deleted_at IS NULL`).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := collectUsers(d.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE org_id IS NULL AND deleted_at IS NULL
		ORDER BY created_at, id LIMIT $1 OFFSET $2`, limit, offset))
	return list, total, err
}

func (d dbUsers) SearchPlatformUsers(ctx context.Context, q string, limit int) ([]tenancy.UserInfo, error) {
	return collectUsers(d.pool.Query(ctx, `SELECT `+userCols+` FROM users
		WHERE org_id IS NULL AND deleted_at IS NULL AND (id::text = $1 OR strpos(lower(email), lower($1)) > 0)
		ORDER BY id::text = $1 DESC, lower(email) = lower($1) DESC, strpos(lower(email), lower($1)), email
		LIMIT $2`, q, limit))
}

func (d dbUsers) GetUser(ctx context.Context, id uuid.UUID) (tenancy.UserInfo, error) {
	return scanUserInfo(d.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 AND deleted_at IS NULL`, id))
}

func (d dbUsers) SetPlatformOwnerTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, owner bool) error {
	if !owner {
		// Lock every owner row so two concurrent demotions cannot both pass.
		owners, err := collectUsers(tx.Query(ctx, `SELECT `+userCols+` FROM users WHERE is_platform_owner AND deleted_at IS NULL FOR UPDATE`))
		if err != nil {
			return err
		}
		isOwner := false
		for _, u := range owners {
			isOwner = isOwner || u.ID == id
		}
		if isOwner && len(owners) <= 1 {
			return tenancy.ErrLastPlatformOwner
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE users SET is_platform_owner = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, id, owner)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return tenancy.ErrUserNotFound
	}
	return nil
}

// dbSessions implements tenancy.Sessions by inserting real session rows
// (so the sessions → organizations foreign key is exercised) with random
// opaque tokens, and remembers what it issued.
type dbSessions struct {
	pool      *pgxpool.Pool
	mu        sync.Mutex
	list      []issuedSession
	revoked   []uuid.UUID
	forgotten []uuid.UUID
	reloaded  []uuid.UUID
}

var _ tenancy.Sessions = (*dbSessions)(nil)

type issuedSession struct {
	ID      uuid.UUID
	UserID  uuid.UUID
	OrgID   uuid.UUID
	OrgSlug string
	IP      string
	Tokens  tenancy.Tokens
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (d *dbSessions) IssueOrgSession(ctx context.Context, userID, orgID uuid.UUID, orgSlug string, ip, userAgent string) (tenancy.Tokens, error) {
	t := tenancy.Tokens{AccessToken: "at-" + randomToken(), RefreshToken: "rt-" + randomToken(), ExpiresIn: 86400}
	sum := sha256.Sum256([]byte(t.AccessToken))
	id := uuid.Must(uuid.NewV7())
	_, err := d.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, org_id, org_slug, audience, access_jti, token_hash, access_expires_at, ip_address, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		id, userID, orgID, orgSlug, "org:"+orgSlug, randomToken(), hex.EncodeToString(sum[:]), time.Now().Add(24*time.Hour), ip, userAgent)
	if err != nil {
		return tenancy.Tokens{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, issuedSession{ID: id, UserID: userID, OrgID: orgID, OrgSlug: orgSlug, IP: ip, Tokens: t})
	return t, nil
}

// byAccessToken returns the session issued with access token tok.
func (d *dbSessions) byAccessToken(tok string) (issuedSession, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.list {
		if s.Tokens.AccessToken == tok {
			return s, true
		}
	}
	return issuedSession{}, false
}

// RevokeOrgSessionsTx revokes session rows like the identity module does.
func (d *dbSessions) RevokeOrgSessionsTx(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, userID *uuid.UUID, reason string) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = now(), revoked_reason = $3
		WHERE org_id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND revoked_at IS NULL RETURNING id`, orgID, userID, reason)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.revoked = append(d.revoked, ids...)
	return ids, nil
}

// ForgetSessions records which sessions the module asked to forget (this
// test double has no session cache to update).
func (d *dbSessions) ForgetSessions(_ context.Context, ids []uuid.UUID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgotten = append(d.forgotten, ids...)
	return nil
}

// ReloadUser records the reload request.
func (d *dbSessions) ReloadUser(_ context.Context, userID uuid.UUID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reloaded = append(d.reloaded, userID)
	return nil
}
