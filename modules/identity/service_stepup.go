package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
)

// preauthLifetime is the MFA pre-auth token's lifetime (spec §1.9).
const preauthLifetime = 5 * time.Minute

// preauthAudience is the audience of pre-auth tokens: only
// /api/auth/mfa/verify accepts them.
const preauthAudience = "authos:mfa"

// Step-up errors.
var (
	ErrInvalidPreauth = errors.New("invalid pre-authentication token")
	ErrPreauthUsed    = errors.New("pre-authentication token already used")
)

// LoginResult is a finished primary login: a session, or, when the user has
// MFA, a pre-auth token (Tokens.AccessToken, no refresh token) that
// /api/auth/mfa/verify exchanges for the session.
type LoginResult struct {
	Tokens      Tokens
	MFARequired bool
}

// primaryContext is what a primary login continues into besides a
// session: a device code to approve.
type primaryContext struct {
	DeviceCodeID string
}

// PendingMFA is a login waiting for its second factor on a hosted page.
type PendingMFA struct {
	PreauthToken string
	// UserCode is the device code being approved, if any (XXXX-XXXX).
	UserCode string
	// Next is the hosted page a platform login continues to.
	Next string
}

// afterPrimary is the one place a login continues after its first factor,
// for every login path (password, provider callback, device approval): the
// scope's access rules, then the second factor when the user has MFA (a
// pre-auth token instead of a session), then the session. A device
// approval gets no session here: its device polls for it.
func (s *Service) afterPrimary(ctx context.Context, u User, scope Scope, method string, meta RequestMeta, pc primaryContext) (LoginResult, error) {
	if err := s.checkScopeAccess(ctx, u, scope); err != nil {
		return LoginResult{}, err
	}
	on, err := s.mfaEnabled(ctx, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	if on {
		raw, err := s.issuePreauth(u, scope, pc)
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{Tokens: Tokens{AccessToken: raw, ExpiresIn: int(preauthLifetime / time.Second)}, MFARequired: true}, nil
	}
	if pc.DeviceCodeID != "" {
		return LoginResult{}, nil
	}
	toks, err := s.issueSession(ctx, u, scope, method, meta)
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Tokens: toks}, nil
}

// issuePreauth signs the pre-auth token carrying the login's context.
func (s *Service) issuePreauth(u User, scope Scope, pc primaryContext) (string, error) {
	now := s.nowFunc()
	c := token.Claims{Email: u.Email, IsPlatformOwner: u.IsPlatformOwner, TokenUse: token.UseMFAPreauth,
		Org: scope.OrgSlug, Service: scope.ServiceSlug, MFARequired: true, DeviceCodeID: pc.DeviceCodeID}
	c.Subject = u.ID.String()
	c.Audience = []string{preauthAudience}
	c.ID = crypto.RandomToken(16)
	c.IssuedAt = jwtTime(now)
	c.ExpiresAt = jwtTime(now.Add(preauthLifetime))
	raw, err := s.issuer.Sign(token.TypeMFAPreauth, c)
	if err != nil {
		return "", fmt.Errorf("sign pre-auth token: %w", err)
	}
	return raw, nil
}

// MFAOutcome is a completed second factor: a session, or an approved
// device (its device polls for the session).
type MFAOutcome struct {
	Tokens         Tokens
	DeviceApproved bool
	// User and Scope are the completed login's.
	User  User
	Scope Scope
}

// sameAs reports whether s names the same organization and service as o.
func (s Scope) sameAs(o Scope) bool {
	eq := func(a, b *uuid.UUID) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	return eq(s.OrgID, o.OrgID) && eq(s.ServiceID, o.ServiceID)
}

// CompleteMFA verifies the second factor of a pending login and finishes
// the context the primary login had (organization, service, device code).
// A pre-auth token completes once: a concurrent or later second use is
// refused, while a wrong code leaves it usable until it expires (the MFA
// failure counter bounds guessing).
func (s *Service) CompleteMFA(ctx context.Context, preauth, code, deviceCodeID string, meta RequestMeta) (MFAOutcome, error) {
	return s.completeMFA(ctx, preauth, code, deviceCodeID, nil, meta)
}

// completeMFA is CompleteMFA; expect, when set, must accept the pending
// login (its scope, and whether it approves a device) before the code is
// checked, so a hosted page never completes a login it did not start.
func (s *Service) completeMFA(ctx context.Context, preauth, code, deviceCodeID string, expect func(scope Scope, device bool) bool, meta RequestMeta) (MFAOutcome, error) {
	if preauth == "" || len(preauth) > token.MaxTokenLength {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	c, err := s.issuer.Verify(ctx, preauth, token.TypeMFAPreauth, token.UseMFAPreauth, preauthAudience)
	if err != nil || !c.MFARequired || c.ExpiresAt == nil {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	if deviceCodeID != "" && deviceCodeID != c.DeviceCodeID {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	userID, err := uuid.Parse(c.Subject)
	if err != nil {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	ttl := time.Until(c.ExpiresAt.Time) + time.Minute
	usedKey := s.cfg.RedisKeyPrefix + "preauth:used:" + c.ID
	lockKey := s.cfg.RedisKeyPrefix + "preauth:lock:" + c.ID
	// The lock makes concurrent submissions of one token take turns; the
	// used marker makes a completed token worthless.
	got, err := s.rdb.SetNX(ctx, lockKey, "1", 30*time.Second).Result()
	if err != nil {
		return MFAOutcome{}, fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	if !got {
		return MFAOutcome{}, ErrPreauthUsed
	}
	defer s.rdb.Del(context.WithoutCancel(ctx), lockKey)
	n, err := s.rdb.Exists(ctx, usedKey).Result()
	if err != nil {
		return MFAOutcome{}, fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	if n > 0 {
		return MFAOutcome{}, ErrPreauthUsed
	}
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	scope, err := s.resolveScope(ctx, c.Org, c.Service, "")
	if err != nil {
		return MFAOutcome{}, err
	}
	if expect != nil && !expect(scope, c.DeviceCodeID != "") {
		return MFAOutcome{}, ErrInvalidPreauth
	}
	if _, err := s.verifySecondFactor(ctx, u, scope.OrgID, code, meta); err != nil {
		return MFAOutcome{}, err
	}
	if err := s.rdb.Set(ctx, usedKey, "1", ttl).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return MFAOutcome{}, fmt.Errorf("%w: %w", ErrLimiterUnavailable, err)
	}
	if c.DeviceCodeID != "" {
		id, err := uuid.Parse(c.DeviceCodeID)
		if err != nil {
			return MFAOutcome{}, ErrInvalidPreauth
		}
		if err := s.authorizeDevice(ctx, id, u.ID); err != nil {
			return MFAOutcome{}, err
		}
		return MFAOutcome{DeviceApproved: true, User: u, Scope: scope}, nil
	}
	toks, err := s.issueSession(ctx, u, scope, "mfa", meta)
	if err != nil {
		return MFAOutcome{}, err
	}
	return MFAOutcome{Tokens: toks, User: u, Scope: scope}, nil
}
