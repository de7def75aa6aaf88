package identity_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

// The organizations, services and OAuth apps of the social-login, device
// and step-up tests.
const (
	acmeSlug     = "acme"
	globexSlug   = "globex"
	webSlug      = "web-app"
	noDeviceSlug = "no-device"
	// acmeRedirect is web-app's only registered redirect URI.
	acmeRedirect = "https://app.acme.example/callback"
	// acmeActivate is web-app's device activation page.
	acmeActivate   = "https://app.acme.example/activate"
	globexRedirect = "https://app.globex.example/callback"

	platformGitHubClient = "platform-github-client"
	platformGitHubSecret = "platform-github-secret"
	platformGoogleClient = "platform-google-client"
	platformGoogleSecret = "platform-google-secret"
	globexGitHubClient   = "globex-github-client"
	globexGitHubSecret   = "globex-github-secret"

	// The platform CLI's device client (spec §2.2).
	cliOrg     = "platform"
	cliService = "admin-cli"
	cliClient  = "platform-admin-cli"
)

// scopeDouble is the tenancy module's ScopeResolver as the identity tests
// see it: org/service slugs to Scope values, with redirect URIs matched by
// tenancy's own exact matcher.
type scopeDouble struct {
	mu     sync.Mutex
	scopes map[string]identity.Scope // "org/service"
}

func (s *scopeDouble) ResolveScope(_ context.Context, orgSlug, serviceSlug string) (identity.Scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[orgSlug+"/"+serviceSlug]
	if !ok {
		return identity.Scope{}, identity.ErrScopeNotFound
	}
	return sc, nil
}

func (*scopeDouble) MembershipRole(context.Context, uuid.UUID, uuid.UUID) (string, bool, error) {
	return "", false, nil
}

// update changes the scope of org/service.
func (s *scopeDouble) update(key string, f func(*identity.Scope)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopes[key]
	f(&sc)
	s.scopes[key] = sc
}

// redirectMatcher is a scope's RedirectAllowedFunc with tenancy's semantics.
func redirectMatcher(registered ...string) func(string) bool {
	return func(uri string) bool { return tenancy.MatchRedirectURI(registered, uri) }
}

// oauthAppsDouble holds organizations' own OAuth apps (BYOO).
type oauthAppsDouble struct {
	mu    sync.Mutex
	creds map[string][2]string // "org-id/provider" → client id, secret
}

func (d *oauthAppsDouble) OrgOAuthCredentials(_ context.Context, orgID uuid.UUID, provider string) (string, string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.creds[orgID.String()+"/"+provider]
	return c[0], c[1], ok, nil
}

// oauthBundle is the identity harness with a fake OAuth provider behind the
// platform's apps, two organizations and their services resolved by a
// scope double, and globex's own GitHub app.
type oauthBundle struct {
	*testBundle
	fake   *fakeoauth.Server
	scopes *scopeDouble
	apps   *oauthAppsDouble

	acme, globex              uuid.UUID
	web, noDevice, globexWeb  uuid.UUID
	webClient, noDeviceClient string
	globexWebClient           string
}

// callbackURL is where the providers send the browser back (the module's
// BaseURL); browser requests map it to the test server.
func callbackURL(provider string) string { return testBaseURL + "/auth/" + provider + "/callback" }

