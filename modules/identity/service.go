package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/redis"
)

// Service holds the identity business rules. Methods take explicit scopes;
// authorization is checked here, not only in the router.
type Service struct {
	pool     *pgxpool.Pool
	rdb      goredis.UniversalClient
	queue    *jobs.Client
	ring     *crypto.KeyRing
	recorder events.Recorder
	scopes   ScopeResolver
	verified VerificationHook
	// unlinked runs inside the transaction of a Service API unlink (billing
	// deletes the user's subscription to the service there).
	unlinked ServiceUnlinkHook
	// oauthApps resolves organizations' own OAuth apps; httpClient talks to
	// the providers.
	oauthApps  OAuthApps
	httpClient *http.Client
	hasher     *password.Hasher
	limiter    *redis.Limiter
	logger     *slog.Logger
	nowFunc    func() time.Time
	cfg        Config

	keys     *KeyManager
	issuer   *token.Issuer
	sessions *Sessions
}

// Token lifetimes of the single-use email tokens.
const (
	verificationLifetime = 24 * time.Hour
	resetLifetime        = time.Hour
)

func (s *Service) start(ctx context.Context) error {
	if err := s.loadKeys(ctx); err != nil {
		return err
	}
	return s.bootstrapOwner(ctx)
}

// loadKeys builds the issuer from the stored signing keys (creating the
// first key when there is none).
func (s *Service) loadKeys(ctx context.Context) error {
	if s.issuer != nil {
		return nil
	}
	km := &KeyManager{pool: s.pool, ring: s.ring, cfg: s.cfg.Keys, logger: s.logger, nowFunc: s.nowFunc}
	set, err := km.loadKeySet(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	issuer, err := token.NewIssuer(s.cfg.BaseURL, set, token.WithClock(s.nowFunc))
	if err != nil {
		return err
	}
	km.issuer = issuer
	km.lastReload = s.nowFunc()
	s.keys, s.issuer = km, issuer
	s.sessions = &Sessions{
		pool: s.pool, rdb: s.rdb, prefix: s.cfg.RedisKeyPrefix, issuer: issuer, keys: km, logger: s.logger, nowFunc: s.nowFunc,
		cfg: SessionConfig{Issuer: s.cfg.BaseURL, AccessLifetime: s.cfg.AccessLifetime, RefreshLifetime: s.cfg.RefreshLifetime},
	}
	return nil
}

// JWKS returns the public key set.
func (s *Service) JWKS() ([]byte, error) { return s.issuer.JWKS() }

// bootstrapOwner creates or promotes the platform owner from
// PLATFORM_OWNER_EMAIL. The password is applied once: an existing password
// is never overwritten.
func (s *Service) bootstrapOwner(ctx context.Context) error {
	email := strings.TrimSpace(s.cfg.OwnerEmail)
	if email == "" {
		return nil
	}
	var hash string
	if s.cfg.OwnerPassword != "" {
		var err error
		if hash, err = s.hasher.Hash(ctx, s.cfg.OwnerPassword); err != nil {
			return err
		}
	}
	now := s.nowFunc()
	var promoted uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(4711001)"); err != nil {
			return err
		}
		u, err := st.UserGetByEmail(ctx, nil, email)
		switch {
		case errors.Is(err, ErrUserNotFound):
			u, err = st.UserInsert(ctx, User{ID: newID(), Email: email, IsPlatformOwner: true, PasswordHash: hash, EmailVerifiedAt: &now, CreatedAt: now})
			if err != nil {
				return err
			}
			if hash != "" {
				if err := st.IdentityInsertPassword(ctx, u.ID, Scope{}, now); err != nil {
					return err
				}
			}
			s.logger.Info("created the platform owner", "email", email)
			return nil
		case err != nil:
			return err
		}
		if u.EmailVerifiedAt == nil {
			// Whoever registered this address first never proved they own
			// it: their password must not become the platform owner's.
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = nullif($2, ''), email_verified_at = $3, updated_at = $3 WHERE id = $1`, u.ID, hash, now); err != nil {
				return db.MapError(err)
			}
			if _, err := st.SessionRevokeUser(ctx, u.ID, uuid.Nil, "owner_bootstrap", now); err != nil {
				return err
			}
			u.PasswordHash = ""
			s.logger.Warn("platform owner email belonged to an unverified account: its password was replaced", "email", email)
		}
		if !u.IsPlatformOwner {
			if err := st.UserPromoteOwner(ctx, u.ID, now); err != nil {
				return err
			}
			promoted = u.ID
			s.logger.Info("promoted the platform owner", "email", email)
		}
		if hash != "" {
			set, err := st.UserSetPasswordIfEmpty(ctx, u.ID, hash, now)
			if err != nil {
				return err
			}
			if set {
				if err := st.IdentityInsertPassword(ctx, u.ID, Scope{}, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || promoted == uuid.Nil {
		return err
	}
	return s.reloadProfile(ctx, promoted)
}

// resolveScope turns org/service slugs into a Scope and applies the
// active-organization gate. redirectURI, when given, must be registered on
// the service.
func (s *Service) resolveScope(ctx context.Context, orgSlug, serviceSlug, redirectURI string) (Scope, error) {
	if orgSlug == "" && serviceSlug == "" {
		if redirectURI != "" {
			return Scope{}, ErrRedirectNotAllowed
		}
		return Scope{}, nil
	}
	if orgSlug == "" {
		return Scope{}, ErrScopeInvalid
	}
	if s.scopes == nil {
		return Scope{}, ErrScopeNotFound
	}
	sc, err := s.scopes.ResolveScope(ctx, orgSlug, serviceSlug)
	if err != nil {
		return Scope{}, err
	}
	if sc.OrgStatus != "active" {
		return Scope{}, &OrgNotActiveError{Status: sc.OrgStatus}
	}
	if redirectURI != "" && (sc.ServiceID == nil || sc.RedirectAllowedFunc == nil || !sc.RedirectAllowedFunc(redirectURI)) {
		return Scope{}, ErrRedirectNotAllowed
	}
	return sc, nil
}

// checkScopeAccess is the scope's authorization after a first factor:
// org-only logins need a membership; service logins need an identity
// registered to that service; service logins also count towards the
// organization's monthly active users.
func (s *Service) checkScopeAccess(ctx context.Context, u User, scope Scope) error {
	switch {
	case scope.IsPlatform():
		return nil
	case scope.ServiceID == nil:
		_, member, err := s.scopes.MembershipRole(ctx, *scope.OrgID, u.ID)
		if err != nil {
			return err
		}
		if !member {
			return ErrNotMember
		}
		return nil
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM identities WHERE user_id = $1 AND org_id = $2 AND service_id = $3`, u.ID, scope.OrgID, scope.ServiceID).Scan(&n)
	if err != nil {
		return db.MapError(err)
	}
	if n == 0 {
		return ErrNoServiceAccess
	}
	return s.checkMAU(ctx, u, scope)
}

