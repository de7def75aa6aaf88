package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/modules/identity/internal/totp"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// Second factors: TOTP enrolment (setup → enable with a first code),
// verification of a TOTP or backup code with replay protection and a
// per-user lockout, backup-code regeneration, disabling, and the platform
// owner's status and force-disable (spec §3, §12.2, §14).
//
// Every change writes its mfa_audit_log rows and records its events in
// the transaction of the change. The cached session profile carries
// nothing MFA-related, so enabling or disabling MFA reloads no session.

// MFA methods, as the audit details and events name them.
const (
	MFAMethodTOTP       = "totp"
	MFAMethodBackupCode = "backup_code"
)

// The second-factor lockout: this many failed verifications of one user
// (counted in Redis over mfaLockDuration) lock verification for
// mfaLockDuration, for every path (login step-up and self-service alike).
const (
	mfaMaxFailures  = 5
	mfaLockDuration = 15 * time.Minute
)

// mfaAudit event types (spec §12.2).
const (
	mfaSetupInitiated   = "mfa_setup_initiated"
	mfaSetupCompleted   = "mfa_setup_completed"
	mfaSetupFailed      = "mfa_setup_failed"
	mfaEnabledEvent     = "mfa_enabled"
	mfaDisabledEvent    = "mfa_disabled"
	mfaVerifyAttempt    = "mfa_verify_attempt"
	mfaVerifySuccess    = "mfa_verify_success"
	mfaVerifyFailed     = "mfa_verify_failed"
	backupCodesGen      = "backup_codes_generated"
	backupCodeUsed      = "backup_code_used"
	mfaForceDisabled    = "mfa_force_disabled_by_admin"
	reasonInvalidCode   = "invalid_code"
	reasonReplayedCode  = "replayed_code"
	reasonLocked        = "locked"
	platformForceAction = "force_disable_mfa"
)

// totpAD binds a sealed TOTP secret to its user, so a ciphertext copied to
// another account's row does not open.
func totpAD(userID uuid.UUID) []byte { return []byte("user_totp_secrets:" + userID.String()) }

func (s *Service) mfaKey(userID uuid.UUID) string {
	return s.cfg.RedisKeyPrefix + "mfa:" + userID.String()
}

func refBool(b bool) *bool { return &b }

func (s *Service) mfaAuditRow(u User, orgID *uuid.UUID, typ string, success *bool, details string, meta RequestMeta, now time.Time) mfaAuditEntry {
	return mfaAuditEntry{OrgID: orgID, UserID: u.ID, EventType: typ, Success: success, Details: details, IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now}
}

// mfaEnabled reports whether a user has an enabled second factor, which a
// login must then verify (verifySecondFactor).
func (s *Service) mfaEnabled(ctx context.Context, userID uuid.UUID) (bool, error) {
	sec, err := NewStore(s.pool).totpGet(ctx, userID)
	if errors.Is(err, ErrMFANotSetUp) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sec.Enabled, nil
}

// MFAStatus returns the caller's MFA state.
func (s *Service) MFAStatus(ctx context.Context, userID uuid.UUID) (MFAStatus, error) {
	return NewStore(s.pool).mfaStatus(ctx, userID)
}

// SetupMFA creates a new pending TOTP secret for the user (replacing a
// pending one) and returns it with its provisioning URI and QR code. It
// returns ErrMFAAlreadyEnabled when MFA is enabled: a new secret must not
// silently replace a working one.
func (s *Service) SetupMFA(ctx context.Context, userID uuid.UUID, meta RequestMeta) (MFASetup, error) {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return MFASetup{}, err
	}
	key, err := totp.Generate(u.Email)
	if err != nil {
		return MFASetup{}, err
	}
	svg, err := totp.QRCodeSVG(key.URI)
	if err != nil {
		return MFASetup{}, err
	}
	enc, keyID, err := s.ring.Encrypt([]byte(key.Secret), totpAD(u.ID))
	if err != nil {
		return MFASetup{}, fmt.Errorf("seal totp secret: %w", err)
	}
	now := s.nowFunc()
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		stored, err := st.totpUpsertPending(ctx, u.ID, enc, keyID, now)
		if err != nil {
			return err
		}
		if !stored {
			return ErrMFAAlreadyEnabled
		}
		return st.mfaAuditInsert(ctx, s.mfaAuditRow(u, u.OrgID, mfaSetupInitiated, refBool(true), "", meta, now))
	})
	if err != nil {
		return MFASetup{}, err
	}
	return MFASetup{Secret: key.Secret, QRCodeSVG: svg, QRCodeURI: key.URI}, nil
}

