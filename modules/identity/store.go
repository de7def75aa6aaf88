package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// DBTX is a pool or a transaction.
type DBTX = db.DBTX

// Store is the identity module's SQL. Every statement is parameterised; rows
// are converted to domain types here and never leave this file.
type Store struct{ db DBTX }

// NewStore returns a store on a pool or transaction.
func NewStore(d DBTX) *Store { return &Store{db: d} }

// WithTx returns a store bound to tx.
func (s *Store) WithTx(tx pgx.Tx) *Store { return &Store{db: tx} }

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func mapUserErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrUserNotFound
	case errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "users_email_scope_key":
		return ErrEmailTaken
	}
	return err
}

const userColumns = `id, org_id, email, is_platform_owner, coalesce(password_hash, ''), email_verified_at, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.OrgID, &u.Email, &u.IsPlatformOwner, &u.PasswordHash, &u.EmailVerifiedAt, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// UserGetByEmail finds a live user by email (case-insensitive) in a scope:
// orgID nil is the platform scope.
func (s *Store) UserGetByEmail(ctx context.Context, orgID *uuid.UUID, email string) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users
		WHERE coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid) = coalesce($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
		  AND lower(email) = lower($2) AND deleted_at IS NULL`
	u, err := scanUser(s.db.QueryRow(ctx, q, orgID, email))
	return u, mapUserErr(err)
}

// UserGetByID finds a live user.
func (s *Store) UserGetByID(ctx context.Context, id uuid.UUID) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE id = $1 AND deleted_at IS NULL`
	u, err := scanUser(s.db.QueryRow(ctx, q, id))
	return u, mapUserErr(err)
}

// UserInsert creates a user.
func (s *Store) UserInsert(ctx context.Context, u User) (User, error) {
	const q = `INSERT INTO users (id, org_id, email, is_platform_owner, password_hash, email_verified_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $7)
		RETURNING ` + userColumns
	out, err := scanUser(s.db.QueryRow(ctx, q, u.ID, u.OrgID, u.Email, u.IsPlatformOwner, u.PasswordHash, u.EmailVerifiedAt, u.CreatedAt))
	return out, mapUserErr(err)
}

// UserSetPassword replaces a user's password hash.
func (s *Store) UserSetPassword(ctx context.Context, id uuid.UUID, hash string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL`, id, hash, now)
	if err != nil {
		return mapUserErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUserNotFound
	}
	return nil
}

// UserSetPasswordIfEmpty sets a hash only when the user has none; it
// reports whether it did.
func (s *Store) UserSetPasswordIfEmpty(ctx context.Context, id uuid.UUID, hash string, now time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash IS NULL AND deleted_at IS NULL`, id, hash, now)
	if err != nil {
		return false, mapUserErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// UserVerifyEmail marks email as verified, switching the account to it
// (email changes verify the new address before it replaces the old one).
func (s *Store) UserVerifyEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE users SET email = $2, email_verified_at = $3, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL`, id, email, now)
	if err != nil {
		return mapUserErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUserNotFound
	}
	return nil
}

// UserPromoteOwner makes a user platform owner.
func (s *Store) UserPromoteOwner(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE users SET is_platform_owner = true, updated_at = $2 WHERE id = $1 AND NOT is_platform_owner`, id, now)
	return mapUserErr(err)
}

// IdentityInsertPassword records the password identity of a user in a scope.
func (s *Store) IdentityInsertPassword(ctx context.Context, userID uuid.UUID, scope Scope, now time.Time) error {
	const q = `INSERT INTO identities (id, user_id, provider, provider_user_id, org_id, service_id, created_at)
		VALUES ($1, $2, 'password', $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	_, err := s.db.Exec(ctx, q, newID(), userID, userID.String(), scope.OrgID, scope.ServiceID, now)
	return db.MapError(err)
}

// ---- sessions

const sessionColumns = `id, user_id, org_id, service_id, org_slug, service_slug, audience, auth_method, access_jti, token_hash,
	access_expires_at, refresh_expires_at, ip_address, user_agent, created_at, revoked_at`

func scanSession(row pgx.Row) (Session, error) {
	var x Session
	err := row.Scan(&x.ID, &x.UserID, &x.OrgID, &x.ServiceID, &x.OrgSlug, &x.ServiceSlug, &x.Audience, &x.AuthMethod, &x.AccessJTI, &x.TokenHash,
		&x.AccessExpiresAt, &x.RefreshExpiresAt, &x.IP, &x.UserAgent, &x.CreatedAt, &x.RevokedAt)
	return x, err
}

// SessionInsert stores a new session with its refresh token hash.
func (s *Store) SessionInsert(ctx context.Context, x Session, refreshHash string) error {
	const q = `INSERT INTO sessions (id, user_id, org_id, service_id, org_slug, service_slug, audience, auth_method, access_jti, token_hash,
		access_expires_at, refresh_token_hash, refresh_expires_at, ip_address, user_agent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nullif($12, ''), $13, $14, $15, $16)`
	_, err := s.db.Exec(ctx, q, x.ID, x.UserID, x.OrgID, x.ServiceID, x.OrgSlug, x.ServiceSlug, x.Audience, x.AuthMethod, x.AccessJTI, x.TokenHash,
		x.AccessExpiresAt, refreshHash, x.RefreshExpiresAt, x.IP, x.UserAgent, x.CreatedAt)
	return db.MapError(err)
}

// SessionGet returns a session by id, revoked or not.
func (s *Store) SessionGet(ctx context.Context, id uuid.UUID) (Session, error) {
	x, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return x, ErrSessionRevoked
	}
	return x, db.MapError(err)
}

