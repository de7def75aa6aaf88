package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/modules/identity/internal/oauth"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// Provider token refresh windows (spec §3.2, §1.13): a token handed to a
// service is refreshed first when it expires within providerTokenLeeway;
// the background job refreshes the tokens expiring within
// providerRefreshHorizon.
const (
	providerTokenLeeway    = 5 * time.Minute
	providerRefreshHorizon = time.Hour
	// providerRefreshBatch bounds the identities one background run
	// refreshes; the next run takes the rest.
	providerRefreshBatch = 200
	// providerRefreshTimeout bounds one refresh: the provider call (at most
	// oauth.RequestTimeout) and the update, with the identity row locked.
	providerRefreshTimeout = 30 * time.Second
)

// Provider token errors. The HTTP layer maps them to the reference's
// statuses and messages.
var (
	// ErrProviderTokenContext: provider tokens are only handed out to
	// service-scoped sessions.
	ErrProviderTokenContext = errors.New("provider tokens can only be requested in service context")
	// ErrProviderScopesMissing: the service configured no scopes for the
	// provider, so it has no business with the user's provider token.
	ErrProviderScopesMissing = errors.New("service has no scopes configured for the provider")
	// ErrProviderReauthRequired: the stored token has expired and cannot be
	// refreshed (no refresh token, or the provider revoked it); the user
	// must sign in with the provider again.
	ErrProviderReauthRequired = errors.New("provider authorization expired")
	// ErrProviderRefreshFailed: the provider could not refresh an expired
	// token right now (network, provider or app configuration problem).
	ErrProviderRefreshFailed = errors.New("provider token refresh failed")
)

// ProviderToken is a provider access token handed to the service the
// caller is signed in to. The refresh token never leaves the server.
type ProviderToken struct {
	Provider    string
	AccessToken string
	// ExpiresAt is nil when the provider did not say (GitHub).
	ExpiresAt *time.Time
	Scopes    []string
}

// providerIdentity is an identities row with its provider tokens.
type providerIdentity struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	Provider   string
	OrgID      *uuid.UUID
	ServiceID  *uuid.UUID
	AccessEnc  []byte
	RefreshEnc []byte
	KeyID      *string
	ExpiresAt  *time.Time
	Scopes     []string
}

// dueWithin reports whether the access token expires within d of now.
func (pi providerIdentity) dueWithin(now time.Time, d time.Duration) bool {
	return pi.ExpiresAt != nil && pi.ExpiresAt.Before(now.Add(d))
}

// refreshable reports whether a refresh can be attempted at all.
func (pi providerIdentity) refreshable() bool {
	return oauth.Name(pi.Provider).Refreshable() && len(pi.RefreshEnc) > 0
}

const providerIdentityColumns = `id, user_id, provider, org_id, service_id, access_token_encrypted,
	refresh_token_encrypted, encryption_key_id, expires_at, scopes`

func scanProviderIdentity(row pgx.Row) (providerIdentity, error) {
	var pi providerIdentity
	err := row.Scan(&pi.ID, &pi.UserID, &pi.Provider, &pi.OrgID, &pi.ServiceID, &pi.AccessEnc, &pi.RefreshEnc,
		&pi.KeyID, &pi.ExpiresAt, &pi.Scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return providerIdentity{}, ErrIdentityNotFound
	}
	return pi, db.MapError(err)
}

// ProviderTokenCaller is who asks for a provider token (GET
// /api/provider-token/{provider}): the user, the org and service of the
// session's token, and the provider.
type ProviderTokenCaller struct {
	UserID               uuid.UUID
	OrgID, ServiceID     *uuid.UUID
	OrgSlug, ServiceSlug string
	Provider             string
	Meta                 RequestMeta
}