// EnableMFA enables the pending secret with a first code from the
// authenticator app and returns a fresh set of backup codes, shown only
// here. The code's time step counts as used. Errors: ErrMFANotSetUp,
// ErrMFAAlreadyEnabled, ErrInvalidTOTPCode.
func (s *Service) EnableMFA(ctx context.Context, userID uuid.UUID, code string, meta RequestMeta) ([]string, error) {
	codes, hashes, err := newBackupCodes()
	if err != nil {
		return nil, err
	}
	now := s.nowFunc()
	var u User
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		var err error
		if u, err = st.UserGetByID(ctx, userID); err != nil {
			return err
		}
		sec, err := st.totpGetForUpdate(ctx, userID)
		if err != nil {
			return err
		}
		if sec.Enabled {
			return ErrMFAAlreadyEnabled
		}
		step, ok, err := s.checkTOTP(sec, strings.TrimSpace(code), now)
		if err != nil {
			return err
		}
		if !ok || step <= sec.LastUsedStep {
			return ErrInvalidTOTPCode
		}
		if err := st.totpEnable(ctx, userID, step, now); err != nil {
			return err
		}
		if err := st.backupCodesReplace(ctx, userID, hashes, now); err != nil {
			return err
		}
		err = st.mfaAuditInsert(ctx,
			s.mfaAuditRow(u, u.OrgID, mfaSetupCompleted, refBool(true), MFAMethodTOTP, meta, now),
			s.mfaAuditRow(u, u.OrgID, mfaEnabledEvent, refBool(true), MFAMethodTOTP, meta, now),
			s.mfaAuditRow(u, u.OrgID, backupCodesGen, refBool(true), "count:"+strconv.Itoa(len(codes)), meta, now))
		if err != nil {
			return err
		}
		scope := Scope{OrgID: u.OrgID}
		if err := s.record(ctx, tx, userEvent("user.mfa.enabled", u, scope, meta, map[string]any{"method": MFAMethodTOTP, "backup_codes_count": len(codes)})); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("security.mfa.enabled", u, scope, meta, map[string]any{"method": MFAMethodTOTP}))
	})
	if errors.Is(err, ErrInvalidTOTPCode) {
		failErr := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			return NewStore(tx).mfaAuditInsert(ctx, s.mfaAuditRow(u, u.OrgID, mfaSetupFailed, refBool(false), reasonInvalidCode, meta, now))
		})
		if failErr != nil {
			return nil, failErr
		}
	}
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RegenerateBackupCodes replaces every backup code of the user with a new
// set, after a current second factor (a TOTP or an unused backup code).
// Errors: ErrMFANotEnabled, and verifySecondFactor's.
func (s *Service) RegenerateBackupCodes(ctx context.Context, userID uuid.UUID, code string, meta RequestMeta) ([]string, error) {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if _, err := s.verifySecondFactor(ctx, u, u.OrgID, code, meta); err != nil {
		return nil, err
	}
	codes, hashes, err := newBackupCodes()
	if err != nil {
		return nil, err
	}
	now := s.nowFunc()
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		sec, err := st.totpGetForUpdate(ctx, u.ID)
		if errors.Is(err, ErrMFANotSetUp) || (err == nil && !sec.Enabled) {
			return ErrMFANotEnabled // disabled concurrently
		}
		if err != nil {
			return err
		}
		if err := st.backupCodesReplace(ctx, u.ID, hashes, now); err != nil {
			return err
		}
		return st.mfaAuditInsert(ctx, s.mfaAuditRow(u, u.OrgID, backupCodesGen, refBool(true), "count:"+strconv.Itoa(len(codes)), meta, now))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableMFA removes the user's TOTP secret and backup codes, after a
// current second factor (stricter than the reference, spec §22.3).
// Errors: ErrMFANotEnabled, and verifySecondFactor's.
func (s *Service) DisableMFA(ctx context.Context, userID uuid.UUID, code string, meta RequestMeta) error {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := s.verifySecondFactor(ctx, u, u.OrgID, code, meta); err != nil {
		return err
	}
	now := s.nowFunc()
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		_, wasEnabled, err := st.totpDelete(ctx, u.ID)
		if err != nil {
			return err
		}
		if !wasEnabled {
			return ErrMFANotEnabled // disabled concurrently
		}
		if err := st.mfaAuditInsert(ctx, s.mfaAuditRow(u, u.OrgID, mfaDisabledEvent, refBool(true), "", meta, now)); err != nil {
			return err
		}
		scope := Scope{OrgID: u.OrgID}
		if err := s.record(ctx, tx, userEvent("user.mfa.disabled", u, scope, meta, map[string]any{"method": MFAMethodTOTP})); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("security.mfa.disabled", u, scope, meta, map[string]any{"method": MFAMethodTOTP}))
	})
}

// errSecondFactorRefused ends verifySecondFactor's transaction when the
// code is refused; the failure is then counted and recorded on its own.
var errSecondFactorRefused = errors.New("second factor refused")

