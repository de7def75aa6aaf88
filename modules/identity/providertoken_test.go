package identity_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

const (
	ptClientRedirect = "https://client.example/callback"
	ptPlatformID     = "platform-app"
	ptPlatformSecret = "platform-app-secret"
	ptGlobexID       = "globex-google-app"
	ptGlobexSecret   = "globex-google-secret"
)

// ptScopes resolves the provider token harness's services.
type ptScopes struct{ scopes map[string]identity.Scope }

func (s ptScopes) ResolveScope(_ context.Context, orgSlug, serviceSlug string) (identity.Scope, error) {
	sc, ok := s.scopes[orgSlug+"/"+serviceSlug]
	if !ok {
		return identity.Scope{}, identity.ErrScopeNotFound
	}
	return sc, nil
}

func (ptScopes) MembershipRole(context.Context, uuid.UUID, uuid.UUID) (string, bool, error) {
	return "", false, nil
}

// ptApps is the organizations' own OAuth apps: globex brought a Google app.
type ptApps struct{ globex uuid.UUID }

func (a ptApps) OrgOAuthCredentials(_ context.Context, orgID uuid.UUID, provider string) (string, string, bool, error) {
	if orgID == a.globex && provider == "google" {
		return ptGlobexID, ptGlobexSecret, true, nil
	}
	return "", "", false, nil
}

// ptBundle is an identity module whose social logins run against the fake
// provider, with three services:
//   - acme/web-app asks every provider for scopes;
//   - acme/plain-app configured no provider scopes;
//   - globex/web-app uses globex's own Google app.
type ptBundle struct {
	*testBundle
	fake             *fakeoauth.Server
	api              *app
	acme, globex     uuid.UUID
	web, plain, gWeb uuid.UUID
	webScopes        map[string][]string
	noFollow         *http.Client
}

func setupProviderTokens(t *testing.T) *ptBundle {
	t.Helper()
	b := &ptBundle{testBundle: setup(t), fake: fakeoauth.Start(t)}
	b.fake.SetClock(b.clock.Now)
	var callbacks []string
	providers := map[string]identity.ProviderConfig{}
	for _, p := range []string{"github", "google", "microsoft"} {
		callbacks = append(callbacks, testBaseURL+"/auth/"+p+"/callback")
		authURL, tokenURL, userURL := b.fake.Endpoints(p)
		providers[p] = identity.ProviderConfig{ClientID: ptPlatformID, ClientSecret: ptPlatformSecret, AuthURL: authURL, TokenURL: tokenURL, UserAPIURL: userURL}
	}
	b.fake.RegisterClient(ptPlatformID, ptPlatformSecret, callbacks...)
	b.fake.RegisterClient(ptGlobexID, ptGlobexSecret, testBaseURL+"/auth/google/callback")

	b.acme, b.globex = b.ptOrg(t, "acme"), b.ptOrg(t, "globex")
	b.web, b.plain, b.gWeb = b.ptService(t, b.acme, "web-app"), b.ptService(t, b.acme, "plain-app"), b.ptService(t, b.globex, "web-app")
	b.webScopes = map[string][]string{
		"github":    {"user:email", "repo"},
		"google":    {"openid", "email", "profile", "https://www.googleapis.com/auth/calendar.readonly"},
		"microsoft": {"User.Read", "email", "openid", "profile", "Calendars.Read"},
	}
	all := []string{"github", "google", "microsoft"}
	allowed := func(uri string) bool { return uri == ptClientRedirect }
	scope := func(org uuid.UUID, orgSlug string, svc uuid.UUID, svcSlug string, own []string, ps map[string][]string) identity.Scope {
		return identity.Scope{OrgID: &org, OrgSlug: orgSlug, ServiceID: &svc, ServiceSlug: svcSlug, OrgStatus: "active",
			AllowedProviders: all, OwnOAuthProviders: own, ProviderScopes: ps, RedirectAllowedFunc: allowed}
	}

	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := identity.Config{
		BaseURL: testBaseURL, DashboardBaseURL: testDashboardURL, Argon2MemoryKiB: 8192, Argon2Iterations: 1,
		EmailEnabled: true, RedisKeyPrefix: b.prefix, Providers: providers,
	}
	mod, err := identity.New(identity.Deps{
		Pool: b.pool, Redis: b.rdb, Queue: b.queue, KeyRing: b.ring, Recorder: b.events, Logger: logger,
		NowFunc: b.clock.Now, Config: cfg, HTTPClient: outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, 10*time.Second),
	})
	require.NoError(t, err)
	require.NoError(t, mod.Start(t.Context()))
	mod.SetScopes(ptScopes{scopes: map[string]identity.Scope{
		"acme/web-app":   scope(b.acme, "acme", b.web, "web-app", nil, b.webScopes),
		"acme/plain-app": scope(b.acme, "acme", b.plain, "plain-app", nil, map[string][]string{"github": {}, "google": {}, "microsoft": {}}),
		"globex/web-app": scope(b.globex, "globex", b.gWeb, "web-app", []string{"google"}, b.webScopes),
	}})
	mod.SetOAuthApps(ptApps{globex: b.globex})
	mux, api := httpapi.New(httpapi.Options{
		Logger:         logger,
		Authenticators: map[string]httpapi.Authenticator{httpapi.SchemeBearer: mod.Authenticator()},
	})
	mod.RegisterRoutes(api)
	mod.RegisterPages(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.api = &app{b: b.testBundle, mod: mod, cfg: cfg, url: srv.URL}
	b.noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

func (b *ptBundle) ptOrg(t *testing.T, slug string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, $3, 'active')`, id, slug, "Org "+slug)
	require.NoError(t, err)
	return id
}

func (b *ptBundle) ptService(t *testing.T, org uuid.UUID, slug string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO services (id, org_id, slug, name, service_type, client_id, client_secret_hash)
		VALUES ($1, $2, $3, $4, 'web', $5, $6)`, id, org, slug, "Service "+slug, uuid.NewString(), strings.Repeat("ab", 32))
	require.NoError(t, err)
	return id
}