// ProviderToken returns the caller's provider access token for the service
// of its session (spec §3.2). The service must have scopes configured for
// the provider and the user an identity of that provider scoped to the
// service. A Google or Microsoft token expiring within five minutes is
// refreshed first with the organization's own OAuth app or the platform's
// (concurrent refreshes of one identity are serialised by a row lock) and
// the refresh is recorded as provider_token.refreshed.
//
// Errors: ErrProviderTokenContext, ErrUnknownProvider,
// ErrProviderScopesMissing, ErrIdentityNotFound, ErrProviderReauthRequired
// (expired and not refreshable), ErrProviderRefreshFailed, and the scope
// errors of an unknown or inactive organization.
func (s *Service) ProviderToken(ctx context.Context, in ProviderTokenCaller) (ProviderToken, error) {
	if in.ServiceID == nil || in.OrgID == nil {
		return ProviderToken{}, ErrProviderTokenContext
	}
	if _, err := oauth.ParseName(in.Provider); err != nil {
		return ProviderToken{}, ErrUnknownProvider
	}
	scope, err := s.resolveScope(ctx, in.OrgSlug, in.ServiceSlug, "")
	if err != nil {
		return ProviderToken{}, err
	}
	// The token's slugs must still name the token's service.
	if scope.ServiceID == nil || *scope.ServiceID != *in.ServiceID || scope.OrgID == nil || *scope.OrgID != *in.OrgID {
		return ProviderToken{}, ErrScopeNotFound
	}
	if len(scope.ProviderScopes[in.Provider]) == 0 {
		return ProviderToken{}, ErrProviderScopesMissing
	}
	pi, err := scanProviderIdentity(s.pool.QueryRow(ctx, `SELECT `+providerIdentityColumns+` FROM identities
		WHERE user_id = $1 AND provider = $2 AND org_id = $3 AND service_id = $4`,
		in.UserID, in.Provider, in.OrgID, in.ServiceID))
	if err != nil {
		return ProviderToken{}, err
	}
	if len(pi.AccessEnc) == 0 {
		return ProviderToken{}, ErrIdentityNotFound
	}
	now := s.nowFunc()
	if pi.dueWithin(now, providerTokenLeeway) && pi.refreshable() {
		actor := in.UserID
		res, _, err := s.refreshProviderIdentity(ctx, pi.ID, scope, providerTokenLeeway, &actor, in.Meta)
		switch {
		case err != nil && pi.ExpiresAt.After(now):
			// The token still works for a few minutes: hand it out and let
			// the next request (or the background job) refresh it.
			s.logger.WarnContext(ctx, "provider token refresh failed; serving the current token",
				"identity_id", pi.ID, "provider", pi.Provider, "error", err)
		case err != nil:
			return ProviderToken{}, err
		default:
			pi = res
		}
	}
	if pi.ExpiresAt != nil && !pi.ExpiresAt.After(now) && !pi.refreshable() {
		return ProviderToken{}, ErrProviderReauthRequired
	}
	access, err := s.ring.DecryptString(pi.AccessEnc, pi.keyID(), string(providerTokenAD(pi.UserID, pi.Provider, pi.OrgID, pi.ServiceID, "access")))
	if err != nil {
		return ProviderToken{}, fmt.Errorf("decrypt provider access token: %w", err)
	}
	scopes := pi.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return ProviderToken{Provider: pi.Provider, AccessToken: access, ExpiresAt: pi.ExpiresAt, Scopes: scopes}, nil
}

// keyID is the id of the key the tokens are encrypted with.
func (pi providerIdentity) keyID() string {
	if pi.KeyID == nil {
		return ""
	}
	return *pi.KeyID
}