// verifySecondFactor checks a second factor of u: a 6-digit TOTP code, of
// which each time step is accepted at most once per user, or an unused
// backup code, consumed atomically (exactly one of concurrent uses wins).
// orgID is the organization of the login (nil: the user's own org, if
// any); it goes on the audit rows and events.
//
// It returns the method used (MFAMethodTOTP or MFAMethodBackupCode, also
// on failure) and:
//   - ErrMFANotEnabled when the user has no enabled second factor;
//   - ErrInvalidMFACode for a wrong, used or replayed code; the failure is
//     counted, and the mfaMaxFailures-th within mfaLockDuration locks
//     verification of this user for mfaLockDuration;
//   - an *MFALockedError (errors.Is ErrMFALocked) while locked, without
//     looking at the code;
//   - ErrLimiterUnavailable when Redis cannot be asked (fails closed).
//
// Successes, failures and backup-code use are written to mfa_audit_log
// and recorded as user.mfa.verify.success / user.mfa.verify.failed.
func (s *Service) verifySecondFactor(ctx context.Context, u User, orgID *uuid.UUID, code string, meta RequestMeta) (method string, err error) {
	if orgID == nil {
		orgID = u.OrgID
	}
	code = strings.TrimSpace(code)
	method = MFAMethodBackupCode
	if code != "" && strings.Trim(code, "0123456789") == "" {
		method = MFAMethodTOTP
	}
	key := s.mfaKey(u.ID)
	ttl, err := s.rdb.PTTL(ctx, key+":lock").Result()
	if err != nil {
		return method, fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	if ttl > 0 || ttl == -1 { // -1: the lock exists without expiry (never set so)
		if ttl < 0 {
			ttl = mfaLockDuration
		}
		if err := s.recordSecondFactorFailure(ctx, u, orgID, method, reasonLocked, meta); err != nil {
			return method, err
		}
		return method, &MFALockedError{RetryAfter: max(ttl, time.Second)}
	}

	now := s.nowFunc()
	reason := reasonInvalidCode
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		sec, err := st.totpGet(ctx, u.ID)
		if errors.Is(err, ErrMFANotSetUp) || (err == nil && !sec.Enabled) {
			return ErrMFANotEnabled
		}
		if err != nil {
			return err
		}
		var codeID uuid.UUID
		switch method {
		case MFAMethodTOTP:
			step, ok, err := s.checkTOTP(sec, code, now)
			if err != nil {
				return err
			}
			if !ok {
				return errSecondFactorRefused
			}
			advanced, err := st.totpAdvanceStep(ctx, u.ID, step, now)
			if err != nil {
				return err
			}
			if !advanced {
				reason = reasonReplayedCode
				return errSecondFactorRefused
			}
		default:
			norm, ok := totp.NormalizeBackupCode(code)
			if !ok {
				return errSecondFactorRefused
			}
			codeID, err = st.backupCodeUse(ctx, u.ID, totp.HashBackupCode(norm), now)
			if errors.Is(err, ErrInvalidMFACode) {
				return errSecondFactorRefused
			}
			if err != nil {
				return err
			}
		}
		rows := []mfaAuditEntry{
			s.mfaAuditRow(u, orgID, mfaVerifyAttempt, nil, method, meta, now),
			s.mfaAuditRow(u, orgID, mfaVerifySuccess, refBool(true), method, meta, now),
		}
		if method == MFAMethodBackupCode {
			rows = append(rows, s.mfaAuditRow(u, orgID, backupCodeUsed, refBool(true), "code_id:"+codeID.String(), meta, now))
		}
		if err := st.mfaAuditInsert(ctx, rows...); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("user.mfa.verify.success", u, Scope{OrgID: orgID}, meta, map[string]any{"method": method}))
	})
	if errors.Is(err, errSecondFactorRefused) {
		return method, s.secondFactorFailed(ctx, key, u, orgID, method, reason, meta)
	}
	if err != nil {
		return method, err
	}
	if err := s.rdb.Del(ctx, key+":fails").Err(); err != nil {
		s.logger.Warn("reset mfa failures", "error", err)
	}
	return method, nil
}

// checkTOTP opens the stored secret and validates code at now.
func (s *Service) checkTOTP(sec totpSecretRow, code string, now time.Time) (int64, bool, error) {
	secret, err := s.ring.Decrypt(sec.SecretEnc, sec.KeyID, totpAD(sec.UserID))
	if err != nil {
		return 0, false, fmt.Errorf("open totp secret: %w", err)
	}
	return totp.Validate(string(secret), code, now)
}

