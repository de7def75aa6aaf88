package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
)

// Session cache: the session row in PostgreSQL is the truth; Redis holds
// its active state so every request on every replica can check it cheaply.
// A Redis miss (restart, eviction) falls back to PostgreSQL and re-caches,
// so losing Redis logs nobody out. Entries live at most sessionCacheTTL, which
// also bounds how stale a cache can be if a revocation could not reach Redis.
const (
	sessionCacheTTL = 5 * time.Minute
	revokedMarker   = "-"
	// refreshGrace is how long after a rotation the rotated token is treated
	// as a lost race (401, session kept) rather than as reuse (session revoked).
	defaultRefreshGrace = 5 * time.Second
)

// SessionConfig holds token lifetimes.
type SessionConfig struct {
	Issuer          string
	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
	RefreshGrace    time.Duration
}

// Sessions issues, validates, rotates and revokes sessions.
type Sessions struct {
	pool    *pgxpool.Pool
	rdb     goredis.UniversalClient
	prefix  string
	issuer  *token.Issuer
	keys    *KeyManager
	cfg     SessionConfig
	logger  *slog.Logger
	nowFunc func() time.Time
}

// activeSession is the cached state of a live session, with the profile
// of its user, so an authenticated request (and GET /api/user) costs one
// Redis read. Changes to the profile drop the user's cached sessions.
type activeSession struct {
	JTI             string     `json:"j"`
	UserID          uuid.UUID  `json:"u"`
	OrgID           *uuid.UUID `json:"o,omitempty"`
	ServiceID       *uuid.UUID `json:"s,omitempty"`
	Email           string     `json:"e"`
	IsPlatformOwner bool       `json:"p,omitempty"`
	EmailVerifiedAt *time.Time `json:"v,omitempty"`
	CreatedAt       time.Time  `json:"c"`
}

func (a activeSession) encode() string {
	b, _ := json.Marshal(a)
	return string(b)
}

func decodeActive(v string) (activeSession, bool) {
	var a activeSession
	if err := json.Unmarshal([]byte(v), &a); err != nil || a.JTI == "" || a.UserID == uuid.Nil {
		return activeSession{}, false
	}
	return a, true
}

func newActive(x Session, u User) activeSession {
	return activeSession{JTI: x.AccessJTI, UserID: x.UserID, OrgID: x.OrgID, ServiceID: x.ServiceID,
		Email: u.Email, IsPlatformOwner: u.IsPlatformOwner, EmailVerifiedAt: u.EmailVerifiedAt, CreatedAt: u.CreatedAt}
}

func (s *Sessions) key(id uuid.UUID) string { return s.prefix + "sess:" + id.String() }

// issued is a freshly minted token pair, not yet stored.
type issued struct {
	access, refresh string
	jti             string
	accessExp       time.Time
	refreshExp      time.Time
}

func (s *Sessions) mint(u User, x Session, withRefresh bool) (issued, error) {
	now := s.nowFunc()
	out := issued{jti: crypto.RandomToken(16), accessExp: now.Add(s.cfg.AccessLifetime), refreshExp: now.Add(s.cfg.RefreshLifetime)}
	c := token.Claims{
		Email: u.Email, IsPlatformOwner: u.IsPlatformOwner, TokenUse: token.UseManagement,
		SessionID: x.ID.String(), Org: x.OrgSlug, Service: x.ServiceSlug,
	}
	c.Issuer = s.cfg.Issuer
	c.Subject = u.ID.String()
	c.Audience = []string{x.Audience}
	c.ID = out.jti
	c.IssuedAt = jwtTime(now)
	c.ExpiresAt = jwtTime(out.accessExp)
	var err error
	if out.access, err = s.issuer.Sign(token.TypeManagement, c); err != nil {
		return out, fmt.Errorf("sign access token: %w", err)
	}
	if withRefresh {
		out.refresh = crypto.RandomToken(32)
	}
	return out, nil
}