// redirect sends a GET that is not followed and returns the Location.
func (b *ptBundle) redirect(t *testing.T, rawURL string, cookies ...*http.Cookie) (*url.URL, []*http.Cookie) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := b.noFollow.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, rawURL)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc, resp.Cookies()
}

// socialLogin signs user in to org/service with provider through the real
// flow (AuthOS start → fake authorize → AuthOS callback) and returns the
// AuthOS user id and service-scoped access token.
func (b *ptBundle) socialLogin(t *testing.T, provider, org, service string, user fakeoauth.User) (uuid.UUID, string) {
	t.Helper()
	b.fake.SetUser(provider, user)
	q := url.Values{"org": {org}, "service": {service}, "redirect_uri": {ptClientRedirect}, "state": {"client-state"}}
	authorize, cookies := b.redirect(t, b.api.url+"/auth/"+provider+"?"+q.Encode())
	require.True(t, strings.HasPrefix(authorize.String(), b.fake.URL()), authorize.String())
	callback, _ := b.redirect(t, authorize.String())
	require.Equal(t, testBaseURL+"/auth/"+provider+"/callback", callback.Scheme+"://"+callback.Host+callback.Path)
	require.NotEmpty(t, callback.Query().Get("code"), callback.String())
	done, _ := b.redirect(t, b.api.url+callback.Path+"?"+callback.RawQuery, cookies...)
	frag, err := url.ParseQuery(done.Fragment)
	require.NoError(t, err)
	access := frag.Get("access_token")
	require.NotEmpty(t, access, done.String())
	var userID uuid.UUID
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT user_id FROM sessions WHERE id = $1`, sessionID(t, access)).Scan(&userID))
	return userID, access
}

// ptTokenBody is the endpoint's answer, decoded loosely to see every
// member it sends.
type ptTokenBody struct {
	AccessToken string     `json:"access_token"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Scopes      []string   `json:"scopes"`
	Provider    string     `json:"provider"`
}

func (b *ptBundle) providerToken(t *testing.T, provider, access string) ptTokenBody {
	t.Helper()
	r := b.api.get(t, "/api/provider-token/"+provider, bearer(access))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	require.NotContains(t, raw, "refresh_token", "the provider refresh token stays on the server")
	var out ptTokenBody
	require.NoError(t, json.Unmarshal(r.body, &out))
	return out
}

