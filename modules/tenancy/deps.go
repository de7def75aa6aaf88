package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UserInfo is what the module needs to know about a platform user.
type UserInfo struct {
	ID              uuid.UUID
	Email           string
	IsPlatformOwner bool
	CreatedAt       time.Time
}

// Users is the module's view of the identity module's accounts. cmd/*
// passes an adapter over the identity service.
type Users interface {
	// UsersByIDs returns the live users among ids; absent ids are left out.
	UsersByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]UserInfo, error)
	// PlatformUserByEmail finds a platform-level user (not an end user of
	// an organization) by email, case-insensitively. It returns
	// ErrUserNotFound when there is none.
	PlatformUserByEmail(ctx context.Context, email string) (UserInfo, error)
	// ListPlatformUsers returns one page of platform-level users, oldest
	// first, and their total count.
	ListPlatformUsers(ctx context.Context, limit, offset int) ([]UserInfo, int, error)
	// SearchPlatformUsers finds platform-level users by email fragment or
	// id, most relevant first.
	SearchPlatformUsers(ctx context.Context, q string, limit int) ([]UserInfo, error)
	// GetUser returns a user, or ErrUserNotFound.
	GetUser(ctx context.Context, id uuid.UUID) (UserInfo, error)
	// SetPlatformOwnerTx promotes or demotes a user inside the caller's
	// transaction, so that the platform audit row commits with it.
	// Demoting the last platform owner returns ErrLastPlatformOwner; an
	// unknown user returns ErrUserNotFound.
	SetPlatformOwnerTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, owner bool) error
}

// Tokens are an issued session's tokens.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
}

// Sessions issues sessions; the identity module implements it.
type Sessions interface {
	// IssueOrgSession starts a session for userID whose access token
	// carries the organization (claim org = orgSlug). The organization row
	// must be committed: sessions reference it.
	IssueOrgSession(ctx context.Context, userID, orgID uuid.UUID, orgSlug string, ip, userAgent string) (Tokens, error)
	// RevokeOrgSessionsTx revokes, in tx, the live sessions scoped to an
	// organization (only userID's when it is not nil) and returns their ids
	// for ForgetSessions after the commit.
	RevokeOrgSessionsTx(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, userID *uuid.UUID, reason string) ([]uuid.UUID, error)
	// RevokeServiceSessionsTx is RevokeOrgSessionsTx for one service.
	RevokeServiceSessionsTx(ctx context.Context, tx pgx.Tx, orgID, serviceID uuid.UUID, reason string) ([]uuid.UUID, error)
	// ForgetSessions makes revoked sessions fail on the next request on
	// every replica.
	ForgetSessions(ctx context.Context, ids []uuid.UUID) error
	// ReloadUser makes a user's live sessions pick up a changed profile
	// (platform-owner flag) on their next request.
	ReloadUser(ctx context.Context, userID uuid.UUID) error
}