// secondFactorFailed counts a refused second factor towards the lockout,
// records it and returns ErrInvalidMFACode.
func (s *Service) secondFactorFailed(ctx context.Context, key string, u User, orgID *uuid.UUID, method, reason string, meta RequestMeta) error {
	pipe := s.rdb.TxPipeline()
	incr := pipe.Incr(ctx, key+":fails")
	pipe.ExpireNX(ctx, key+":fails", mfaLockDuration)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	if incr.Val() >= mfaMaxFailures {
		if err := s.rdb.Set(ctx, key+":lock", "1", mfaLockDuration).Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
		}
		s.rdb.Del(ctx, key+":fails")
		s.logger.Warn("mfa verification locked after repeated failures", "user_id", u.ID)
	}
	if err := s.recordSecondFactorFailure(ctx, u, orgID, method, reason, meta); err != nil {
		return err
	}
	return ErrInvalidMFACode
}

// recordSecondFactorFailure writes the attempt and failure audit rows and
// the user.mfa.verify.failed event.
func (s *Service) recordSecondFactorFailure(ctx context.Context, u User, orgID *uuid.UUID, method, reason string, meta RequestMeta) error {
	now := s.nowFunc()
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := NewStore(tx).mfaAuditInsert(ctx,
			s.mfaAuditRow(u, orgID, mfaVerifyAttempt, nil, method, meta, now),
			s.mfaAuditRow(u, orgID, mfaVerifyFailed, refBool(false), "method:"+method+",reason:"+reason, meta, now))
		if err != nil {
			return err
		}
		e := userEvent("user.mfa.verify.failed", u, Scope{OrgID: orgID}, meta, map[string]any{"method": method, "reason": reason})
		e.Success = refBool(false)
		return s.record(ctx, tx, e)
	})
}

// PlatformMFAStatus returns any user's MFA state to a platform owner.
// Errors: ErrPlatformOwnerRequired, ErrUserNotFound.
func (s *Service) PlatformMFAStatus(ctx context.Context, a PlatformActor, userID uuid.UUID) (MFAStatus, error) {
	if !a.IsPlatformOwner {
		return MFAStatus{}, ErrPlatformOwnerRequired
	}
	if _, err := NewStore(s.pool).UserGetByID(ctx, userID); err != nil {
		return MFAStatus{}, err
	}
	return s.MFAStatus(ctx, userID)
}

// ForceDisableMFA deletes a user's TOTP secret and backup codes on a
// platform owner's order (spec §14.2). Disabling enabled MFA is audited on
// the MFA stream (mfa_force_disabled_by_admin), the platform stream
// (force_disable_mfa) and, for tenant users, the organization's
// (user.mfa.disabled, security.mfa.disabled, with the owner as actor). A
// user without MFA is left as is (a pending secret is dropped) and nothing
// is recorded. Errors: ErrPlatformOwnerRequired, ErrUserNotFound.
func (s *Service) ForceDisableMFA(ctx context.Context, a PlatformActor, userID uuid.UUID, meta RequestMeta) error {
	if !a.IsPlatformOwner {
		return ErrPlatformOwnerRequired
	}
	now := s.nowFunc()
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		u, err := st.UserGetByID(ctx, userID)
		if err != nil {
			return err
		}
		_, wasEnabled, err := st.totpDelete(ctx, u.ID)
		if err != nil || !wasEnabled {
			return err
		}
		if err := st.mfaAuditInsert(ctx, s.mfaAuditRow(u, u.OrgID, mfaForceDisabled, refBool(true), "disabled_by_admin:"+a.UserID.String(), meta, now)); err != nil {
			return err
		}
		adminID := a.UserID
		err = s.record(ctx, tx, events.Event{
			Type: platformForceAction, Stream: events.StreamPlatform, ActorID: &adminID, ActorType: events.ActorPlatformOwner,
			TargetType: "user", TargetID: u.ID.String(), IP: meta.IP, UserAgent: meta.UserAgent,
			Details: map[string]any{"user_email": u.Email, "admin_id": a.UserID.String(), "admin_email": a.Email},
		})
		if err != nil {
			return err
		}
		for _, typ := range []string{"user.mfa.disabled", "security.mfa.disabled"} {
			err := s.record(ctx, tx, events.Event{
				Type: typ, OrgID: u.OrgID, ActorID: &adminID, ActorType: events.ActorPlatformOwner,
				TargetType: "user", TargetID: u.ID.String(), IP: meta.IP, UserAgent: meta.UserAgent,
				Details: map[string]any{"method": MFAMethodTOTP, "disabled_by_admin": true},
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// newBackupCodes returns a set of backup codes and their hashes.
func newBackupCodes() (codes, hashes []string, err error) {
	codes, err = totp.GenerateBackupCodes(totp.BackupCodeCount)
	if err != nil {
		return nil, nil, err
	}
	hashes = make([]string, len(codes))
	for i, c := range codes {
		norm, _ := totp.NormalizeBackupCode(c)
		hashes[i] = totp.HashBackupCode(norm)
	}
	return codes, hashes, nil
}