// Create starts a session for u in scope inside tx. Call Cache after the
// transaction commits (a miss would also be healed on the first request).
func (s *Sessions) Create(ctx context.Context, tx pgx.Tx, u User, scope Scope, authMethod string, meta RequestMeta) (Tokens, Session, error) {
	now := s.nowFunc()
	x := Session{
		ID: newID(), UserID: u.ID, OrgID: scope.OrgID, ServiceID: scope.ServiceID, OrgSlug: scope.OrgSlug, ServiceSlug: scope.ServiceSlug,
		Audience: token.Audience(scope.OrgSlug, scope.ServiceSlug), AuthMethod: authMethod, IP: meta.IP, UserAgent: truncate(meta.UserAgent, 512), CreatedAt: now,
	}
	t, err := s.mint(u, x, true)
	if err != nil {
		return Tokens{}, x, err
	}
	x.AccessJTI, x.TokenHash, x.AccessExpiresAt, x.RefreshExpiresAt = t.jti, crypto.HashToken(t.access), t.accessExp, &t.refreshExp
	if err := NewStore(tx).SessionInsert(ctx, x, crypto.HashToken(t.refresh)); err != nil {
		return Tokens{}, x, fmt.Errorf("store session: %w", err)
	}
	return Tokens{AccessToken: t.access, RefreshToken: t.refresh, ExpiresIn: int(s.cfg.AccessLifetime.Seconds()), SessionID: x.ID}, x, nil
}

// Cache records a session's current access token as active.
func (s *Sessions) Cache(ctx context.Context, x Session, u User) {
	ttl := min(x.AccessExpiresAt.Sub(s.nowFunc()), sessionCacheTTL)
	if ttl <= 0 {
		return
	}
	a := newActive(x, u)
	if err := s.rdb.Set(ctx, s.key(x.ID), a.encode(), ttl).Err(); err != nil {
		s.logger.Warn("cache session", "error", err)
	}
}