// SessionGetWithUser returns a session and its (live) user.
func (s *Store) SessionGetWithUser(ctx context.Context, id uuid.UUID) (Session, User, error) {
	const q = `SELECT s.id, s.user_id, s.org_id, s.service_id, s.org_slug, s.service_slug, s.audience, s.auth_method, s.access_jti, s.token_hash,
			s.access_expires_at, s.refresh_expires_at, s.ip_address, s.user_agent, s.created_at, s.revoked_at,
			u.id, u.org_id, u.email, u.is_platform_owner, coalesce(u.password_hash, ''), u.email_verified_at, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id AND u.deleted_at IS NULL
		WHERE s.id = $1`
	var x Session
	var u User
	err := s.db.QueryRow(ctx, q, id).Scan(&x.ID, &x.UserID, &x.OrgID, &x.ServiceID, &x.OrgSlug, &x.ServiceSlug, &x.Audience, &x.AuthMethod, &x.AccessJTI, &x.TokenHash,
		&x.AccessExpiresAt, &x.RefreshExpiresAt, &x.IP, &x.UserAgent, &x.CreatedAt, &x.RevokedAt,
		&u.ID, &u.OrgID, &u.Email, &u.IsPlatformOwner, &u.PasswordHash, &u.EmailVerifiedAt, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, u, ErrSessionRevoked
	}
	return x, u, db.MapError(err)
}

// SessionActiveIDs lists a user's live sessions.
func (s *Store) SessionActiveIDs(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, userID)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// SessionGetByRefreshHash finds the session whose current refresh token has this hash, locking it.
func (s *Store) SessionGetByRefreshHash(ctx context.Context, hash string) (Session, error) {
	x, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE refresh_token_hash = $1 FOR UPDATE`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return x, ErrInvalidRefreshToken
	}
	return x, db.MapError(err)
}

// RotatedRefreshToken is a refresh token a session already rotated away from.
type RotatedRefreshToken struct {
	SessionID uuid.UUID
	RotatedAt time.Time
}

// RefreshHistoryGet looks a refresh token hash up among rotated tokens.
func (s *Store) RefreshHistoryGet(ctx context.Context, hash string) (RotatedRefreshToken, error) {
	var r RotatedRefreshToken
	err := s.db.QueryRow(ctx, `SELECT session_id, rotated_at FROM session_refresh_token_history WHERE token_hash = $1`, hash).Scan(&r.SessionID, &r.RotatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrInvalidRefreshToken
	}
	return r, db.MapError(err)
}

// SessionRotate swaps the session's refresh token (compare-and-swap on the
// old hash) and access token, recording the old refresh hash in history.
// It returns ErrInvalidRefreshToken when another request rotated first.
func (s *Store) SessionRotate(ctx context.Context, id uuid.UUID, oldHash, newHash string, jti, tokenHash string, accessExp, refreshExp, now time.Time) error {
	const q = `UPDATE sessions SET refresh_token_hash = $3, access_jti = $4, token_hash = $5, access_expires_at = $6,
			refresh_expires_at = $7, refreshed_at = $8
		WHERE id = $1 AND refresh_token_hash = $2 AND revoked_at IS NULL`
	tag, err := s.db.Exec(ctx, q, id, oldHash, newHash, jti, tokenHash, accessExp, refreshExp, now)
	if err != nil {
		return db.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrInvalidRefreshToken
	}
	_, err = s.db.Exec(ctx, `INSERT INTO session_refresh_token_history (token_hash, session_id, rotated_at) VALUES ($1, $2, $3)`, oldHash, id, now)
	return db.MapError(err)
}

// SessionRevoke revokes one session; it reports whether it was active.
func (s *Store) SessionRevoke(ctx context.Context, id uuid.UUID, reason string, now time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoked_reason = $3, refresh_token_hash = NULL WHERE id = $1 AND revoked_at IS NULL`, id, now, reason)
	if err != nil {
		return false, db.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// SessionRevokeUser revokes every active session of a user except keep
// (uuid.Nil keeps none) and returns the revoked ids.
func (s *Store) SessionRevokeUser(ctx context.Context, userID, keep uuid.UUID, reason string, now time.Time) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `UPDATE sessions SET revoked_at = $3, revoked_reason = $4, refresh_token_hash = NULL
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id`, userID, keep, now, reason)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// ---- single-use email tokens