// providerSubject asks the fake's userinfo endpoint (Google, Microsoft)
// whom a provider access token belongs to; "" when the provider refuses it.
func (b *ptBundle) providerSubject(t *testing.T, provider, token string) string {
	t.Helper()
	_, _, userURL := b.fake.Endpoints(provider)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, userURL, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	var body struct {
		Sub string `json:"sub"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.Sub
}

// requireExpiresIn checks a provider token expiry: the provider's
// expires_in counted (by x/oauth2, from the wall clock) from a moment
// between since and now.
func requireExpiresIn(t *testing.T, at *time.Time, since time.Time, ttl time.Duration) {
	t.Helper()
	require.NotNil(t, at)
	require.False(t, at.Before(since.Add(ttl).Add(-time.Second)), "%s expires before %s + %s", at, since, ttl)
	require.False(t, at.After(time.Now().Add(ttl).Add(time.Second)), "%s expires after now + %s", at, ttl)
}

// ptIdentity is the stored state of one identity's tokens.
type ptIdentity struct {
	ID         uuid.UUID
	AccessEnc  []byte
	RefreshEnc []byte
	KeyID      string
	ExpiresAt  *time.Time
	Scopes     []string
}

func (b *ptBundle) identityRow(t *testing.T, user uuid.UUID, provider string, svc uuid.UUID) ptIdentity {
	t.Helper()
	var r ptIdentity
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT id, access_token_encrypted, refresh_token_encrypted,
		coalesce(encryption_key_id, ''), expires_at, scopes FROM identities WHERE user_id = $1 AND provider = $2 AND service_id = $3`,
		user, provider, svc).Scan(&r.ID, &r.AccessEnc, &r.RefreshEnc, &r.KeyID, &r.ExpiresAt, &r.Scopes))
	return r
}

// ptTokenAD is the associated data provider tokens are encrypted with (the
// module's providerTokenAD), for reading and seeding rows.
func ptTokenAD(user uuid.UUID, provider string, org, svc uuid.UUID, kind string) string {
	return "identity_token:" + user.String() + ":" + provider + ":" + org.String() + ":" + svc.String() + ":" + kind
}

// decrypt opens a stored provider token.
func (b *ptBundle) decrypt(t *testing.T, user uuid.UUID, provider string, org, svc uuid.UUID, kind string, enc []byte, keyID string) string {
	t.Helper()
	s, err := b.ring.DecryptString(enc, keyID, ptTokenAD(user, provider, org, svc, kind))
	require.NoError(t, err)
	return s
}

// setRefreshToken replaces an identity's refresh token (encrypted as the
// module does), e.g. with one the provider never issued.
func (b *ptBundle) setRefreshToken(t *testing.T, user uuid.UUID, provider string, org, svc uuid.UUID, refresh string) {
	t.Helper()
	row := b.identityRow(t, user, provider, svc)
	enc, _, err := b.ring.EncryptString(refresh, ptTokenAD(user, provider, org, svc, "refresh"))
	require.NoError(t, err)
	_, err = b.pool.Exec(t.Context(), `UPDATE identities SET refresh_token_encrypted = $2 WHERE id = $1`, row.ID, enc)
	require.NoError(t, err)
}

// advanceTo moves the module's (and the fake's) clock forward to at+d; the
// clock starts a little behind the wall clock that x/oauth2 computes
// provider expiries with.
func (b *ptBundle) advanceTo(t *testing.T, at time.Time, d time.Duration) {
	t.Helper()
	if step := at.Add(d).Sub(b.clock.Now()); step > 0 {
		b.clock.Advance(step)
	}
	require.WithinDuration(t, at.Add(d), b.clock.Now(), time.Second)
}