func setupOAuth(t *testing.T, configure ...func(*identity.Config)) *oauthBundle {
	t.Helper()
	fake := fakeoauth.Start(t)
	redirects := []string{callbackURL("github"), callbackURL("google"), callbackURL("microsoft")}
	fake.RegisterClient(platformGitHubClient, platformGitHubSecret, redirects...)
	fake.RegisterClient(platformGoogleClient, platformGoogleSecret, redirects...)
	fake.RegisterClient(globexGitHubClient, globexGitHubSecret, redirects...)
	providers := func(c *identity.Config) {
		ghAuth, ghToken, ghAPI := fake.Endpoints(fakeoauth.GitHub)
		goAuth, goToken, goAPI := fake.Endpoints(fakeoauth.Google)
		c.Providers = map[string]identity.ProviderConfig{
			"github": {ClientID: platformGitHubClient, ClientSecret: platformGitHubSecret, AuthURL: ghAuth, TokenURL: ghToken, UserAPIURL: ghAPI},
			"google": {ClientID: platformGoogleClient, ClientSecret: platformGoogleSecret, AuthURL: goAuth, TokenURL: goToken, UserAPIURL: goAPI},
		}
	}
	b := &oauthBundle{
		testBundle: setup(t, append([]func(*identity.Config){providers}, configure...)...),
		fake:       fake,
		apps:       &oauthAppsDouble{creds: map[string][2]string{}},
	}
	b.mod.SetHTTPClient(outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, 10*time.Second))

	b.acme, b.globex = b.insertOrg(t, acmeSlug, "Acme Corp"), b.insertOrg(t, globexSlug, "Globex")
	b.web, b.webClient = b.insertService(t, b.acme, webSlug)
	b.noDevice, b.noDeviceClient = b.insertService(t, b.acme, noDeviceSlug)
	b.globexWeb, b.globexWebClient = b.insertService(t, b.globex, webSlug)
	b.apps.creds[b.globex.String()+"/github"] = [2]string{globexGitHubClient, globexGitHubSecret}

	all := []string{"github", "google", "microsoft"}
	scope := func(org uuid.UUID, orgSlug, orgName string, svc uuid.UUID, svcSlug, client string) identity.Scope {
		return identity.Scope{
			OrgID: &org, OrgSlug: orgSlug, OrgName: orgName, ServiceID: &svc, ServiceSlug: svcSlug, ServiceName: "Service " + svcSlug,
			ServiceType: "web", OrgStatus: "active", AllowedProviders: all, ClientID: client,
		}
	}
	web := scope(b.acme, acmeSlug, "Acme Corp", b.web, webSlug, b.webClient)
	web.RedirectAllowedFunc = redirectMatcher(acmeRedirect, "http://localhost:8080/cb")
	web.DeviceActivationURI = acmeActivate
	noDevice := scope(b.acme, acmeSlug, "Acme Corp", b.noDevice, noDeviceSlug, b.noDeviceClient)
	noDevice.RedirectAllowedFunc = redirectMatcher(acmeRedirect)
	globexWeb := scope(b.globex, globexSlug, "Globex", b.globexWeb, webSlug, b.globexWebClient)
	globexWeb.RedirectAllowedFunc = redirectMatcher(globexRedirect)
	globexWeb.DeviceActivationURI = "https://app.globex.example/activate?from=device"
	globexWeb.OwnOAuthProviders = []string{"github"}
	b.scopes = &scopeDouble{scopes: map[string]identity.Scope{
		acmeSlug + "/" + webSlug:      web,
		acmeSlug + "/" + noDeviceSlug: noDevice,
		globexSlug + "/" + webSlug:    globexWeb,
	}}
	b.mod.SetScopes(b.scopes)
	b.mod.SetOAuthApps(b.apps)
	return b
}

func (b *oauthBundle) insertOrg(t *testing.T, slug, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, $3, 'active')`, id, slug, name)
	require.NoError(t, err)
	return id
}

// insertService inserts a service and returns its id and client id.
func (b *oauthBundle) insertService(t *testing.T, org uuid.UUID, slug string) (uuid.UUID, string) {
	t.Helper()
	id, client := uuid.New(), uuid.NewString()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO services (id, org_id, slug, name, service_type, client_id, client_secret_hash)
		VALUES ($1, $2, $3, $4, 'web', $5, $6)`, id, org, slug, "Service "+slug, client, strings.Repeat("ab", 32))
	require.NoError(t, err)
	return id, client
}

