package app

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
)

// tenancyUsers adapts the identity service to tenancy.Users, translating
// types and errors at the module boundary.
type tenancyUsers struct{ id *identity.Service }

var _ tenancy.Users = tenancyUsers{}

func toUserInfo(u identity.User) tenancy.UserInfo {
	return tenancy.UserInfo{ID: u.ID, Email: u.Email, IsPlatformOwner: u.IsPlatformOwner, CreatedAt: u.CreatedAt}
}

func tenancyUserErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrUserNotFound):
		return tenancy.ErrUserNotFound
	case errors.Is(err, identity.ErrLastPlatformOwner):
		return tenancy.ErrLastPlatformOwner
	}
	return err
}

func (a tenancyUsers) UsersByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]tenancy.UserInfo, error) {
	users, err := a.id.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]tenancy.UserInfo, len(users))
	for k, u := range users {
		out[k] = toUserInfo(u)
	}
	return out, nil
}

func (a tenancyUsers) PlatformUserByEmail(ctx context.Context, email string) (tenancy.UserInfo, error) {
	u, err := a.id.PlatformUserByEmail(ctx, email)
	if err != nil {
		return tenancy.UserInfo{}, tenancyUserErr(err)
	}
	return toUserInfo(u), nil
}

func (a tenancyUsers) ListPlatformUsers(ctx context.Context, limit, offset int) ([]tenancy.UserInfo, int, error) {
	users, total, err := a.id.ListPlatformUsers(ctx, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := make([]tenancy.UserInfo, len(users))
	for i, u := range users {
		out[i] = toUserInfo(u)
	}
	return out, total, nil
}

func (a tenancyUsers) SearchPlatformUsers(ctx context.Context, q string, limit int) ([]tenancy.UserInfo, error) {
	users, err := a.id.SearchPlatformUsers(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]tenancy.UserInfo, len(users))
	for i, u := range users {
		out[i] = toUserInfo(u)
	}
	return out, nil
}

func (a tenancyUsers) GetUser(ctx context.Context, id uuid.UUID) (tenancy.UserInfo, error) {
	u, err := a.id.GetUser(ctx, id)
	if err != nil {
		return tenancy.UserInfo{}, tenancyUserErr(err)
	}
	return toUserInfo(u), nil
}

func (a tenancyUsers) SetPlatformOwnerTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, owner bool) error {
	return tenancyUserErr(a.id.SetPlatformOwnerTx(ctx, tx, id, owner))
}

// tenancySessions adapts identity's session issuing to tenancy.Sessions.
type tenancySessions struct{ id *identity.Service }

var _ tenancy.Sessions = tenancySessions{}

func (a tenancySessions) IssueOrgSession(ctx context.Context, userID, orgID uuid.UUID, orgSlug, ip, userAgent string) (tenancy.Tokens, error) {
	t, err := a.id.IssueOrgSession(ctx, userID, orgID, orgSlug, identity.RequestMeta{IP: ip, UserAgent: userAgent})
	if err != nil {
		return tenancy.Tokens{}, err
	}
	return tenancy.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn}, nil
}

func (a tenancySessions) RevokeOrgSessionsTx(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, userID *uuid.UUID, reason string) ([]uuid.UUID, error) {
	return a.id.RevokeOrgSessionsTx(ctx, tx, orgID, userID, reason)
}

func (a tenancySessions) RevokeServiceSessionsTx(ctx context.Context, tx pgx.Tx, orgID, serviceID uuid.UUID, reason string) ([]uuid.UUID, error) {
	return a.id.RevokeServiceSessionsTx(ctx, tx, orgID, serviceID, reason)
}

func (a tenancySessions) ForgetSessions(ctx context.Context, ids []uuid.UUID) error {
	return a.id.ForgetSessions(ctx, ids)
}

func (a tenancySessions) ReloadUser(ctx context.Context, userID uuid.UUID) error {
	return a.id.ReloadUser(ctx, userID)
}

// identityScopes adapts tenancy to identity.ScopeResolver for org- and
// service-scoped logins and registrations.
type identityScopes struct{ t *tenancy.Service }

var _ identity.ScopeResolver = identityScopes{}

func (a identityScopes) ResolveScope(ctx context.Context, orgSlug, serviceSlug string) (identity.Scope, error) {
	info, err := a.t.ResolveScope(ctx, orgSlug, serviceSlug)
	switch {
	case errors.Is(err, tenancy.ErrOrgNotFound), errors.Is(err, tenancy.ErrServiceNotFound):
		return identity.Scope{}, identity.ErrScopeNotFound
	case err != nil:
		return identity.Scope{}, err
	}
	orgID := info.OrgID
	registered := info.RedirectURIs
	return identity.Scope{
		OrgID: &orgID, OrgSlug: info.OrgSlug, ServiceID: info.ServiceID, ServiceSlug: info.ServiceSlug,
		OrgStatus: string(info.OrgStatus), MaxMAU: info.MaxMAU, AllowOverage: info.AllowOverage,
		RedirectAllowedFunc: func(uri string) bool { return tenancy.MatchRedirectURI(registered, uri) },
		OrgName:             info.OrgName, LogoURL: info.LogoURL, PrimaryColor: info.PrimaryColor,
		ServiceName: info.ServiceName, ServiceType: string(info.ServiceType), AllowedProviders: info.AllowedProviders,
		OwnOAuthProviders: info.OwnOAuthProviders, ClientID: info.ClientID, DeviceActivationURI: info.DeviceActivationURI,
		ProviderScopes: info.ProviderScopes,
	}, nil
}

func (a identityScopes) MembershipRole(ctx context.Context, orgID, userID uuid.UUID) (string, bool, error) {
	role, member, err := a.t.MembershipRole(ctx, orgID, userID)
	return string(role), member, err
}

// invitationAcceptor accepts a platform user's pending invitations when
// their email address is verified (identity.VerificationHook).
type invitationAcceptor struct{ t *tenancy.Service }

var _ identity.VerificationHook = invitationAcceptor{}

func (a invitationAcceptor) EmailVerifiedTx(ctx context.Context, tx pgx.Tx, userID uuid.UUID, email string) error {
	return a.t.AcceptPendingInvitationsTx(ctx, tx, userID, email)
}
