package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// totpSecretRow is a user_totp_secrets row. The secret stays encrypted
// until the service opens it for one validation.
type totpSecretRow struct {
	UserID       uuid.UUID
	SecretEnc    []byte
	KeyID        string
	Enabled      bool
	EnabledAt    *time.Time
	LastUsedStep int64
}

const totpSecretColumns = `user_id, secret_encrypted, encryption_key_id, enabled, enabled_at, last_used_step`

func scanTOTPSecret(row pgx.Row) (totpSecretRow, error) {
	var r totpSecretRow
	err := row.Scan(&r.UserID, &r.SecretEnc, &r.KeyID, &r.Enabled, &r.EnabledAt, &r.LastUsedStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrMFANotSetUp
	}
	return r, db.MapError(err)
}

// totpGet returns a user's TOTP secret row, or ErrMFANotSetUp.
func (s *Store) totpGet(ctx context.Context, userID uuid.UUID) (totpSecretRow, error) {
	return scanTOTPSecret(s.db.QueryRow(ctx, `SELECT `+totpSecretColumns+` FROM user_totp_secrets WHERE user_id = $1`, userID))
}

// totpGetForUpdate is totpGet that locks the row until the transaction ends.
func (s *Store) totpGetForUpdate(ctx context.Context, userID uuid.UUID) (totpSecretRow, error) {
	return scanTOTPSecret(s.db.QueryRow(ctx, `SELECT `+totpSecretColumns+` FROM user_totp_secrets WHERE user_id = $1 FOR UPDATE`, userID))
}

// totpUpsertPending stores a new, not yet enabled secret for a user,
// replacing a pending one. It reports false (and changes nothing) when the
// user's MFA is enabled.
func (s *Store) totpUpsertPending(ctx context.Context, userID uuid.UUID, enc []byte, keyID string, now time.Time) (bool, error) {
	const q = `INSERT INTO user_totp_secrets (user_id, secret_encrypted, encryption_key_id, enabled, last_used_step, created_at, updated_at)
		VALUES ($1, $2, $3, false, 0, $4, $4)
		ON CONFLICT (user_id) DO UPDATE SET secret_encrypted = excluded.secret_encrypted, encryption_key_id = excluded.encryption_key_id,
			last_used_step = 0, created_at = excluded.created_at, updated_at = excluded.updated_at
		WHERE NOT user_totp_secrets.enabled`
	tag, err := s.db.Exec(ctx, q, userID, enc, keyID, now)
	if err != nil {
		return false, db.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// totpEnable enables a pending secret, recording step as used (the code
// that enabled it cannot be replayed).
func (s *Store) totpEnable(ctx context.Context, userID uuid.UUID, step int64, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE user_totp_secrets SET enabled = true, enabled_at = $2, last_used_step = $3, updated_at = $2
		WHERE user_id = $1 AND NOT enabled`, userID, now, step)
	if err != nil {
		return db.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrMFAAlreadyEnabled
	}
	return nil
}

// totpAdvanceStep records step as the newest accepted time step of an
// enabled secret. It reports false when step is not newer than the last
// accepted one: each step is accepted at most once, even under concurrency
// (the row lock serialises the updates and the second re-checks the
// condition).
func (s *Store) totpAdvanceStep(ctx context.Context, userID uuid.UUID, step int64, now time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE user_totp_secrets SET last_used_step = $2, updated_at = $3
		WHERE user_id = $1 AND enabled AND last_used_step < $2`, userID, step, now)
	if err != nil {
		return false, db.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// totpDelete removes a user's secret and backup codes; it reports whether
// a secret existed and whether it was enabled.
func (s *Store) totpDelete(ctx context.Context, userID uuid.UUID) (existed, wasEnabled bool, err error) {
	err = s.db.QueryRow(ctx, `DELETE FROM user_totp_secrets WHERE user_id = $1 RETURNING enabled`, userID).Scan(&wasEnabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = nil
	case err != nil:
		return false, false, db.MapError(err)
	default:
		existed = true
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM totp_backup_codes WHERE user_id = $1`, userID); err != nil {
		return false, false, db.MapError(err)
	}
	return existed, wasEnabled, err
}

// backupCodesReplace deletes every backup code of a user and stores hashes.
func (s *Store) backupCodesReplace(ctx context.Context, userID uuid.UUID, hashes []string, now time.Time) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM totp_backup_codes WHERE user_id = $1`, userID); err != nil {
		return db.MapError(err)
	}
	ids := make([]uuid.UUID, len(hashes))
	for i := range hashes {
		ids[i] = newID()
	}
	_, err := s.db.Exec(ctx, `INSERT INTO totp_backup_codes (id, user_id, code_hash, created_at)
		SELECT id, $2, code_hash, $4 FROM unnest($1::uuid[], $3::text[]) AS c(id, code_hash)`, ids, userID, hashes, now)
	return db.MapError(err)
}

// backupCodeUse consumes an unused backup code by hash and returns its id.
// Exactly one of concurrent uses of one code succeeds; the others (and
// unknown or used codes) get ErrInvalidMFACode.
func (s *Store) backupCodeUse(ctx context.Context, userID uuid.UUID, hash string, now time.Time) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.QueryRow(ctx, `UPDATE totp_backup_codes SET used_at = $3
		WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL RETURNING id`, hash, userID, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, ErrInvalidMFACode
	}
	return id, db.MapError(err)
}

// mfaStatus reads a user's MFA state. A user without a secret is disabled.
func (s *Store) mfaStatus(ctx context.Context, userID uuid.UUID) (MFAStatus, error) {
	const q = `SELECT coalesce(t.enabled, false), t.enabled_at,
			EXISTS (SELECT 1 FROM totp_backup_codes c WHERE c.user_id = $1 AND c.used_at IS NULL)
		FROM (SELECT 1) AS one LEFT JOIN user_totp_secrets t ON t.user_id = $1`
	var st MFAStatus
	err := s.db.QueryRow(ctx, q, userID).Scan(&st.Enabled, &st.EnabledAt, &st.HasBackupCodes)
	if err != nil {
		return MFAStatus{}, db.MapError(err)
	}
	if !st.Enabled {
		st.EnabledAt, st.HasBackupCodes = nil, false
	}
	return st, nil
}

// mfaAuditEntry is one mfa_audit_log row (spec §12.2).
type mfaAuditEntry struct {
	OrgID     *uuid.UUID
	UserID    uuid.UUID
	EventType string
	Success   *bool // nil for mfa_verify_attempt
	Details   string
	IP        string
	UserAgent string
	CreatedAt time.Time
}

// mfaAuditInsert writes MFA audit rows in order.
func (s *Store) mfaAuditInsert(ctx context.Context, entries ...mfaAuditEntry) error {
	for _, e := range entries {
		_, err := s.db.Exec(ctx, `INSERT INTO mfa_audit_log (id, org_id, user_id, event_type, success, details, ip_address, user_agent, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			newID(), e.OrgID, e.UserID, e.EventType, e.Success, truncate(e.Details, 500), truncate(e.IP, 100), truncate(e.UserAgent, 512), e.CreatedAt)
		if err != nil {
			return db.MapError(err)
		}
	}
	return nil
}
