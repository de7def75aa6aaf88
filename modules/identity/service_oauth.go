package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/modules/identity/internal/oauth"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// stateLifetime is how long an OAuth flow may take (spec §1.9).
const stateLifetime = 10 * time.Minute

// OAuth flow errors. The HTTP layer shows them on the client's redirect
// (#error=...) when the flow has a valid one, else on an error page.
var (
	ErrUnknownProvider         = errors.New("unknown provider")
	ErrProviderNotAvailable    = errors.New("provider not available for this organization")
	ErrInvalidState            = errors.New("invalid or expired state")
	ErrIdentityConflict        = errors.New("provider account already linked to another user")
	ErrProviderEmailUnverified = errors.New("provider did not assert a verified email")
	ErrProviderFailed          = errors.New("provider exchange failed")
	ErrLastIdentity            = errors.New("cannot unlink the last identity")
	ErrIdentityNotFound        = errors.New("identity not found")
)

// ProviderDeniedError is the provider's refusal (the user declined consent,
// or the provider reported another error at the authorize step).
type ProviderDeniedError struct{ Code string }

func (e *ProviderDeniedError) Error() string { return "provider refused: " + e.Code }

// providerOrder is the order providers are listed in.
func providerOrder() []string { return []string{"github", "google", "microsoft"} }

// AvailableProviders are the social providers a login in scope can use:
// the organization's own apps when it brought any, else the platform's
// configured apps; always within what the tier allows. The platform scope
// (administrators) uses the platform's apps.
func (s *Service) AvailableProviders(scope Scope) []string {
	var out []string
	for _, p := range providerOrder() {
		if s.providerAvailable(scope, p) {
			out = append(out, p)
		}
	}
	return out
}

func (s *Service) providerAvailable(scope Scope, p string) bool {
	platform := s.cfg.Providers[p].ClientID != ""
	if scope.IsPlatform() {
		return platform
	}
	if !slices.Contains(scope.AllowedProviders, p) {
		return false
	}
	if len(scope.OwnOAuthProviders) > 0 {
		return slices.Contains(scope.OwnOAuthProviders, p)
	}
	return platform
}

// oauthClient builds the provider client of a scope: the organization's
// own app when it has one for the provider, else the platform's.
func (s *Service) oauthClient(ctx context.Context, scope Scope, provider string) (*oauth.Client, bool, error) {
	pc := s.cfg.Providers[provider]
	cfg := oauth.Config{
		Provider:   oauth.Name(provider),
		Endpoints:  oauth.Endpoints{AuthURL: pc.AuthURL, TokenURL: pc.TokenURL, UserAPIURL: pc.UserAPIURL},
		HTTPClient: s.httpClient,
	}
	if scope.ServiceID != nil {
		cfg.Scopes = scope.ProviderScopes[provider]
	}
	byoo := !scope.IsPlatform() && slices.Contains(scope.OwnOAuthProviders, provider)
	if byoo {
		if s.oauthApps == nil {
			return nil, false, ErrProviderNotAvailable
		}
		id, secret, found, err := s.oauthApps.OrgOAuthCredentials(ctx, *scope.OrgID, provider)
		if err != nil {
			return nil, false, err
		}
		if !found {
			return nil, false, ErrProviderNotAvailable
		}
		cfg.ClientID, cfg.ClientSecret = id, secret
		cfg.RedirectURI = s.cfg.BaseURL + "/auth/" + provider + "/callback"
	} else {
		if pc.ClientID == "" {
			return nil, false, ErrProviderNotAvailable
		}
		cfg.ClientID, cfg.ClientSecret, cfg.RedirectURI = pc.ClientID, pc.ClientSecret, pc.RedirectURI
		if cfg.RedirectURI == "" {
			cfg.RedirectURI = s.cfg.BaseURL + "/auth/" + provider + "/callback"
		}
	}
	c, err := oauth.New(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("oauth client %s: %w", provider, err)
	}
	return c, byoo, nil
}