func (b *ptBundle) setExpiry(t *testing.T, user uuid.UUID, provider string, svc uuid.UUID, at time.Time) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE identities SET expires_at = $4 WHERE user_id = $1 AND provider = $2 AND service_id = $3`,
		user, provider, svc, at)
	require.NoError(t, err)
}

// refreshGrants counts the refresh_token grants the fake answered for
// provider, and how many of them for clientID ("" any).
func (b *ptBundle) refreshGrants(provider, clientID string) int {
	n := 0
	for _, r := range b.fake.Requests() {
		if r.Provider == provider && r.Endpoint == fakeoauth.EndpointToken && r.GrantType == "refresh_token" &&
			(clientID == "" || r.ClientID == clientID) {
			n++
		}
	}
	return n
}

func (b *ptBundle) tokenRequests(provider string) int {
	n := 0
	for _, r := range b.fake.Requests() {
		if r.Provider == provider && r.Endpoint == fakeoauth.EndpointToken {
			n++
		}
	}
	return n
}

var (
	ptAda   = fakeoauth.User{ID: "google-ada", Name: "Ada", Email: "ada@example.test", EmailVerified: true}
	ptCarol = fakeoauth.User{ID: "google-carol", Name: "Carol", Email: "carol@example.test", EmailVerified: true}
	ptMia   = fakeoauth.User{ID: "ms-mia", Name: "Mia", Email: "mia@example.test", EmailVerified: true}
	ptOcto  = fakeoauth.User{ID: "4242", Login: "octo", Name: "Octo", Email: "octo@example.test", EmailVerified: true}
)

func TestProviderTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := setupProviderTokens(t)
	start := time.Now()
	ada, adaToken := b.socialLogin(t, "google", "acme", "web-app", ptAda)
	carol, carolToken := b.socialLogin(t, "google", "acme", "web-app", ptCarol)
	mia, miaToken := b.socialLogin(t, "microsoft", "acme", "web-app", ptMia)
	_, plainToken := b.socialLogin(t, "google", "acme", "plain-app", fakeoauth.User{ID: "google-pat", Email: "pat@example.test", EmailVerified: true})
	require.NotEqual(t, ada, carol)
	tokenCalls := b.tokenRequests("google")

	t.Run("ReturnsTheCallersToken", func(t *testing.T) {
		t.Parallel()
		got := b.providerToken(t, "google", adaToken)
		require.Equal(t, "google", got.Provider)
		require.Equal(t, b.webScopes["google"], got.Scopes)
		requireExpiresIn(t, got.ExpiresAt, start, fakeoauth.DefaultAccessTokenTTL)
		// A real token of ada's at the provider, the one stored encrypted.
		require.Equal(t, ptAda.ID, b.providerSubject(t, "google", got.AccessToken))
		row := b.identityRow(t, ada, "google", b.web)
		require.Equal(t, got.AccessToken, b.decrypt(t, ada, "google", b.acme, b.web, "access", row.AccessEnc, row.KeyID))
		require.NotContains(t, string(row.AccessEnc), got.AccessToken)
		require.NotContains(t, b.logs.String(), got.AccessToken)

		mine := b.providerToken(t, "microsoft", miaToken)
		require.Equal(t, "microsoft", mine.Provider)
		require.Equal(t, ptMia.ID, b.providerSubject(t, "microsoft", mine.AccessToken))
		require.Contains(t, mine.Scopes, "Calendars.Read")
		require.NotEqual(t, mia, ada)
	})

	t.Run("NeverReturnsAnotherUsersToken", func(t *testing.T) {
		t.Parallel()
		adaTok := b.providerToken(t, "google", adaToken).AccessToken
		carolTok := b.providerToken(t, "google", carolToken).AccessToken
		require.NotEqual(t, adaTok, carolTok)
		require.Equal(t, ptCarol.ID, b.providerSubject(t, "google", carolTok))
		require.Equal(t, ptAda.ID, b.providerSubject(t, "google", adaTok))
		// Mia has a Microsoft identity only: the Google identities of the
		// other users of the service are not hers.
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer(miaToken)), http.StatusNotFound, httpapi.CodeNotFound,
			"User has not authenticated with google for this service")
	})

	t.Run("NoIdentityForTheProvider", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, b.api.get(t, "/api/provider-token/microsoft", bearer(adaToken)), http.StatusNotFound, httpapi.CodeNotFound,
			"User has not authenticated with microsoft for this service")
		requireProblem(t, b.api.get(t, "/api/provider-token/github", bearer(adaToken)), http.StatusNotFound, httpapi.CodeNotFound,
			"User has not authenticated with github for this service")
	})

	t.Run("ServiceWithoutScopesForTheProvider", func(t *testing.T) {
		t.Parallel()
		// The user signed in to plain-app with Google, but plain-app asks
		// Google for nothing: it gets no token.
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer(plainToken)), http.StatusForbidden, httpapi.CodeForbidden,
			"Service does not have google scopes configured")
	})

	t.Run("NotInServiceContext", func(t *testing.T) {
		t.Parallel()
		toks, err := b.api.mod.IssueSession(t.Context(), ada, "google")
		require.NoError(t, err)
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer(toks.AccessToken)), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Provider tokens can only be requested in service context")
	})

	t.Run("UnknownProvider", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, b.api.get(t, "/api/provider-token/gitlab", bearer(adaToken)), http.StatusBadRequest, httpapi.CodeBadRequest,
			"Invalid provider. Must be github, google, or microsoft")
	})

	t.Run("RequiresABearerToken", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, b.api.get(t, "/api/provider-token/google"), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer("not-a-token")), http.StatusUnauthorized, "JWT_ERROR", "")
	})

	t.Run("FreshTokensAreNotRefreshed", func(t *testing.T) {
		t.Parallel()
		b.providerToken(t, "google", adaToken)
		require.Zero(t, b.refreshGrants("google", ""))
		require.Equal(t, tokenCalls, b.tokenRequests("google"))
		require.Empty(t, b.events.ofType("provider_token.refreshed"))
	})
}

func TestProviderTokenRefresh(t *testing.T) {
	t.Parallel()

	t.Run("RefreshesATokenExpiringWithinFiveMinutes", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		b.fake.SetAccessTokenTTL(7 * time.Minute)
		ada, adaToken := b.socialLogin(t, "google", "acme", "web-app", ptAda)
		before := b.identityRow(t, ada, "google", b.web)
		first := b.providerToken(t, "google", adaToken) // seven minutes left: served as is
		require.Zero(t, b.refreshGrants("google", ""))
		b.fake.SetAccessTokenTTL(time.Hour)

		b.advanceTo(t, *before.ExpiresAt, -4*time.Minute) // four minutes left
		refreshedFrom := time.Now()
		got := b.providerToken(t, "google", adaToken)
		require.Equal(t, 1, b.refreshGrants("google", ptPlatformID))
		require.NotEqual(t, first.AccessToken, got.AccessToken)
		require.Equal(t, ptAda.ID, b.providerSubject(t, "google", got.AccessToken))
		requireExpiresIn(t, got.ExpiresAt, refreshedFrom, time.Hour)
		require.Equal(t, b.webScopes["google"], got.Scopes)

		after := b.identityRow(t, ada, "google", b.web)
		require.NotEqual(t, before.AccessEnc, after.AccessEnc)
		require.Equal(t, got.AccessToken, b.decrypt(t, ada, "google", b.acme, b.web, "access", after.AccessEnc, after.KeyID))
		// Google keeps the refresh token: the same one, encrypted afresh.
		require.NotEqual(t, before.RefreshEnc, after.RefreshEnc)
		require.Equal(t, b.decrypt(t, ada, "google", b.acme, b.web, "refresh", before.RefreshEnc, before.KeyID),
			b.decrypt(t, ada, "google", b.acme, b.web, "refresh", after.RefreshEnc, after.KeyID))
		var lastRefreshed time.Time
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT last_refreshed_at FROM identities WHERE id = $1`, after.ID).Scan(&lastRefreshed))
		require.WithinDuration(t, b.clock.Now(), lastRefreshed, time.Second)

		evs := b.events.ofType("provider_token.refreshed")
		require.Len(t, evs, 1)
		require.Equal(t, &b.acme, evs[0].OrgID)
		require.Equal(t, &ada, evs[0].ActorID)
		require.Equal(t, ada.String(), evs[0].TargetID)
		require.Equal(t, "google", evs[0].Details["provider"])
		require.Equal(t, b.web.String(), evs[0].Details["service_id"])
		var audited int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organization_audit_log WHERE org_id = $1 AND action = 'provider_token.refreshed'`,
			b.acme).Scan(&audited))
		require.Equal(t, 1, audited)
		for _, secret := range []string{first.AccessToken, got.AccessToken} {
			require.NotContains(t, b.logs.String(), secret)
		}

		// The kept refresh token works again later.
		b.setExpiry(t, ada, "google", b.web, b.clock.Now().Add(time.Minute))
		again := b.providerToken(t, "google", adaToken)
		require.Equal(t, 2, b.refreshGrants("google", ""))
		require.Equal(t, ptAda.ID, b.providerSubject(t, "google", again.AccessToken))
	})

	t.Run("ConcurrentRequestsRefreshOnce", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		b.fake.SetAccessTokenTTL(3 * time.Minute)
		mia, miaToken := b.socialLogin(t, "microsoft", "acme", "web-app", ptMia)
		before := b.identityRow(t, mia, "microsoft", b.web)
		b.fake.SetAccessTokenTTL(time.Hour)
		b.advanceTo(t, *before.ExpiresAt, -2*time.Minute)

		// Microsoft rotates refresh tokens: without serialising, a second
		// refresh would present the rotated-away token and be refused.
		const n = 5
		var wg sync.WaitGroup
		results := make([]response, n)
		for i := range n {
			wg.Go(func() { results[i] = b.api.get(t, "/api/provider-token/microsoft", bearer(miaToken)) })
		}
		wg.Wait()
		tokens := map[string]bool{}
		for _, r := range results {
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			var body ptTokenBody
			require.NoError(t, json.Unmarshal(r.body, &body))
			tokens[body.AccessToken] = true
		}
		require.Len(t, tokens, 1, "every request got the one refreshed token")
		require.Equal(t, 1, b.refreshGrants("microsoft", ""))
		require.Len(t, b.events.ofType("provider_token.refreshed"), 1)

		after := b.identityRow(t, mia, "microsoft", b.web)
		require.NotEqual(t, b.decrypt(t, mia, "microsoft", b.acme, b.web, "refresh", before.RefreshEnc, before.KeyID),
			b.decrypt(t, mia, "microsoft", b.acme, b.web, "refresh", after.RefreshEnc, after.KeyID), "the rotated refresh token is stored")
		for tok := range tokens {
			require.Equal(t, ptMia.ID, b.providerSubject(t, "microsoft", tok))
		}
	})

	t.Run("UsesTheOrganizationsOwnApp", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		b.fake.SetAccessTokenTTL(3 * time.Minute)
		gia, token := b.socialLogin(t, "google", "globex", "web-app", ptAda)
		b.fake.SetAccessTokenTTL(time.Hour)
		b.advanceTo(t, *b.identityRow(t, gia, "google", b.gWeb).ExpiresAt, -2*time.Minute)
		got := b.providerToken(t, "google", token)
		require.Equal(t, 1, b.refreshGrants("google", ptGlobexID))
		require.Zero(t, b.refreshGrants("google", ptPlatformID))
		require.Equal(t, ptAda.ID, b.providerSubject(t, "google", got.AccessToken))
	})

	t.Run("GitHubTokensAreNotRefreshed", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		octo, token := b.socialLogin(t, "github", "acme", "web-app", ptOcto)
		first := b.providerToken(t, "github", token)
		require.Nil(t, first.ExpiresAt, "GitHub tokens do not expire")
		require.Equal(t, []string{"user:email", "repo"}, first.Scopes)
		calls := b.tokenRequests("github")

		b.setExpiry(t, octo, "github", b.web, b.clock.Now().Add(2*time.Minute))
		got := b.providerToken(t, "github", token)
		require.Equal(t, first.AccessToken, got.AccessToken)
		require.Equal(t, calls, b.tokenRequests("github"))

		b.setExpiry(t, octo, "github", b.web, b.clock.Now().Add(-time.Minute))
		requireProblem(t, b.api.get(t, "/api/provider-token/github", bearer(token)), http.StatusForbidden, "PROVIDER_REAUTH_REQUIRED", "")
		require.Equal(t, calls, b.tokenRequests("github"))
		require.Empty(t, b.events.ofType("provider_token.refreshed"))
	})

	t.Run("RevokedRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		ada, token := b.socialLogin(t, "google", "acme", "web-app", ptAda)
		first := b.providerToken(t, "google", token)
		b.setRefreshToken(t, ada, "google", b.acme, b.web, "1//revoked-at-the-provider")

		// Still valid for four minutes: served, and the dead refresh token
		// is dropped.
		expires := *b.identityRow(t, ada, "google", b.web).ExpiresAt
		b.advanceTo(t, expires, -4*time.Minute)
		require.Equal(t, first.AccessToken, b.providerToken(t, "google", token).AccessToken)
		require.Equal(t, 1, b.refreshGrants("google", ""))
		require.Nil(t, b.identityRow(t, ada, "google", b.web).RefreshEnc)

		// Expired and not refreshable: the user must sign in again, and
		// the provider is not asked again.
		b.advanceTo(t, expires, time.Minute)
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer(token)), http.StatusForbidden, "PROVIDER_REAUTH_REQUIRED",
			"The google authorization has expired. Please sign in with google again.")
		require.Equal(t, 1, b.refreshGrants("google", ""))
		require.Empty(t, b.events.ofType("provider_token.refreshed"))

		// Signing in again brings a working refresh token back.
		b.socialLogin(t, "google", "acme", "web-app", ptAda)
		require.NotNil(t, b.identityRow(t, ada, "google", b.web).RefreshEnc)
	})

	t.Run("ProviderUnreachable", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		ada, token := b.socialLogin(t, "google", "acme", "web-app", ptAda)
		first := b.providerToken(t, "google", token)
		before := b.identityRow(t, ada, "google", b.web)
		require.NoError(t, b.fake.Close())

		// Two minutes left: the failed refresh still hands out the token.
		b.setExpiry(t, ada, "google", b.web, b.clock.Now().Add(2*time.Minute))
		require.Equal(t, first.AccessToken, b.providerToken(t, "google", token).AccessToken)

		// Expired: nothing to hand out until the provider answers again.
		b.setExpiry(t, ada, "google", b.web, b.clock.Now().Add(-time.Minute))
		requireProblem(t, b.api.get(t, "/api/provider-token/google", bearer(token)), http.StatusBadGateway, "PROVIDER_REFRESH_FAILED", "")
		after := b.identityRow(t, ada, "google", b.web)
		require.Equal(t, before.RefreshEnc, after.RefreshEnc, "a transient failure keeps the refresh token")
		require.Equal(t, before.AccessEnc, after.AccessEnc)
		require.Empty(t, b.events.ofType("provider_token.refreshed"))
		require.NotContains(t, b.logs.String(), first.AccessToken)
	})

	t.Run("ExpiredAndRevokedAnswersReauth", func(t *testing.T) {
		t.Parallel()
		b := setupProviderTokens(t)
		ada, token := b.socialLogin(t, "microsoft", "acme", "web-app", ptMia)
		b.setRefreshToken(t, ada, "microsoft", b.acme, b.web, "1//unknown")
		b.clock.Advance(2 * time.Hour)
		requireProblem(t, b.api.get(t, "/api/provider-token/microsoft", bearer(token)), http.StatusForbidden, "PROVIDER_REAUTH_REQUIRED", "")
		require.Equal(t, 1, b.refreshGrants("microsoft", ""))
		require.Nil(t, b.identityRow(t, ada, "microsoft", b.web).RefreshEnc)
	})
}

func TestProviderTokenRefreshJob(t *testing.T) {
	t.Parallel()
	b := setupProviderTokens(t)
	ada, _ := b.socialLogin(t, "google", "acme", "web-app", ptAda)
	mia, _ := b.socialLogin(t, "microsoft", "acme", "web-app", ptMia)
	carol, _ := b.socialLogin(t, "google", "acme", "web-app", ptCarol)
	octo, _ := b.socialLogin(t, "github", "acme", "web-app", ptOcto)
	revoked, _ := b.socialLogin(t, "google", "acme", "web-app", fakeoauth.User{ID: "google-rev", Email: "rev@example.test", EmailVerified: true})
	broken, _ := b.socialLogin(t, "google", "acme", "web-app", fakeoauth.User{ID: "google-broken", Email: "broken@example.test", EmailVerified: true})
	gia, _ := b.socialLogin(t, "google", "globex", "web-app", fakeoauth.User{ID: "google-gia", Email: "gia@example.test", EmailVerified: true})

	now := b.clock.Now()
	b.setExpiry(t, ada, "google", b.web, now.Add(30*time.Minute))     // due
	b.setExpiry(t, mia, "microsoft", b.web, now.Add(-time.Minute))    // due (already expired)
	b.setExpiry(t, carol, "google", b.web, now.Add(3*time.Hour))      // not due
	b.setExpiry(t, octo, "github", b.web, now.Add(10*time.Minute))    // not refreshable
	b.setExpiry(t, revoked, "google", b.web, now.Add(20*time.Minute)) // due, refused
	b.setExpiry(t, broken, "google", b.web, now.Add(40*time.Minute))  // due, fails
	b.setExpiry(t, gia, "google", b.gWeb, now.Add(50*time.Minute))    // due, own app
	b.setRefreshToken(t, revoked, "google", b.acme, b.web, "1//revoked")
	_, err := b.pool.Exec(t.Context(), `UPDATE identities SET refresh_token_encrypted = 'garbage' WHERE user_id = $1`, broken)
	require.NoError(t, err)

	before := map[string]ptIdentity{
		"ada": b.identityRow(t, ada, "google", b.web), "mia": b.identityRow(t, mia, "microsoft", b.web),
		"carol": b.identityRow(t, carol, "google", b.web), "octo": b.identityRow(t, octo, "github", b.web),
		"gia": b.identityRow(t, gia, "google", b.gWeb),
	}
	googleBefore, msBefore, ghBefore := b.tokenRequests("google"), b.tokenRequests("microsoft"), b.tokenRequests("github")

	worker := identity.NewRefreshProviderTokensWorker(b.api.mod.Service())
	ran := time.Now()
	workArgs(t, b.testBundle, worker, identity.RefreshProviderTokensArgs{}) // a failing identity does not fail the job

	// broken never reaches the provider: its refresh token cannot be read.
	require.Equal(t, googleBefore+3, b.tokenRequests("google"), "ada, revoked (platform app) and gia (globex app)")
	require.Equal(t, 1, b.refreshGrants("google", ptGlobexID))
	require.Equal(t, msBefore+1, b.tokenRequests("microsoft"))
	require.Equal(t, ghBefore, b.tokenRequests("github"))

	for name, who := range map[string]struct {
		user     uuid.UUID
		provider string
		org, svc uuid.UUID
		subject  string
	}{
		"ada": {ada, "google", b.acme, b.web, ptAda.ID},
		"mia": {mia, "microsoft", b.acme, b.web, ptMia.ID},
		"gia": {gia, "google", b.globex, b.gWeb, "google-gia"},
	} {
		after := b.identityRow(t, who.user, who.provider, who.svc)
		require.NotEqual(t, before[name].AccessEnc, after.AccessEnc, name)
		requireExpiresIn(t, after.ExpiresAt, ran, time.Hour)
		tok := b.decrypt(t, who.user, who.provider, who.org, who.svc, "access", after.AccessEnc, after.KeyID)
		require.Equal(t, who.subject, b.providerSubject(t, who.provider, tok), name)
	}
	for name, who := range map[string]struct {
		user     uuid.UUID
		provider string
	}{"carol": {carol, "google"}, "octo": {octo, "github"}} {
		require.Equal(t, before[name], b.identityRow(t, who.user, who.provider, b.web), name)
	}
	require.Nil(t, b.identityRow(t, revoked, "google", b.web).RefreshEnc, "a refused refresh token is dropped")
	require.Equal(t, []byte("garbage"), b.identityRow(t, broken, "google", b.web).RefreshEnc, "a failure changes nothing")
	require.Contains(t, b.logs.String(), "provider token refresh failed")
	// Background refreshes are not audited (they would flood the trail).
	require.Empty(t, b.events.ofType("provider_token.refreshed"))

	t.Run("NextRunRetriesOnlyTransientFailures", func(t *testing.T) {
		t.Parallel()
		googleNow, msNow := b.tokenRequests("google"), b.tokenRequests("microsoft")
		workArgs(t, b.testBundle, worker, identity.RefreshProviderTokensArgs{})
		require.Equal(t, googleNow, b.tokenRequests("google"), "fresh tokens are not due; the refused one is not retried")
		require.Equal(t, msNow, b.tokenRequests("microsoft"))
		require.Equal(t, []byte("garbage"), b.identityRow(t, broken, "google", b.web).RefreshEnc)
	})

	t.Run("PeriodicTable", func(t *testing.T) {
		t.Parallel()
		table := b.api.mod.PeriodicJobs()
		ids := make([]string, 0, len(table))
		for _, j := range table {
			ids = append(ids, j.ID)
			require.True(t, j.RunOnStart, j.ID)
		}
		require.Equal(t, []string{"identity.refresh_provider_tokens", "identity.purge_expired_flows"}, ids)
		periodic, err := jobs.Periodic(table)
		require.NoError(t, err)
		require.Len(t, periodic, 2)
		args, opts := table[0].Construct()
		require.Equal(t, identity.RefreshProviderTokensArgs{}, args)
		require.Nil(t, opts)
		require.Equal(t, jobs.QueueDefault, identity.RefreshProviderTokensArgs{}.InsertOpts().Queue)
	})
}

func TestPurgeExpiredFlows(t *testing.T) {
	t.Parallel()
	b := setupProviderTokens(t)
	now := b.clock.Now()
	insertState := func(hash string, expires time.Time) {
		_, err := b.pool.Exec(t.Context(), `INSERT INTO oauth_states (state_hash, provider, pkce_sealed, created_at, expires_at)
			VALUES ($1, 'google', 'x', $2, $3)`, hash, expires.Add(-10*time.Minute), expires)
		require.NoError(t, err)
	}
	insertDevice := func(hash, userCode string, expires time.Time) {
		_, err := b.pool.Exec(t.Context(), `INSERT INTO device_codes (id, device_code_hash, user_code, client_id, org_slug, service_slug,
			status, created_at, expires_at) VALUES ($1, $2, $3, 'cli', 'acme', 'web-app', 'consumed', $4, $5)`,
			uuid.New(), hash, userCode, expires.Add(-15*time.Minute), expires)
		require.NoError(t, err)
	}
	insertState("state-expired", now.Add(-time.Second))
	insertState("state-live", now.Add(5*time.Minute))
	insertDevice("device-long-expired", "ABCDEFGH", now.Add(-2*time.Hour))
	insertDevice("device-just-expired", "BCDEFGHJ", now.Add(-10*time.Minute)) // kept an hour to answer expired_token
	insertDevice("device-live", "CDEFGHJK", now.Add(10*time.Minute))

	workArgs(t, b.testBundle, identity.NewPurgeExpiredFlowsWorker(b.api.mod.Service()), identity.PurgeExpiredFlowsArgs{})

	list := func(q string) []string {
		rows, err := b.pool.Query(t.Context(), q)
		require.NoError(t, err)
		defer rows.Close()
		out := []string{}
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, []string{"state-live"}, list(`SELECT state_hash FROM oauth_states ORDER BY 1`))
	require.Equal(t, []string{"device-just-expired", "device-live"}, list(`SELECT device_code_hash FROM device_codes ORDER BY 1`))

	// Idempotent: a second run deletes nothing more.
	workArgs(t, b.testBundle, identity.NewPurgeExpiredFlowsWorker(b.api.mod.Service()), identity.PurgeExpiredFlowsArgs{})
	require.Equal(t, []string{"state-live"}, list(`SELECT state_hash FROM oauth_states ORDER BY 1`))
	require.Len(t, list(`SELECT device_code_hash FROM device_codes`), 2)
}