// refreshProviderIdentity refreshes the provider tokens of identity id when
// they still expire within window once its row is locked (another refresh
// may have run meanwhile), and returns the row as stored afterwards and
// whether this call refreshed it. The
// row stays locked (SELECT ... FOR UPDATE) during the provider call, so
// concurrent refreshes of one identity run one after the other and the
// later ones find the fresh token; the call runs detached from ctx's
// cancellation (bounded by providerRefreshTimeout) so that a rotated
// refresh token is never lost to a client that went away.
//
// An actor (the user asking for the token) records provider_token.refreshed
// in the same transaction; background refreshes (nil actor) are not
// audited. When the provider answers invalid_grant the refresh token is
// dead: it is removed (committed) and ErrProviderReauthRequired returned,
// so the identity is not retried until the user signs in again. Other
// failures wrap ErrProviderRefreshFailed and change nothing.
func (s *Service) refreshProviderIdentity(ctx context.Context, id uuid.UUID, scope Scope, window time.Duration,
	actor *uuid.UUID, meta RequestMeta) (providerIdentity, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), providerRefreshTimeout)
	defer cancel()
	var out providerIdentity
	var revoked, refreshed bool
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		pi, err := scanProviderIdentity(tx.QueryRow(ctx, `SELECT `+providerIdentityColumns+` FROM identities WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		out = pi
		now := s.nowFunc()
		if !pi.dueWithin(now, window) || !pi.refreshable() {
			return nil
		}
		refreshToken, err := s.ring.DecryptString(pi.RefreshEnc, pi.keyID(), string(providerTokenAD(pi.UserID, pi.Provider, pi.OrgID, pi.ServiceID, "refresh")))
		if err != nil {
			return fmt.Errorf("decrypt provider refresh token: %w", err)
		}
		client, _, err := s.oauthClient(ctx, scope, pi.Provider)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProviderRefreshFailed, err)
		}
		tok, err := client.Refresh(ctx, refreshToken)
		if isInvalidGrant(err) {
			revoked = true
			if _, err := tx.Exec(ctx, `UPDATE identities SET refresh_token_encrypted = NULL WHERE id = $1`, pi.ID); err != nil {
				return db.MapError(err)
			}
			out.RefreshEnc = nil
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProviderRefreshFailed, err)
		}
		if tok.RefreshToken == "" {
			tok.RefreshToken = refreshToken // Google keeps the refresh token
		}
		if len(tok.Scopes) == 0 {
			tok.Scopes = pi.Scopes
		}
		if out, err = s.storeRefreshedTokens(ctx, tx, pi, tok, now); err != nil {
			return err
		}
		refreshed = true
		if actor == nil {
			return nil
		}
		return s.record(ctx, tx, events.Event{
			Type: "provider_token.refreshed", OrgID: pi.OrgID, ActorID: actor, ActorType: events.ActorUser,
			TargetType: "user", TargetID: pi.UserID.String(), IP: meta.IP, UserAgent: meta.UserAgent,
			Details: map[string]any{"provider": pi.Provider, "service_id": uuidOrNone(pi.ServiceID)},
		})
	})
	switch {
	case err != nil:
		return providerIdentity{}, false, err
	case revoked:
		return out, false, ErrProviderReauthRequired
	}
	return out, refreshed, nil
}

// storeRefreshedTokens writes refreshed tokens, both encrypted with the
// active key (the row has one encryption_key_id), and returns the row.
func (s *Service) storeRefreshedTokens(ctx context.Context, tx pgx.Tx, pi providerIdentity, tok oauth.Token, now time.Time) (providerIdentity, error) {
	access, keyID, err := s.ring.EncryptString(tok.AccessToken, string(providerTokenAD(pi.UserID, pi.Provider, pi.OrgID, pi.ServiceID, "access")))
	if err != nil {
		return providerIdentity{}, err
	}
	refresh, _, err := s.ring.EncryptString(tok.RefreshToken, string(providerTokenAD(pi.UserID, pi.Provider, pi.OrgID, pi.ServiceID, "refresh")))
	if err != nil {
		return providerIdentity{}, err
	}
	var expires *time.Time
	if !tok.Expiry.IsZero() {
		e := tok.Expiry.UTC()
		expires = &e
	}
	scopes := slices.Clone(tok.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET access_token_encrypted = $2, refresh_token_encrypted = $3,
		encryption_key_id = $4, expires_at = $5, scopes = $6, last_refreshed_at = $7 WHERE id = $1`,
		pi.ID, access, refresh, keyID, expires, scopes, now); err != nil {
		return providerIdentity{}, db.MapError(err)
	}
	pi.AccessEnc, pi.RefreshEnc, pi.KeyID, pi.ExpiresAt, pi.Scopes = access, refresh, &keyID, expires, scopes
	return pi, nil
}