// EmailToken is a verification or reset token row.
type EmailToken struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Email     string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// VerificationTokenInsert stores a verification token hash for email.
func (s *Store) VerificationTokenInsert(ctx context.Context, userID uuid.UUID, email, hash string, expires, now time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO email_verification_tokens (id, user_id, email, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		newID(), userID, email, hash, expires, now)
	return db.MapError(err)
}

// VerificationTokenGet locks a verification token by hash.
func (s *Store) VerificationTokenGet(ctx context.Context, hash string) (EmailToken, error) {
	var t EmailToken
	err := s.db.QueryRow(ctx, `SELECT id, user_id, email, expires_at, used_at FROM email_verification_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.ID, &t.UserID, &t.Email, &t.ExpiresAt, &t.UsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrInvalidToken
	}
	return t, db.MapError(err)
}

// VerificationTokenUse marks a verification token used.
func (s *Store) VerificationTokenUse(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE email_verification_tokens SET used_at = $2 WHERE id = $1`, id, now)
	return db.MapError(err)
}

// ResetTokenInsert stores a password-reset token hash.
func (s *Store) ResetTokenInsert(ctx context.Context, userID uuid.UUID, hash string, expires, now time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		newID(), userID, hash, expires, now)
	return db.MapError(err)
}

// ResetTokenGet locks a reset token by hash.
func (s *Store) ResetTokenGet(ctx context.Context, hash string) (EmailToken, error) {
	var t EmailToken
	err := s.db.QueryRow(ctx, `SELECT id, user_id, expires_at, used_at FROM password_reset_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.ID, &t.UserID, &t.ExpiresAt, &t.UsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrInvalidToken
	}
	return t, db.MapError(err)
}

// ResetTokenUse marks a reset token used, and every other open reset token
// of the user too (one reset invalidates older links).
func (s *Store) ResetTokenUse(ctx context.Context, userID uuid.UUID, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, userID, now)
	return db.MapError(err)
}

// ---- login events

// LoginEventInsert records one successful authentication (spec §12.4).
func (s *Store) LoginEventInsert(ctx context.Context, userID uuid.UUID, scope Scope, provider string, meta RequestMeta, now time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO login_events (id, user_id, org_id, service_id, provider, ip_address, user_agent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, newID(), userID, scope.OrgID, scope.ServiceID, provider, meta.IP, truncate(meta.UserAgent, 512), now)
	return db.MapError(err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ---- signing keys

// StoredKey is a signing key row.
type StoredKey struct {
	KID          string
	Algorithm    string
	PrivateEnc   []byte
	EncKeyID     string
	PublicPEM    string
	Status       string
	CreatedAt    time.Time
	RotatedOutAt *time.Time
}

// KeyList returns every active and previous key, active first.
func (s *Store) KeyList(ctx context.Context) ([]StoredKey, error) {
	rows, err := s.db.Query(ctx, `SELECT kid, algorithm, private_key_encrypted, encryption_key_id, public_key_pem, status, created_at, rotated_out_at
		FROM jwt_signing_keys WHERE status IN ('active', 'previous') ORDER BY status = 'active' DESC, created_at DESC`)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredKey, error) {
		var k StoredKey
		err := r.Scan(&k.KID, &k.Algorithm, &k.PrivateEnc, &k.EncKeyID, &k.PublicPEM, &k.Status, &k.CreatedAt, &k.RotatedOutAt)
		return k, err
	})
}

// KeyInsertActive inserts a key as the active one. It returns db.ErrUnique
// when another key is already active (a concurrent first start).
func (s *Store) KeyInsertActive(ctx context.Context, k StoredKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO jwt_signing_keys (kid, algorithm, private_key_encrypted, encryption_key_id, public_key_pem, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6)`, k.KID, k.Algorithm, k.PrivateEnc, k.EncKeyID, k.PublicPEM, k.CreatedAt)
	return db.MapError(err)
}

// KeyDemoteActive turns the active key into a previous one.
func (s *Store) KeyDemoteActive(ctx context.Context, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE jwt_signing_keys SET status = 'previous', rotated_out_at = $1 WHERE status = 'active'`, now)
	return db.MapError(err)
}

// KeyRetireBefore retires previous keys rotated out before cutoff: no
// unexpired token can carry their signature any more.
func (s *Store) KeyRetireBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE jwt_signing_keys SET status = 'retired' WHERE status = 'previous' AND rotated_out_at < $1`, cutoff)
	if err != nil {
		return 0, db.MapError(err)
	}
	return tag.RowsAffected(), nil
}