// StartOAuthInput starts a provider login.
type StartOAuthInput struct {
	Provider             string
	OrgSlug, ServiceSlug string
	RedirectURI          string
	ClientState          string
	// UserCode approves a device code with this login (activation page).
	UserCode string
	// Admin is the platform flow (/auth/admin/:provider): platform apps,
	// platform users.
	Admin bool
	// LinkUser links the provider account to this signed-in user instead
	// of signing in (POST /api/user/identities/:provider/link).
	LinkUser *User
	// LinkScope is the scope of the linking user's session.
	LinkScope Scope
}

// StartedOAuth is where to send the browser, and the value of the cookie
// that binds the flow to it ("" for linking flows, bound to the user).
type StartedOAuth struct {
	AuthURL        string
	BrowserBinding string
}

// StartOAuth validates the request, stores the state (10 minutes, with a
// PKCE verifier sealed at rest) and returns the provider's authorize URL.
func (s *Service) StartOAuth(ctx context.Context, in StartOAuthInput) (StartedOAuth, error) {
	if _, err := oauth.ParseName(in.Provider); err != nil {
		return StartedOAuth{}, ErrUnknownProvider
	}
	if len(in.ClientState) > 512 {
		return StartedOAuth{}, ErrInvalidState
	}
	var scope Scope
	var err error
	switch {
	case in.LinkUser != nil:
		scope = in.LinkScope
		if in.RedirectURI != "" && (scope.ServiceID == nil || scope.RedirectAllowedFunc == nil || !scope.RedirectAllowedFunc(in.RedirectURI)) {
			return StartedOAuth{}, ErrRedirectNotAllowed
		}
	case in.Admin:
		// A platform login returns to a hosted page (next: /admin/...,
		// /invitations/accept?...) with a browser session, or else to the
		// dashboard with tokens in the fragment.
		if in.RedirectURI != "" && platformNext(in.RedirectURI) == "" {
			return StartedOAuth{}, ErrRedirectNotAllowed
		}
	default:
		// The platform CLI's pair (org=platform, service=admin-cli) names no
		// organization: with its user code it is the platform flow.
		if in.UserCode != "" && isPlatformCLI(in.OrgSlug, in.ServiceSlug) {
			if in.RedirectURI != "" {
				return StartedOAuth{}, ErrRedirectNotAllowed
			}
			in.Admin = true
			break
		}
		if in.OrgSlug == "" || in.ServiceSlug == "" {
			return StartedOAuth{}, ErrServiceRequired
		}
		if scope, err = s.resolveScope(ctx, in.OrgSlug, in.ServiceSlug, in.RedirectURI); err != nil {
			return StartedOAuth{}, err
		}
		if scope.ServiceID == nil {
			return StartedOAuth{}, ErrServiceRequired
		}
	}
	userCode := ""
	if in.UserCode != "" {
		dc, err := s.pendingDeviceCode(ctx, in.UserCode)
		if err != nil {
			return StartedOAuth{}, err
		}
		if !dc.matches(scope) {
			return StartedOAuth{}, ErrInvalidUserCode
		}
		userCode = dc.UserCode
	}
	if !s.providerAvailable(scope, in.Provider) {
		return StartedOAuth{}, ErrProviderNotAvailable
	}
	client, byoo, err := s.oauthClient(ctx, scope, in.Provider)
	if err != nil {
		return StartedOAuth{}, err
	}
	state := crypto.RandomToken(32)
	stateHash := crypto.HashToken(state)
	verifier := oauth.NewVerifier()
	sealed, err := s.ring.Seal([]byte(verifier), []byte("oauth_state:"+stateHash))
	if err != nil {
		return StartedOAuth{}, err
	}
	var binding string
	var bindingHash *string
	var linkUserID *uuid.UUID
	if in.LinkUser != nil {
		id := in.LinkUser.ID
		linkUserID = &id
	} else {
		binding = crypto.RandomToken(32)
		h := crypto.HashToken(binding)
		bindingHash = &h
	}
	now := s.nowFunc()
	_, err = s.pool.Exec(ctx, `
		INSERT INTO oauth_states (state_hash, provider, browser_hash, pkce_sealed, org_id, service_id, org_slug, service_slug,
			redirect_uri, client_state, is_admin, link_user_id, device_user_code, byoo, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		stateHash, in.Provider, bindingHash, []byte(sealed), scope.OrgID, scope.ServiceID, scope.OrgSlug, scope.ServiceSlug,
		in.RedirectURI, in.ClientState, in.Admin, linkUserID, userCode, byoo, now, now.Add(stateLifetime))
	if err != nil {
		return StartedOAuth{}, db.MapError(err)
	}
	authURL, err := client.AuthCodeURL(state, verifier, nil)
	if err != nil {
		return StartedOAuth{}, err
	}
	return StartedOAuth{AuthURL: authURL, BrowserBinding: binding}, nil
}

// oauthState is a stored flow, consumed by its callback.
type oauthState struct {
	Provider     string
	BrowserHash  *string
	PKCESealed   []byte
	OrgSlug      string
	ServiceSlug  string
	RedirectURI  string
	ClientState  string
	IsAdmin      bool
	LinkUserID   *uuid.UUID
	UserCode     string
	ExpiresAt    time.Time
	stateHashHex string
}

// CallbackInput is what the provider redirected back with.
type CallbackInput struct {
	Provider string
	Query    url.Values
	// BrowserBinding is the flow cookie the browser presented.
	BrowserBinding string
}

// CallbackOutcome says how the HTTP layer answers a callback.
type CallbackOutcome struct {
	// RedirectURL, when set, is where the browser goes (tokens or the
	// error in the fragment).
	RedirectURL string
	// DeviceApproved: show the activation success page.
	DeviceApproved bool
	// Linked: the provider account was linked to the signed-in user and
	// there is no redirect.
	Linked bool
	// SignedIn: signed in without a redirect URI (no tokens are shown).
	SignedIn bool
	// Err is the failure when there is no redirect to report it on.
	Err error
	// Provider is the provider's name, for pages.
	Provider string
	// MFA is set when the login needs a second factor and has no redirect
	// to hand the pre-auth token to (device approval, hosted platform
	// login): the hosted MFA page continues it.
	MFA *PendingMFA
	// PlatformSession is a platform login's session to set as the browser
	// session cookie before redirecting to RedirectURL (a hosted page).
	PlatformSession *Tokens
}

// OAuthCallback finishes a provider flow. The state is deleted before the
// code is exchanged, so a replayed callback fails; the state must come
// back in the browser that started the flow. Every failure after the
// state was accepted is reported on the flow's redirect URI when it has
// one.
func (s *Service) OAuthCallback(ctx context.Context, in CallbackInput, meta RequestMeta) CallbackOutcome {
	out := CallbackOutcome{Provider: in.Provider}
	raw := in.Query.Get("state")
	if raw == "" || len(raw) > 200 {
		out.Err = ErrInvalidState
		return out
	}
	st, err := s.consumeState(ctx, raw)
	if err != nil || st.Provider != in.Provider || !s.nowFunc().Before(st.ExpiresAt) {
		out.Err = ErrInvalidState
		return out
	}
	if st.BrowserHash != nil && (in.BrowserBinding == "" || !crypto.Equal(crypto.HashToken(in.BrowserBinding), *st.BrowserHash)) {
		out.Err = ErrInvalidState
		return out
	}
	fail := func(err error) CallbackOutcome {
		if st.RedirectURI != "" {
			out.RedirectURL = fragmentURL(st.RedirectURI, errorFragment(err, st.ClientState))
			return out
		}
		out.Err = err
		return out
	}
	if perr := oauth.CallbackError(oauth.Name(st.Provider), in.Query); perr != nil {
		var pe *oauth.ProviderError
		code := "access_denied"
		if errors.As(perr, &pe) && pe.Code != "" && !pe.AccessDenied() {
			code = "server_error"
		}
		return fail(&ProviderDeniedError{Code: code})
	}
	code := in.Query.Get("code")
	if code == "" || len(code) > 4096 {
		return fail(ErrInvalidState)
	}
	scope := Scope{}
	if !st.IsAdmin && st.LinkUserID == nil || st.LinkUserID != nil && st.OrgSlug != "" {
		if scope, err = s.resolveScope(ctx, st.OrgSlug, st.ServiceSlug, st.RedirectURI); err != nil {
			return fail(err)
		}
	}
	verifier, err := s.ring.Open(string(st.PKCESealed), []byte("oauth_state:"+st.stateHashHex))
	if err != nil {
		return fail(err)
	}
	client, _, err := s.oauthClient(ctx, scope, st.Provider)
	if err != nil {
		return fail(err)
	}
	tok, err := client.Exchange(ctx, code, string(verifier))
	if err != nil {
		s.logger.WarnContext(ctx, "oauth code exchange failed", "provider", st.Provider, "error", err)
		return fail(ErrProviderFailed)
	}
	prof, err := client.FetchProfile(ctx, tok)
	if err != nil {
		s.logger.WarnContext(ctx, "oauth profile fetch failed", "provider", st.Provider, "error", err)
		return fail(ErrProviderFailed)
	}
	u, err := s.attachIdentity(ctx, st, scope, prof, tok, meta)
	if err != nil {
		return fail(err)
	}
	method := "oauth:" + st.Provider
	switch {
	case st.LinkUserID != nil:
		if st.RedirectURI != "" {
			out.RedirectURL = fragmentURL(st.RedirectURI, url.Values{"linked": {st.Provider}, "state": nonEmpty(st.ClientState)})
		} else {
			out.Linked = true
		}
		return out
	case st.UserCode != "":
		pending, err := s.approveDevice(ctx, st.UserCode, u, scope, method, meta)
		if err != nil {
			out.Err = err
			return out
		}
		if pending != nil {
			out.MFA = pending
			return out
		}
		out.DeviceApproved = true
		return out
	}
	res, err := s.afterPrimary(ctx, u, scope, method, meta, primaryContext{})
	if err != nil {
		return fail(err)
	}
	if st.IsAdmin && st.RedirectURI != "" {
		// Back to a hosted page: the browser gets the platform session.
		if res.MFARequired {
			out.MFA = &PendingMFA{PreauthToken: res.Tokens.AccessToken, Next: st.RedirectURI}
			return out
		}
		t := res.Tokens
		out.PlatformSession, out.RedirectURL = &t, st.RedirectURI
		return out
	}
	if st.IsAdmin {
		st.RedirectURI = strings.TrimRight(s.cfg.DashboardBaseURL, "/") + "/auth/callback"
	}
	if st.RedirectURI == "" {
		out.SignedIn = true
		return out
	}
	out.RedirectURL = fragmentURL(st.RedirectURI, tokenFragment(res, st.ClientState))
	return out
}

// consumeState deletes and returns a stored flow.
func (s *Service) consumeState(ctx context.Context, raw string) (oauthState, error) {
	h := crypto.HashToken(raw)
	st := oauthState{stateHashHex: h}
	err := s.pool.QueryRow(ctx, `
		DELETE FROM oauth_states WHERE state_hash = $1
		RETURNING provider, browser_hash, pkce_sealed, org_slug, service_slug, redirect_uri, client_state, is_admin,
			link_user_id, device_user_code, expires_at`, h).
		Scan(&st.Provider, &st.BrowserHash, &st.PKCESealed, &st.OrgSlug, &st.ServiceSlug, &st.RedirectURI, &st.ClientState,
			&st.IsAdmin, &st.LinkUserID, &st.UserCode, &st.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthState{}, ErrInvalidState
	}
	return st, db.MapError(err)
}

// attachIdentity finds or creates the user a provider account signs in as,
// and stores the identity with the provider's tokens (encrypted), all in
// one transaction. A provider account attaches to an existing account by
// email only when the provider asserts the address verified; an unverified
// account holding that address loses its password (its holder never
// proved the address), like the owner bootstrap does.
func (s *Service) attachIdentity(ctx context.Context, st oauthState, scope Scope, prof oauth.Profile, tok oauth.Token, meta RequestMeta) (User, error) {
	if prof.ProviderUserID == "" {
		return User{}, ErrProviderFailed
	}
	userOrg := scope.UserOrgID()
	// The identity's scope (spec §3.2): service flows issue service
	// identities; platform (admin) flows platform ones.
	idOrg, idService := scope.OrgID, scope.ServiceID
	if scope.ServiceID == nil {
		idOrg, idService = nil, nil
	}
	now := s.nowFunc()
	var u User
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		store := NewStore(tx)
		var created, linked bool
		owner, err := store.identityOwner(ctx, st.Provider, prof.ProviderUserID, userOrg)
		switch {
		case err == nil && st.LinkUserID != nil && owner != *st.LinkUserID:
			return ErrIdentityConflict
		case err == nil:
			if u, err = store.UserGetByID(ctx, owner); err != nil {
				return err
			}
		case !errors.Is(err, ErrIdentityNotFound):
			return err
		case st.LinkUserID != nil:
			if u, err = store.UserGetByID(ctx, *st.LinkUserID); err != nil {
				return err
			}
			linked = true
		default:
			email, verr := normalizeEmail(prof.Email)
			if verr != nil || !prof.EmailVerified {
				return ErrProviderEmailUnverified
			}
			u, err = store.UserGetByEmail(ctx, userOrg, email)
			switch {
			case errors.Is(err, ErrUserNotFound):
				if u, err = store.UserInsert(ctx, User{ID: newID(), OrgID: userOrg, Email: email, EmailVerifiedAt: &now, CreatedAt: now}); err != nil {
					return err
				}
				created = true
			case err != nil:
				return err
			default:
				linked = true
				if u.EmailVerifiedAt == nil {
					if err := store.userClaimByVerifiedProvider(ctx, u.ID, now); err != nil {
						return err
					}
					u.PasswordHash, u.EmailVerifiedAt = "", &now
					s.logger.WarnContext(ctx, "a verified provider email claimed an unverified account: its password was removed", "user_id", u.ID)
				}
			}
		}
		if err := s.upsertProviderIdentity(ctx, tx, u.ID, st.Provider, prof.ProviderUserID, idOrg, idService, tok, now); err != nil {
			return err
		}
		details := map[string]any{"provider": st.Provider}
		if scope.ServiceID != nil {
			details["service_id"] = scope.ServiceID.String()
		}
		switch {
		case created:
			return s.record(ctx, tx, userEvent("user.signup.success", u, scope, meta, details))
		case linked:
			return s.record(ctx, tx, userEvent("provider_account.linked", u, scope, meta, details))
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if err := s.reloadProfile(ctx, u.ID); err != nil {
		s.logger.WarnContext(ctx, "reload sessions after provider login", "error", err)
	}
	return u, nil
}

// identityOwner returns the user holding a provider account among the
// users of userOrg (nil: platform-level users).
func (st *Store) identityOwner(ctx context.Context, provider, providerUserID string, userOrg *uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := st.db.QueryRow(ctx, `
		SELECT i.user_id FROM identities i JOIN users u ON u.id = i.user_id
		WHERE i.provider = $1 AND i.provider_user_id = $2 AND u.org_id IS NOT DISTINCT FROM $3 AND u.deleted_at IS NULL
		ORDER BY i.created_at LIMIT 1`, provider, providerUserID, userOrg).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, ErrIdentityNotFound
	}
	return id, db.MapError(err)
}

// userClaimByVerifiedProvider marks an unverified account verified and
// removes its password and password identities.
func (st *Store) userClaimByVerifiedProvider(ctx context.Context, userID uuid.UUID, now time.Time) error {
	if _, err := st.db.Exec(ctx, `UPDATE users SET password_hash = NULL, email_verified_at = $2, updated_at = $2 WHERE id = $1`, userID, now); err != nil {
		return db.MapError(err)
	}
	_, err := st.db.Exec(ctx, `DELETE FROM identities WHERE user_id = $1 AND provider = 'password'`, userID)
	return db.MapError(err)
}

// providerTokenAD binds an encrypted provider token to its identity.
func providerTokenAD(userID uuid.UUID, provider string, orgID, serviceID *uuid.UUID, kind string) []byte {
	return []byte("identity_token:" + userID.String() + ":" + provider + ":" + uuidOrNone(orgID) + ":" + uuidOrNone(serviceID) + ":" + kind)
}

func uuidOrNone(id *uuid.UUID) string {
	if id == nil {
		return "none"
	}
	return id.String()
}

// upsertProviderIdentity stores (or refreshes) the user's identity for the
// provider in its scope with the provider's tokens encrypted.
func (s *Service) upsertProviderIdentity(ctx context.Context, tx pgx.Tx, userID uuid.UUID, provider, providerUserID string,
	orgID, serviceID *uuid.UUID, tok oauth.Token, now time.Time) error {
	access, keyID, err := s.ring.EncryptString(tok.AccessToken, string(providerTokenAD(userID, provider, orgID, serviceID, "access")))
	if err != nil {
		return err
	}
	var refresh []byte
	if tok.RefreshToken != "" {
		if refresh, _, err = s.ring.EncryptString(tok.RefreshToken, string(providerTokenAD(userID, provider, orgID, serviceID, "refresh"))); err != nil {
			return err
		}
	}
	var expires *time.Time
	if !tok.Expiry.IsZero() {
		e := tok.Expiry.UTC()
		expires = &e
	}
	scopes := tok.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO identities (id, user_id, provider, provider_user_id, org_id, service_id, access_token_encrypted,
			refresh_token_encrypted, encryption_key_id, expires_at, scopes, last_refreshed_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
		ON CONFLICT (user_id, provider, coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid),
			coalesce(service_id, '00000000-0000-0000-0000-000000000000'::uuid))
		DO UPDATE SET provider_user_id = EXCLUDED.provider_user_id, access_token_encrypted = EXCLUDED.access_token_encrypted,
			refresh_token_encrypted = coalesce(EXCLUDED.refresh_token_encrypted, identities.refresh_token_encrypted),
			encryption_key_id = EXCLUDED.encryption_key_id, expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes,
			last_refreshed_at = EXCLUDED.last_refreshed_at`,
		newID(), userID, provider, providerUserID, orgID, serviceID, access, refresh, keyID, expires, scopes, now)
	if err := db.MapError(err); err != nil {
		if errors.Is(err, db.ErrUnique) {
			return ErrIdentityConflict
		}
		return err
	}
	return nil
}