// serviceUser registers email with a password in acme/web-app and verifies
// it: an end user who can sign in there.
func (b *oauthBundle) serviceUser(t *testing.T, email string) identity.User {
	t.Helper()
	body := map[string]string{"email": email, "password": goodPassword, "org_slug": acmeSlug, "service_slug": webSlug}
	requireMessage(t, b.post(t, "/api/auth/register", body), msgRegistered)
	b.verifyEmail(t, email)
	return b.tenantUser(t, b.acme, email)
}

// serviceLogin logs email in to acme/web-app with its password.
func (b *oauthBundle) serviceLogin(t *testing.T, email string) tokenPair {
	t.Helper()
	return decodeTokens(t, b.post(t, "/api/auth/login",
		map[string]string{"email": email, "password": goodPassword, "org_slug": acmeSlug, "service_slug": webSlug}))
}

// tenantUser loads the user of org with email.
func (b *oauthBundle) tenantUser(t *testing.T, org uuid.UUID, email string) identity.User {
	t.Helper()
	u, err := identity.NewStore(b.pool).UserGetByEmail(t.Context(), &org, email)
	require.NoError(t, err)
	return u
}

// identityRow is one identities row.
type identityRow struct {
	UserID         uuid.UUID
	Provider       string
	ProviderUserID string
	OrgID          *uuid.UUID
	ServiceID      *uuid.UUID
	AccessEnc      []byte
	KeyID          *string
}

// identitiesOf returns a user's identities, ordered by provider.
func (b *testBundle) identitiesOf(t *testing.T, userID uuid.UUID) []identityRow {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT user_id, provider, provider_user_id, org_id, service_id, access_token_encrypted,
		encryption_key_id FROM identities WHERE user_id = $1 ORDER BY provider, created_at`, userID)
	require.NoError(t, err)
	defer rows.Close()
	var out []identityRow
	for rows.Next() {
		var r identityRow
		require.NoError(t, rows.Scan(&r.UserID, &r.Provider, &r.ProviderUserID, &r.OrgID, &r.ServiceID, &r.AccessEnc, &r.KeyID))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// providersOf lists the providers of a user's identities.
func (b *testBundle) providersOf(t *testing.T, userID uuid.UUID) []string {
	t.Helper()
	out := []string{}
	for _, r := range b.identitiesOf(t, userID) {
		out = append(out, r.Provider)
	}
	return out
}

// sessionCount counts a user's sessions, revoked or not.
func (b *testBundle) sessionCount(t *testing.T, userID uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions WHERE user_id = $1`, userID).Scan(&n))
	return n
}