// checkMAU refuses a new monthly active user past the tier's cap (users
// already active this month keep signing in). Monthly active users are the
// end users who signed in to one of the organization's services in the
// last 30 days; administrators working in the organization do not count.
func (s *Service) checkMAU(ctx context.Context, u User, scope Scope) error {
	if scope.MaxMAU <= 0 {
		return nil
	}
	var active int
	var known bool
	err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT user_id), coalesce(bool_or(user_id = $2), false)
		FROM login_events WHERE org_id = $1 AND service_id IS NOT NULL AND created_at > $3`, scope.OrgID, u.ID, s.nowFunc().Add(-30*24*time.Hour)).Scan(&active, &known)
	if err != nil {
		return db.MapError(err)
	}
	if known || active < scope.MaxMAU {
		return nil
	}
	if scope.AllowOverage {
		s.logger.Warn("monthly active user limit exceeded (overage allowed)", "org_id", scope.OrgID, "active", active, "max", scope.MaxMAU)
		return nil
	}
	return &MAULimitError{Current: active, Max: scope.MaxMAU}
}

// MAULimitError is ErrMAULimit with the numbers of the reference message.
type MAULimitError struct{ Current, Max int }

func (e *MAULimitError) Error() string { return ErrMAULimit.Error() }

// Is makes errors.Is(err, ErrMAULimit) true.
func (e *MAULimitError) Is(target error) bool { return target == ErrMAULimit }

// normalizeEmail validates an email address and returns it trimmed.
func normalizeEmail(raw string) (string, error) {
	e := strings.TrimSpace(raw)
	if len(e) < 3 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>") {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e, "@") || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// ErrInvalidEmail is returned for malformed email addresses.
var ErrInvalidEmail = errors.New("invalid email format")

func (s *Service) record(ctx context.Context, tx pgx.Tx, e events.Event) error {
	return s.recorder.Record(ctx, tx, e)
}

func userEvent(typ string, u User, scope Scope, meta RequestMeta, details map[string]any) events.Event {
	id := u.ID
	return events.Event{
		Type: typ, OrgID: scope.OrgID, ActorID: &id, ActorType: events.ActorUser, TargetType: "user", TargetID: u.ID.String(),
		IP: meta.IP, UserAgent: meta.UserAgent, Details: details,
	}
}

// enqueueEmail inserts an email.send job in tx.
func (s *Service) enqueueEmail(ctx context.Context, tx pgx.Tx, orgID *uuid.UUID, to, template string, data any) error {
	if s.queue == nil {
		return errors.New("identity: no job queue configured")
	}
	args, err := jobs.NewEmail(s.ring, orgID, to, template, data)
	if err != nil {
		return err
	}
	_, err = s.queue.InsertTx(ctx, tx, args, nil)
	return err
}
