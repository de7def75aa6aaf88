package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/mail"
)

// RegisterInput is a password registration.
type RegisterInput struct {
	Email, Password      string
	OrgSlug, ServiceSlug string
	RedirectURI          string
}

// Register creates an unverified account and emails a verification link,
// all in one transaction (the email.send job commits with the user). An
// email that is already registered in the scope gets the same answer and a
// notice mail instead, so registration does not reveal accounts.
func (s *Service) Register(ctx context.Context, in RegisterInput, meta RequestMeta) error {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return err
	}
	if err := password.Validate(in.Password); err != nil {
		return err
	}
	if !s.cfg.EmailEnabled {
		return ErrEmailDisabled
	}
	scope, err := s.resolveScope(ctx, in.OrgSlug, in.ServiceSlug, in.RedirectURI)
	if err != nil {
		return err
	}
	if !scope.IsPlatform() && scope.ServiceID == nil {
		return ErrServiceRequired
	}
	// Hash before looking anything up: both branches cost the same.
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return err
	}
	now := s.nowFunc()
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		existing, err := st.UserGetByEmail(ctx, scope.UserOrgID(), email)
		if err == nil {
			return s.enqueueEmail(ctx, tx, scope.OrgID, existing.Email, mail.TemplateAccountExists, mail.LinkData{
				Branding: mailBranding(scope), Link: s.cfg.DashboardBaseURL + "/forgot-password",
			})
		}
		if !errors.Is(err, ErrUserNotFound) {
			return err
		}
		isOwner := scope.IsPlatform() && s.cfg.OwnerEmail != "" && strings.EqualFold(email, s.cfg.OwnerEmail)
		u, err := st.UserInsert(ctx, User{ID: newID(), OrgID: scope.OrgID, Email: email, IsPlatformOwner: isOwner, PasswordHash: hash, CreatedAt: now})
		if errors.Is(err, ErrEmailTaken) {
			return nil // a concurrent registration won; same answer
		}
		if err != nil {
			return err
		}
		if err := st.IdentityInsertPassword(ctx, u.ID, scope, now); err != nil {
			return err
		}
		if err := s.issueVerification(ctx, tx, u, email, scope); err != nil {
			return err
		}
		details := map[string]any{"provider": "password"}
		if scope.ServiceID != nil {
			details["service_id"] = scope.ServiceID.String()
		}
		return s.record(ctx, tx, userEvent("user.signup.success", u, scope, meta, details))
	})
}

// issueVerification stores a verification token for email and enqueues the mail.
func (s *Service) issueVerification(ctx context.Context, tx pgx.Tx, u User, email string, scope Scope) error {
	raw := crypto.RandomToken(32)
	now := s.nowFunc()
	if err := NewStore(tx).VerificationTokenInsert(ctx, u.ID, email, crypto.HashToken(raw), now.Add(verificationLifetime), now); err != nil {
		return err
	}
	return s.enqueueEmail(ctx, tx, u.OrgID, email, mail.TemplateVerifyEmail, mail.LinkData{
		Branding: mailBranding(scope), Link: s.cfg.BaseURL + "/auth/verify-email?token=" + raw + orgQuery(scope), ExpiresIn: "24 hours",
	})
}

