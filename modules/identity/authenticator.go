package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/httpapi"
)

// bearerAuthenticator resolves AuthOS access tokens: signature and claims
// (cached per token until expiry), then the session's live state (Redis,
// falling back to PostgreSQL), so logout and revocation apply on the next
// request on every replica.
type bearerAuthenticator struct{ svc *Service }

var (
	errJWT     = httpapi.NewError(http.StatusUnauthorized, "JWT_ERROR", "Invalid token")
	errExpired = httpapi.NewError(http.StatusUnauthorized, "TOKEN_EXPIRED", "Token expired")
	errSession = httpapi.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Session revoked or expired")
)

// Authenticate implements httpapi.Authenticator.
func (a bearerAuthenticator) Authenticate(ctx context.Context, raw string) (*httpapi.Principal, error) {
	s := a.svc
	if s.issuer == nil {
		return nil, errJWT
	}
	c, err := s.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
	// Only a failure can come from a key this replica has not loaded yet
	// (another replica rotated): reload then, at most once per 10 s, and
	// retry. The hot path (a cached, valid token) never parses the header twice.
	if err != nil && !errors.Is(err, token.ErrExpired) {
		if kid, unknown := s.issuer.UnknownKID(raw); unknown && kid != "" {
			s.keys.ReloadIfStale(ctx, 10*time.Second)
			c, err = s.issuer.Verify(ctx, raw, token.TypeManagement, token.UseManagement)
		}
	}
	if err != nil {
		if errors.Is(err, token.ErrExpired) {
			return nil, errExpired
		}
		return nil, errJWT
	}
	sid, err := uuid.Parse(c.SessionID)
	if err != nil {
		return nil, errJWT
	}
	uid, err := uuid.Parse(c.Subject)
	if err != nil {
		return nil, errJWT
	}
	active, err := s.sessions.Validate(ctx, sid, c.ID)
	if err != nil {
		if errors.Is(err, ErrSessionRevoked) {
			return nil, errSession
		}
		return nil, err
	}
	if active.UserID != uid {
		return nil, errJWT
	}
	// The owner flag and email come from the live session state, not the
	// token: a demotion or email change applies on the next request.
	return &httpapi.Principal{
		Kind: httpapi.PrincipalUser, UserID: uid, SessionID: sid, OrgID: active.OrgID, ServiceID: active.ServiceID,
		IsPlatformOwner: active.IsPlatformOwner, Email: active.Email, TokenUse: c.TokenUse,
		OrgSlug: c.Org, ServiceSlug: c.Service, Details: active,
	}, nil
}