// oauthStateCount counts the stored OAuth flows.
func (b *testBundle) oauthStateCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM oauth_states`).Scan(&n))
	return n
}

// ---- a browser

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests see every hop. Requests to the module's BaseURL (where providers
// send the browser back) go to the test server.
type browser struct {
	a      *app
	jar    http.CookieJar
	client *http.Client
	ip     string
}

func (a *app) newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{a: a, jar: jar, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// target resolves a path, an absolute URL, or a URL on the BaseURL.
func (br *browser) target(t *testing.T, raw string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(raw, "/"):
		return br.a.url + raw
	case strings.HasPrefix(raw, testBaseURL+"/"):
		return br.a.url + strings.TrimPrefix(raw, testBaseURL)
	}
	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.Contains(t, []string{"http", "https"}, u.Scheme, "browser cannot open %q", raw)
	return raw
}

func (br *browser) do(t *testing.T, method, raw string, form url.Values, opts ...reqOpt) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, br.target(t, raw), body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "identity-test-browser")
	if br.ip != "" {
		req.Header.Set("X-Forwarded-For", br.ip)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := br.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw2, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: raw2}
}

func (br *browser) get(t *testing.T, raw string, opts ...reqOpt) response {
	t.Helper()
	return br.do(t, http.MethodGet, raw, nil, opts...)
}

func (br *browser) postForm(t *testing.T, path string, form url.Values) response {
	t.Helper()
	return br.do(t, http.MethodPost, path, form)
}

// cookie returns the browser's cookie name for path on the app, or nil.
func (br *browser) cookie(t *testing.T, path, name string) *http.Cookie {
	t.Helper()
	u, err := url.Parse(br.a.url + path)
	require.NoError(t, err)
	for _, c := range br.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// csrfPattern finds the CSRF token of a hosted page's form.
var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken returns the CSRF token of a rendered page.
func csrfToken(t *testing.T, r response) string {
	t.Helper()
	m := csrfPattern.FindSubmatch(r.body)
	require.NotNil(t, m, "no csrf token in page:\n%s", r.body)
	return string(m[1])
}

// form builds url.Values from key/value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// location returns the parsed Location of a redirect with status.
func location(t *testing.T, r response, status int) *url.URL {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	u, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	return u
}

// fragment returns the parameters of a redirect's URL fragment, checking
// that its base is want and that nothing travels in the query.
func fragment(t *testing.T, r response, status int, want string) url.Values {
	t.Helper()
	u := location(t, r, status)
	require.NotEmpty(t, u.Fragment, "no fragment in %s", u)
	frag, err := url.ParseQuery(u.EscapedFragment())
	require.NoError(t, err)
	base := *u
	base.Fragment, base.RawFragment = "", ""
	require.Equal(t, want, base.String())
	require.NotContains(t, u.RawQuery, "token", "tokens must not travel in the query")
	return frag
}

// toProvider starts a provider login at start and lets the fake provider
// answer; it returns the start response and the callback URL the provider
// sent the browser to.
func (br *browser) toProvider(t *testing.T, start string) (response, string) {
	t.Helper()
	r := br.get(t, start)
	authURL := location(t, r, http.StatusFound)
	pr := br.get(t, authURL.String())
	cb := location(t, pr, http.StatusFound)
	return r, cb.String()
}

// social runs a whole provider login from start and returns the callback's
// response.
func (br *browser) social(t *testing.T, start string) response {
	t.Helper()
	_, cb := br.toProvider(t, start)
	return br.get(t, cb)
}

// startPath is GET /auth/{provider} with query parameters as pairs.
func startPath(provider string, kv ...string) string {
	return "/auth/" + provider + "?" + form(kv...).Encode()
}

// acmeStart starts a GitHub login to acme/web-app with the registered
// redirect URI and client state.
func acmeStart(state string) string {
	return startPath("github", "org", acmeSlug, "service", webSlug, "redirect_uri", acmeRedirect, "state", state)
}

// requirePage checks a hosted HTML page's status and that it contains
// every snippet.
func requirePage(t *testing.T, r response, status int, snippets ...string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/html"), r.header.Get("Content-Type"))
	for _, s := range snippets {
		require.Contains(t, string(r.body), s)
	}
}

// requireOAuthProblem checks an OAuth endpoint error: the AuthOS envelope
// with the RFC 6749/8628 code in error and the message in
// error_description (and detail).
func requireOAuthProblem(t *testing.T, r response, status int, code, oauthErr, desc string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, httpapi.ProblemContentType, r.header.Get("Content-Type"))
	var body struct {
		Status           int    `json:"status"`
		Error            string `json:"error"`
		ErrorCode        string `json:"error_code"`
		ErrorDescription string `json:"error_description"`
		Detail           string `json:"detail"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Equal(t, status, body.Status)
	require.Equal(t, code, body.ErrorCode, string(r.body))
	require.Equal(t, oauthErr, body.Error, string(r.body))
	if desc != "" {
		require.Equal(t, desc, body.ErrorDescription)
		require.Equal(t, desc, body.Detail)
	}
}

// me is GET /api/user with a token.
func (a *app) me(t *testing.T, access string) userBody {
	t.Helper()
	u, _ := decodeUser(t, a.get(t, "/api/user", bearer(access)))
	return u
}

// nextCode moves the clock to the next TOTP step and returns its code
// (each step is accepted once).
func (b *testBundle) nextCode(t *testing.T, secret string) string {
	t.Helper()
	b.clock.Advance(30 * time.Second)
	return codeFor(t, secret, stepOf(b.clock.Now()))
}