// fragmentURL appends values as the URL fragment of base (tokens travel in
// the fragment so they never reach servers' logs, spec §2.2).
func fragmentURL(base string, v url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Fragment = ""
	u.RawFragment = ""
	return u.String() + "#" + v.Encode()
}

func nonEmpty(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// tokenFragment is the success hand-off: tokens, or the MFA pre-auth token.
func tokenFragment(r LoginResult, clientState string) url.Values {
	if r.MFARequired {
		return url.Values{"preauth_token": {r.Tokens.AccessToken}, "mfa_required": {"true"}, "state": nonEmpty(clientState)}
	}
	return url.Values{"access_token": {r.Tokens.AccessToken}, "refresh_token": {r.Tokens.RefreshToken},
		"expires_in": {strconv.Itoa(r.Tokens.ExpiresIn)}, "token_type": {"Bearer"}, "state": nonEmpty(clientState)}
}

// errorFragment reports a failure on the client's redirect.
func errorFragment(err error, clientState string) url.Values {
	code, desc := oauthErrorCode(err)
	return url.Values{"error": {code}, "error_description": {desc}, "state": nonEmpty(clientState)}
}

// oauthErrorCode maps a flow failure to an RFC 6749 error code and a safe
// description.
func oauthErrorCode(err error) (string, string) {
	var denied *ProviderDeniedError
	var inactive *OrgNotActiveError
	switch {
	case errors.As(err, &denied):
		if denied.Code == "access_denied" {
			return "access_denied", "The sign-in was cancelled at the provider"
		}
		return "server_error", "The provider reported an error"
	case errors.Is(err, ErrProviderEmailUnverified):
		return "access_denied", "Your provider account has no verified email address"
	case errors.Is(err, ErrIdentityConflict):
		return "access_denied", "This provider account is already linked to another user"
	case errors.Is(err, ErrNoServiceAccess):
		return "access_denied", "You do not have access to this service"
	case errors.Is(err, ErrNotMember):
		return "access_denied", "You are not a member of this organization"
	case errors.Is(err, ErrMAULimit):
		return "access_denied", "Monthly active user limit reached"
	case errors.As(err, &inactive):
		return "access_denied", "Organization is not active"
	case errors.Is(err, ErrInvalidState):
		return "invalid_request", "Invalid or expired state"
	case errors.Is(err, ErrProviderFailed):
		return "server_error", "The provider could not complete the sign-in"
	}
	return "server_error", "Sign-in failed"
}

// identityEvent is a user's own identity change (unlink), on the user's
// organization stream.
func identityEvent(typ string, u User, provider string, meta RequestMeta) events.Event {
	id := u.ID
	return events.Event{Type: typ, OrgID: u.OrgID, ActorID: &id, ActorType: events.ActorUser, TargetType: "user",
		TargetID: u.ID.String(), IP: meta.IP, UserAgent: meta.UserAgent, Details: map[string]any{"provider": provider}}
}

// UnlinkIdentity removes a provider identity of the user in a context
// (spec §3.2); the last identity in the context stays.
//
// Unlinking "password" removes the password login: once no password
// identity is left in any context, the password itself is deleted, so it
// cannot sign in anywhere.
func (s *Service) UnlinkIdentity(ctx context.Context, userID uuid.UUID, orgID, serviceID *uuid.UUID, provider string, meta RequestMeta) error {
	if _, err := oauth.ParseName(provider); err != nil && provider != "password" {
		return ErrIdentityNotFound
	}
	if serviceID == nil {
		orgID = nil
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT provider FROM identities WHERE user_id = $1
			AND org_id IS NOT DISTINCT FROM $2 AND service_id IS NOT DISTINCT FROM $3 FOR UPDATE`, userID, orgID, serviceID)
		if err != nil {
			return db.MapError(err)
		}
		providers, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return db.MapError(err)
		}
		if !slices.Contains(providers, provider) {
			return ErrIdentityNotFound
		}
		if len(providers) <= 1 {
			return ErrLastIdentity
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1 AND provider = $2
			AND org_id IS NOT DISTINCT FROM $3 AND service_id IS NOT DISTINCT FROM $4`, userID, provider, orgID, serviceID); err != nil {
			return db.MapError(err)
		}
		if provider == "password" {
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = NULL, updated_at = $2 WHERE id = $1
				AND NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1 AND provider = 'password')`, userID, s.nowFunc()); err != nil {
				return db.MapError(err)
			}
		}
		u, err := NewStore(tx).UserGetByID(ctx, userID)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, identityEvent("provider_account.unlinked", u, provider, meta))
	})
}