// VerifyEmail consumes a verification token.
func (s *Service) VerifyEmail(ctx context.Context, raw string) error {
	if raw == "" || len(raw) > 200 {
		return ErrInvalidToken
	}
	now := s.nowFunc()
	var userID uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		t, err := st.VerificationTokenGet(ctx, crypto.HashToken(raw))
		if err != nil {
			return err
		}
		switch {
		case t.UsedAt != nil:
			return ErrTokenUsed
		case !now.Before(t.ExpiresAt):
			return ErrTokenExpired
		}
		if err := st.VerificationTokenUse(ctx, t.ID, now); err != nil {
			return err
		}
		userID = t.UserID
		if err := st.UserVerifyEmail(ctx, t.UserID, t.Email, now); err != nil {
			return err
		}
		u, err := st.UserGetByID(ctx, t.UserID)
		if err != nil {
			return err
		}
		if u.OrgID == nil && s.verified != nil {
			return s.verified.EmailVerifiedTx(ctx, tx, u.ID, u.Email)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.reloadProfile(ctx, userID)
}

// reloadProfile makes the user's live sessions pick up a changed profile.
func (s *Service) reloadProfile(ctx context.Context, userID uuid.UUID) error {
	if s.sessions == nil {
		return nil
	}
	return s.sessions.Reload(ctx, userID)
}

// LoginInput is a password login.
type LoginInput struct {
	Email, Password      string
	OrgSlug, ServiceSlug string
	RedirectURI          string
}

// Login authenticates with a password. Every outcome is recorded. Unknown
// accounts cost the same as known ones (dummy verification), failures count
// towards a lockout that answers identically whether or not the password
// was right, and an unverified email is only reported after the password
// matched. The second factor plugs in at afterPrimary.
func (s *Service) Login(ctx context.Context, in LoginInput, meta RequestMeta) (LoginResult, error) {
	scope, err := s.resolveScope(ctx, in.OrgSlug, in.ServiceSlug, in.RedirectURI)
	if err != nil {
		return LoginResult{}, err
	}
	u, err := s.passwordPrimary(ctx, scope, in.Email, in.Password, meta)
	if err != nil {
		return LoginResult{}, err
	}
	return s.afterPrimary(ctx, u, scope, "password", meta, primaryContext{})
}

// passwordPrimary is the password factor of every password login (API,
// hosted pages, device activation).
func (s *Service) passwordPrimary(ctx context.Context, scope Scope, rawEmail, password string, meta RequestMeta) (User, error) {
	email := strings.TrimSpace(rawEmail)
	lockKey := s.lockKey(scope, email)
	locked, err := s.isLocked(ctx, lockKey)
	if err != nil {
		return User{}, err
	}
	if locked {
		s.hasher.DummyVerify(ctx, password)
		return User{}, ErrAccountLocked
	}
	u, err := NewStore(s.pool).UserGetByEmail(ctx, scope.UserOrgID(), email)
	if errors.Is(err, ErrUserNotFound) {
		s.hasher.DummyVerify(ctx, password)
		return User{}, s.loginFailed(ctx, lockKey, nil, scope, meta, "unknown_user")
	}
	if err != nil {
		return User{}, err
	}
	if !u.HasPassword() {
		s.hasher.DummyVerify(ctx, password)
		return User{}, s.loginFailed(ctx, lockKey, &u, scope, meta, "no_password")
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, s.loginFailed(ctx, lockKey, &u, scope, meta, "bad_password")
	}
	if u.EmailVerifiedAt == nil {
		return User{}, ErrEmailNotVerified
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := NewStore(s.pool).UserSetPassword(ctx, u.ID, h, s.nowFunc()); err != nil {
				s.logger.Warn("rehash password", "error", err)
			}
		}
	}
	if err := s.rdb.Del(ctx, lockKey+":fails").Err(); err != nil {
		s.logger.Warn("reset login failures", "error", err)
	}
	return u, nil
}

// issueSession creates the session, the login event and the success event
// in one transaction.
func (s *Service) issueSession(ctx context.Context, u User, scope Scope, method string, meta RequestMeta) (Tokens, error) {
	var toks Tokens
	var sess Session
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if toks, sess, err = s.sessions.Create(ctx, tx, u, scope, method, meta); err != nil {
			return err
		}
		if err := NewStore(tx).LoginEventInsert(ctx, u.ID, scope, method, meta, s.nowFunc()); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("user.login.success", u, scope, meta, map[string]any{"auth_method": method}))
	})
	if err != nil {
		return Tokens{}, err
	}
	s.sessions.Cache(ctx, sess, u)
	return toks, nil
}

func (s *Service) lockKey(scope Scope, email string) string {
	org := "platform"
	if scope.OrgID != nil {
		org = scope.OrgID.String()
	}
	return s.cfg.RedisKeyPrefix + "login:" + org + ":" + crypto.HashToken(strings.ToLower(email))
}

func (s *Service) isLocked(ctx context.Context, key string) (bool, error) {
	if !s.cfg.RateLimits {
		return false, nil
	}
	n, err := s.rdb.Exists(ctx, key+":lock").Result()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	return n > 0, nil
}

// ErrLimiterUnavailable means Redis could not be reached for an abuse
// check; the request fails closed.
var ErrLimiterUnavailable = errors.New("rate limiter unavailable")