// forget marks revoked sessions in the cache. It must succeed for a
// revocation to take effect before the cache entry expires, so it retries
// and reports failure.
func (s *Sessions) forget(ctx context.Context, ids ...uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	var err error
	for attempt := range 3 {
		pipe := s.rdb.Pipeline()
		for _, id := range ids {
			pipe.Set(ctx, s.key(id), revokedMarker, sessionCacheTTL)
		}
		if _, err = pipe.Exec(ctx); err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return fmt.Errorf("mark sessions revoked in redis: %w", err)
}

// Validate checks that the session named by the access token's claims is
// live and that this token is its current one (a refreshed-away access
// token stops working). It returns the session's org and service.
func (s *Sessions) Validate(ctx context.Context, sid uuid.UUID, jti string) (activeSession, error) {
	v, err := s.rdb.Get(ctx, s.key(sid)).Result()
	switch {
	case err == nil:
		if v == revokedMarker {
			return activeSession{}, ErrSessionRevoked
		}
		a, ok := decodeActive(v)
		if ok {
			if !crypto.Equal(a.JTI, jti) {
				return activeSession{}, ErrSessionRevoked
			}
			return a, nil
		}
	case errors.Is(err, goredis.Nil):
	default:
		s.logger.Warn("session cache unavailable, checking PostgreSQL", "error", err)
	}
	x, u, err := NewStore(s.pool).SessionGetWithUser(ctx, sid)
	if err != nil {
		return activeSession{}, err
	}
	if x.RevokedAt != nil || !s.nowFunc().Before(x.AccessExpiresAt) {
		_ = s.rdb.Set(ctx, s.key(sid), revokedMarker, sessionCacheTTL).Err()
		return activeSession{}, ErrSessionRevoked
	}
	s.Cache(ctx, x, u)
	if !crypto.Equal(x.AccessJTI, jti) {
		return activeSession{}, ErrSessionRevoked
	}
	return newActive(x, u), nil
}

// Reload drops the cached state of every live session of a user, so the
// next request reloads it (with the changed profile) from PostgreSQL.
func (s *Sessions) Reload(ctx context.Context, userID uuid.UUID) error {
	ids, err := NewStore(s.pool).SessionActiveIDs(ctx, userID)
	if err != nil || len(ids) == 0 {
		return err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.key(id)
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("drop cached sessions: %w", err)
	}
	return nil
}

// Revoke ends one session everywhere.
func (s *Sessions) Revoke(ctx context.Context, id uuid.UUID, reason string) error {
	if _, err := NewStore(s.pool).SessionRevoke(ctx, id, reason, s.nowFunc()); err != nil {
		return err
	}
	return s.forget(ctx, id)
}

// RevokeUserTx revokes every session of a user but keep inside tx and
// returns the ids to forget after commit.
func (s *Sessions) RevokeUserTx(ctx context.Context, tx pgx.Tx, userID, keep uuid.UUID, reason string) ([]uuid.UUID, error) {
	return NewStore(tx).SessionRevokeUser(ctx, userID, keep, reason, s.nowFunc())
}

// refreshOutcome is what a refresh did.
type refreshOutcome struct {
	tokens  Tokens
	session Session
	user    User
	reused  *Session // set when a rotated token was replayed and the session revoked
}

// Refresh rotates a refresh token inside its session (family). Exactly one
// of concurrent refreshes with the same token succeeds; the others get
// ErrInvalidRefreshToken. A token rotated away more than the grace period
// ago is reuse: the whole session is revoked.
//
// onReuse runs inside the revoking transaction so the security event is
// recorded atomically with the revocation.
func (s *Sessions) Refresh(ctx context.Context, refresh string, onReuse func(tx pgx.Tx, victim Session) error) (refreshOutcome, error) {
	var out refreshOutcome
	hash := crypto.HashToken(refresh)
	now := s.nowFunc()
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		x, err := st.SessionGetByRefreshHash(ctx, hash)
		if errors.Is(err, ErrInvalidRefreshToken) {
			rot, herr := st.RefreshHistoryGet(ctx, hash)
			if herr != nil {
				return herr
			}
			grace := s.cfg.RefreshGrace
			if grace == 0 {
				grace = defaultRefreshGrace
			}
			if now.Sub(rot.RotatedAt) < grace {
				return ErrInvalidRefreshToken
			}
			victim, gerr := st.SessionGet(ctx, rot.SessionID)
			if gerr != nil {
				return gerr
			}
			if _, err := st.SessionRevoke(ctx, rot.SessionID, "refresh_token_reuse", now); err != nil {
				return err
			}
			out.reused = &victim
			if onReuse != nil {
				return onReuse(tx, victim)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if x.RevokedAt != nil {
			return ErrSessionRevoked
		}
		if x.RefreshExpiresAt == nil || !now.Before(*x.RefreshExpiresAt) {
			return ErrRefreshTokenExpired
		}
		u, err := st.UserGetByID(ctx, x.UserID)
		if err != nil {
			return err
		}
		t, err := s.mint(u, x, true)
		if err != nil {
			return err
		}
		if err := st.SessionRotate(ctx, x.ID, hash, crypto.HashToken(t.refresh), t.jti, crypto.HashToken(t.access), t.accessExp, t.refreshExp, now); err != nil {
			return err
		}
		x.AccessJTI, x.TokenHash, x.AccessExpiresAt, x.RefreshExpiresAt = t.jti, crypto.HashToken(t.access), t.accessExp, &t.refreshExp
		out.tokens = Tokens{AccessToken: t.access, RefreshToken: t.refresh, ExpiresIn: int(s.cfg.AccessLifetime.Seconds()), SessionID: x.ID}
		out.session, out.user = x, u
		return nil
	})
	if err != nil {
		return out, err
	}
	if out.reused != nil {
		if err := s.forget(ctx, out.reused.ID); err != nil {
			s.logger.Error("revoke reused session in cache", "error", err)
		}
		return out, ErrRefreshTokenReused
	}
	s.Cache(ctx, out.session, out.user)
	return out, nil
}

func jwtTime(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }
