package identity

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
)

// EmailRequest is a forgot-password or resend-verification request.
type EmailRequest struct {
	Email                string
	OrgSlug, ServiceSlug string
}

// RequestPasswordReset answers the same whatever the email: the lookup and
// the mail happen in a job, so the request costs the same for unknown
// accounts and reveals nothing.
func (s *Service) RequestPasswordReset(ctx context.Context, in EmailRequest) error {
	return s.enqueueLookup(ctx, in, func(scope Scope, email string) any {
		return SendPasswordResetArgs{OrgID: scope.UserOrgID(), Email: email, OrgSlug: scope.OrgSlug}
	})
}

// RequestVerificationResend is RequestPasswordReset for verification links.
func (s *Service) RequestVerificationResend(ctx context.Context, in EmailRequest) error {
	return s.enqueueLookup(ctx, in, func(scope Scope, email string) any {
		return ResendVerificationArgs{OrgID: scope.UserOrgID(), Email: email, OrgSlug: scope.OrgSlug}
	})
}

func (s *Service) enqueueLookup(ctx context.Context, in EmailRequest, args func(Scope, string) any) error {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return err
	}
	scope, err := s.resolveScope(ctx, in.OrgSlug, in.ServiceSlug, "")
	if err != nil {
		return err
	}
	if !s.cfg.EmailEnabled {
		return ErrEmailDisabled
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		switch a := args(scope, email).(type) {
		case SendPasswordResetArgs:
			_, err = s.queue.InsertTx(ctx, tx, a, nil)
		case ResendVerificationArgs:
			_, err = s.queue.InsertTx(ctx, tx, a, nil)
		}
		return err
	})
}

// ResetPassword consumes a reset token, sets the new password and revokes
// every session of the account.
func (s *Service) ResetPassword(ctx context.Context, raw, newPassword string, meta RequestMeta) error {
	if err := password.Validate(newPassword); err != nil {
		return err
	}
	if raw == "" || len(raw) > 200 {
		return ErrInvalidToken
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	now := s.nowFunc()
	var revoked []uuid.UUID
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		t, err := st.ResetTokenGet(ctx, crypto.HashToken(raw))
		if err != nil {
			return err
		}
		switch {
		case t.UsedAt != nil:
			return ErrTokenUsed
		case !now.Before(t.ExpiresAt):
			return ErrTokenExpired
		}
		if err := st.ResetTokenUse(ctx, t.UserID, now); err != nil {
			return err
		}
		u, err := st.UserGetByID(ctx, t.UserID)
		if err != nil {
			return err
		}
		if err := st.UserSetPassword(ctx, u.ID, hash, now); err != nil {
			return err
		}
		if !u.HasPassword() {
			if err := st.IdentityInsertPassword(ctx, u.ID, Scope{OrgID: u.OrgID}, now); err != nil {
				return err
			}
		}
		// Following the emailed link proves control of the address.
		if u.EmailVerifiedAt == nil {
			if err := st.UserVerifyEmail(ctx, u.ID, u.Email, now); err != nil {
				return err
			}
		}
		if revoked, err = s.sessions.RevokeUserTx(ctx, tx, u.ID, uuid.Nil, "password_reset"); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("security.password.changed", u, Scope{OrgID: u.OrgID}, meta, map[string]any{"method": "reset"}))
	})
	if err != nil {
		return err
	}
	return s.sessions.forget(ctx, revoked...)
}

// ChangePassword checks the current password, sets the new one and revokes
// every other session of the account.
func (s *Service) ChangePassword(ctx context.Context, userID, sessionID uuid.UUID, current, next string, meta RequestMeta) error {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return err
	}
	if !u.HasPassword() {
		return ErrNoPassword
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return ErrWrongPassword
	}
	if err := password.Validate(next); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	return s.replacePassword(ctx, u, sessionID, hash, false, meta)
}

// SetPassword gives an OAuth-only account a password.
func (s *Service) SetPassword(ctx context.Context, userID, sessionID uuid.UUID, next string, meta RequestMeta) error {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.HasPassword() {
		return ErrPasswordAlreadySet
	}
	if err := password.Validate(next); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	return s.replacePassword(ctx, u, sessionID, hash, true, meta)
}

func (s *Service) replacePassword(ctx context.Context, u User, keep uuid.UUID, hash string, onlyIfEmpty bool, meta RequestMeta) error {
	now := s.nowFunc()
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		if onlyIfEmpty {
			set, err := st.UserSetPasswordIfEmpty(ctx, u.ID, hash, now)
			if err != nil {
				return err
			}
			if !set {
				return ErrPasswordAlreadySet
			}
			if err := st.IdentityInsertPassword(ctx, u.ID, Scope{OrgID: u.OrgID}, now); err != nil {
				return err
			}
		} else if err := st.UserSetPassword(ctx, u.ID, hash, now); err != nil {
			return err
		}
		var err error
		if revoked, err = s.sessions.RevokeUserTx(ctx, tx, u.ID, keep, "password_changed"); err != nil {
			return err
		}
		method := "change"
		if onlyIfEmpty {
			method = "set"
		}
		return s.record(ctx, tx, userEvent("security.password.changed", u, Scope{OrgID: u.OrgID}, meta, map[string]any{"method": method}))
	})
	if err != nil {
		return err
	}
	return s.sessions.forget(ctx, revoked...)
}

// isPasswordPolicyErr reports whether err is a password policy violation.
func isPasswordPolicyErr(err error) bool {
	return errors.Is(err, password.ErrTooShort) || errors.Is(err, password.ErrTooLong) || errors.Is(err, password.ErrTooCommon)
}