// loginFailed counts a failure (locking after LockoutAttempts within the
// lockout window), records the event and returns ErrInvalidCredentials.
func (s *Service) loginFailed(ctx context.Context, key string, u *User, scope Scope, meta RequestMeta, reason string) error {
	if s.cfg.RateLimits {
		pipe := s.rdb.TxPipeline()
		incr := pipe.Incr(ctx, key+":fails")
		pipe.ExpireNX(ctx, key+":fails", s.cfg.LockoutDuration)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
		}
		if incr.Val() >= int64(s.cfg.LockoutAttempts) {
			if err := s.rdb.Set(ctx, key+":lock", "1", s.cfg.LockoutDuration).Err(); err != nil && !errors.Is(err, goredis.Nil) {
				return fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
			}
			s.rdb.Del(ctx, key+":fails")
		}
	}
	failed := false
	e := events.Event{Type: "user.login.failed", OrgID: scope.OrgID, ActorType: events.ActorUser, TargetType: "user",
		IP: meta.IP, UserAgent: meta.UserAgent, Success: &failed, Details: map[string]any{"auth_method": "password", "reason": reason}}
	if u != nil {
		id := u.ID
		e.ActorID, e.TargetID = &id, u.ID.String()
	}
	if err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error { return s.record(ctx, tx, e) }); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// Refresh rotates a refresh token.
func (s *Service) Refresh(ctx context.Context, refresh string, meta RequestMeta) (Tokens, error) {
	out, err := s.sessions.Refresh(ctx, refresh, func(tx pgx.Tx, victim Session) error {
		failed := false
		uid := victim.UserID
		s.logger.Warn("refresh token reuse: session revoked", "session_id", victim.ID, "user_id", victim.UserID)
		return s.record(ctx, tx, events.Event{Type: "user.login.failed", OrgID: victim.OrgID, ActorID: &uid, ActorType: events.ActorUser,
			TargetType: "session", TargetID: victim.ID.String(), IP: meta.IP, UserAgent: meta.UserAgent, Success: &failed,
			Details: map[string]any{"reason": "refresh_token_reuse", "session_id": victim.ID.String()}})
	})
	return out.tokens, err
}

// Logout revokes the caller's session.
func (s *Service) Logout(ctx context.Context, userID, sessionID uuid.UUID, meta RequestMeta) error {
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		x, err := st.SessionGet(ctx, sessionID)
		if err != nil {
			return err
		}
		if _, err := st.SessionRevoke(ctx, sessionID, "logout", s.nowFunc()); err != nil {
			return err
		}
		return s.record(ctx, tx, events.Event{Type: "user.logout", OrgID: x.OrgID, ActorID: &userID, ActorType: events.ActorUser,
			TargetType: "session", TargetID: sessionID.String(), IP: meta.IP, UserAgent: meta.UserAgent})
	})
	if err != nil {
		return err
	}
	return s.sessions.forget(ctx, sessionID)
}

// Revoke implements RFC 7009: it revokes the session behind an access or
// refresh token and never reports whether the token was valid.
func (s *Service) Revoke(ctx context.Context, raw, hint string) {
	if raw == "" || len(raw) > 8192 {
		return
	}
	tryRefresh := func() bool {
		var sid uuid.UUID
		err := s.pool.QueryRow(ctx, `SELECT id FROM sessions WHERE refresh_token_hash = $1 AND revoked_at IS NULL`, crypto.HashToken(raw)).Scan(&sid)
		if err != nil {
			return false
		}
		if err := s.sessions.Revoke(ctx, sid, "revoked"); err != nil {
			s.logger.Warn("revoke session", "error", err)
		}
		return true
	}
	tryAccess := func() bool {
		c, err := s.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
		if err != nil {
			return false
		}
		sid, err := uuid.Parse(c.SessionID)
		if err != nil {
			return false
		}
		if err := s.sessions.Revoke(ctx, sid, "revoked"); err != nil {
			s.logger.Warn("revoke session", "error", err)
		}
		return true
	}
	if hint == "access_token" {
		if !tryAccess() {
			tryRefresh()
		}
		return
	}
	if !tryRefresh() {
		tryAccess()
	}
}