// isInvalidGrant reports whether the provider refused the refresh token
// itself (expired, revoked, or issued to another client).
func isInvalidGrant(err error) bool {
	var pe *oauth.ProviderError
	return errors.As(err, &pe) && pe.Code == "invalid_grant"
}

// ProviderRefreshStats counts what one background refresh run did.
type ProviderRefreshStats struct {
	// Refreshed identities got new tokens; Revoked ones had their refresh
	// token refused (invalid_grant) and removed; Failed ones are retried
	// by the next run.
	Refreshed, Revoked, Failed int
}

// RefreshProviderTokens is the background refresh (spec §1.13): it
// refreshes up to providerRefreshBatch Google and Microsoft tokens of
// service identities that expire within the hour, soonest first, one at a
// time. A failure is logged per identity and never stops the run; an
// identity whose refresh token the provider refused loses it, so it is not
// retried every hour. The error is only for the query that finds the
// identities, or ctx ending.
func (s *Service) RefreshProviderTokens(ctx context.Context) (ProviderRefreshStats, error) {
	var st ProviderRefreshStats
	rows, err := s.pool.Query(ctx, `
		SELECT i.id, i.provider, i.org_id, i.service_id FROM identities i JOIN users u ON u.id = i.user_id
		WHERE i.provider IN ('google', 'microsoft') AND i.service_id IS NOT NULL
			AND i.refresh_token_encrypted IS NOT NULL AND i.expires_at < $1 AND u.deleted_at IS NULL
		ORDER BY i.expires_at LIMIT $2`, s.nowFunc().Add(providerRefreshHorizon), providerRefreshBatch)
	if err != nil {
		return st, fmt.Errorf("list provider tokens to refresh: %w", db.MapError(err))
	}
	type due struct {
		id               uuid.UUID
		provider         string
		orgID, serviceID *uuid.UUID
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		return d, r.Scan(&d.id, &d.provider, &d.orgID, &d.serviceID)
	})
	if err != nil {
		return st, fmt.Errorf("list provider tokens to refresh: %w", db.MapError(err))
	}
	own := map[string]bool{} // org/provider -> the org brought its own app
	for _, d := range list {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		var refreshed bool
		scope, err := s.refreshScope(ctx, d.orgID, d.serviceID, d.provider, own)
		if err == nil {
			_, refreshed, err = s.refreshProviderIdentity(ctx, d.id, scope, providerRefreshHorizon, nil, RequestMeta{})
		}
		switch {
		case err == nil && refreshed:
			st.Refreshed++
		case err == nil:
			// Refreshed by a request meanwhile.
		case errors.Is(err, ErrProviderReauthRequired):
			st.Revoked++
			s.logger.InfoContext(ctx, "provider refused a refresh token; the user must sign in again",
				"identity_id", d.id, "provider", d.provider)
		case errors.Is(err, ErrIdentityNotFound):
			// Unlinked meanwhile.
		default:
			st.Failed++
			s.logger.WarnContext(ctx, "provider token refresh failed", "identity_id", d.id, "provider", d.provider, "error", err)
		}
	}
	return st, nil
}

// refreshScope is the scope whose OAuth app refreshes a service identity's
// tokens: the organization's own app for the provider when it has one,
// else the platform's. own caches the answer per organization and provider.
func (s *Service) refreshScope(ctx context.Context, orgID, serviceID *uuid.UUID, provider string, own map[string]bool) (Scope, error) {
	scope := Scope{OrgID: orgID, ServiceID: serviceID}
	if orgID == nil || s.oauthApps == nil {
		return scope, nil
	}
	key := orgID.String() + "/" + provider
	byoo, ok := own[key]
	if !ok {
		_, _, found, err := s.oauthApps.OrgOAuthCredentials(ctx, *orgID, provider)
		if err != nil {
			return Scope{}, err
		}
		byoo, own[key] = found, found
	}
	if byoo {
		scope.OwnOAuthProviders = []string{provider}
	}
	return scope, nil
}
