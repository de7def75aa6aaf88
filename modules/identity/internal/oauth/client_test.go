package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authos/authos/modules/identity/internal/oauth"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

func TestProviders(t *testing.T) {
	t.Parallel()

	t.Run("ParseName", func(t *testing.T) {
		t.Parallel()
		for _, n := range oauth.Names() {
			got, err := oauth.ParseName(string(n))
			require.NoError(t, err)
			require.Equal(t, n, got)
		}
		require.Equal(t, []oauth.Name{oauth.GitHub, oauth.Google, oauth.Microsoft}, oauth.Names())
		for _, bad := range []string{"", "GitHub", "gitlab", " github", "oidc"} {
			_, err := oauth.ParseName(bad)
			require.ErrorIs(t, err, oauth.ErrUnknownProvider, bad)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, oauth.Endpoints{
			AuthURL:    "https://github.com/login/oauth/authorize",
			TokenURL:   "https://github.com/login/oauth/access_token",
			UserAPIURL: "https://api.github.com",
		}, oauth.DefaultEndpoints(oauth.GitHub))
		require.Equal(t, oauth.Endpoints{
			AuthURL:    "https://accounts.google.com/o/oauth2/v2/auth",
			TokenURL:   "https://oauth2.googleapis.com/token",
			UserAPIURL: "https://openidconnect.googleapis.com/v1/userinfo",
		}, oauth.DefaultEndpoints(oauth.Google))
		require.Equal(t, oauth.Endpoints{
			AuthURL:    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL:   "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			UserAPIURL: "https://graph.microsoft.com/oidc/userinfo",
		}, oauth.DefaultEndpoints(oauth.Microsoft))
		require.Zero(t, oauth.DefaultEndpoints("gitlab"))

		require.Equal(t, []string{"user:email"}, oauth.DefaultScopes(oauth.GitHub))
		require.Equal(t, []string{"openid", "email", "profile"}, oauth.DefaultScopes(oauth.Google))
		require.Equal(t, []string{"User.Read", "email", "openid", "profile"}, oauth.DefaultScopes(oauth.Microsoft))
		require.Nil(t, oauth.DefaultScopes("gitlab"))

		require.False(t, oauth.GitHub.Refreshable())
		require.True(t, oauth.Google.Refreshable())
		require.True(t, oauth.Microsoft.Refreshable())
	})
}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("FillsDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := oauth.New(oauth.Config{
			Provider: oauth.Microsoft, ClientID: "id", ClientSecret: "secret",
			RedirectURI: testRedirect, HTTPClient: http.DefaultClient,
			Endpoints: oauth.Endpoints{TokenURL: "http://127.0.0.1:9/token"},
		})
		require.NoError(t, err)
		want := oauth.DefaultEndpoints(oauth.Microsoft)
		want.TokenURL = "http://127.0.0.1:9/token"
		require.Equal(t, want, c.Endpoints())
		require.Equal(t, oauth.Microsoft, c.Provider())
		require.Equal(t, oauth.DefaultScopes(oauth.Microsoft), c.Scopes())
	})

	t.Run("KeepsConfiguredScopes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		scopes := []string{"read:user", "user:email"}
		c := b.client(t, oauth.GitHub, func(cfg *oauth.Config) { cfg.Scopes = scopes })
		scopes[0] = "changed"
		require.Equal(t, []string{"read:user", "user:email"}, c.Scopes())
	})

	t.Run("ReportsEveryProblem", func(t *testing.T) {
		t.Parallel()
		_, err := oauth.New(oauth.Config{})
		require.ErrorIs(t, err, oauth.ErrUnknownProvider)
		for _, want := range []string{"client id is required", "client secret is required", "http client is required", "redirect uri: is required"} {
			require.ErrorContains(t, err, want)
		}
	})

	t.Run("RejectsBadValues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, mutate := range map[string]func(*oauth.Config){
			"RelativeRedirect":  func(c *oauth.Config) { c.RedirectURI = "/auth/callback" },
			"FTPRedirect":       func(c *oauth.Config) { c.RedirectURI = "ftp://example.test/cb" },
			"RedirectFragment":  func(c *oauth.Config) { c.RedirectURI = testRedirect + "#x" },
			"BadTokenURL":       func(c *oauth.Config) { c.Endpoints.TokenURL = "not a url" },
			"HostlessAuthURL":   func(c *oauth.Config) { c.Endpoints.AuthURL = "https:///authorize" },
			"ScopeWithSpace":    func(c *oauth.Config) { c.Scopes = []string{"openid email"} },
			"EmptyScope":        func(c *oauth.Config) { c.Scopes = []string{"openid", ""} },
			"UnknownProvider":   func(c *oauth.Config) { c.Provider = "gitlab" },
			"MissingSecret":     func(c *oauth.Config) { c.ClientSecret = "" },
			"MissingHTTPClient": func(c *oauth.Config) { c.HTTPClient = nil },
		} {
			cfg := b.config(oauth.Google)
			mutate(&cfg)
			c, err := oauth.New(cfg)
			require.Error(t, err, name)
			require.Nil(t, c, name)
			require.NotContains(t, err.Error(), testSecret, name)
		}
	})
}

func TestAuthCodeURL(t *testing.T) {
	t.Parallel()

	t.Run("CarriesPKCEAndProviderParameters", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			name        oauth.Name
			scope       string
			accessType  string
			hasAuthPath string
		}{
			{oauth.GitHub, "user:email", "", "/github/login/oauth/authorize"},
			{oauth.Google, "openid email profile", "offline", "/google/auth"},
			{oauth.Microsoft, "User.Read email openid profile offline_access", "", "/microsoft/authorize"},
		} {
			c := b.client(t, tc.name)
			verifier := oauth.NewVerifier()
			raw, err := c.AuthCodeURL(testState, verifier, nil)
			require.NoError(t, err)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			require.Equal(t, tc.hasAuthPath, u.Path)
			q := u.Query()
			require.Equal(t, url.Values{
				"response_type":         {"code"},
				"client_id":             {testClientID},
				"redirect_uri":          {testRedirect},
				"scope":                 {tc.scope},
				"state":                 {testState},
				"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
				"code_challenge_method": {"S256"},
			}, withoutKey(q, "access_type"), tc.name)
			require.Equal(t, tc.accessType, q.Get("access_type"), tc.name)
			require.NotContains(t, raw, verifier)
			require.NotContains(t, raw, testSecret)
		}
	})

	t.Run("AddsExtraParameters", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Google)
		raw, err := c.AuthCodeURL(testState, oauth.NewVerifier(), url.Values{"prompt": {"consent"}, "login_hint": {"ada@example.test"}})
		require.NoError(t, err)
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, "consent", u.Query().Get("prompt"))
		require.Equal(t, "ada@example.test", u.Query().Get("login_hint"))
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Google)
		good := oauth.NewVerifier()
		for _, tc := range []struct {
			name, state, verifier string
			extra                 url.Values
		}{
			{"EmptyState", "", good, nil},
			{"EmptyVerifier", testState, "", nil},
			{"ShortVerifier", testState, good[:42], nil},
			{"LongVerifier", testState, strings.Repeat("a", 129), nil},
			{"VerifierBadChar", testState, good[:42] + "+", nil},
			{"OverridesState", testState, good, url.Values{"state": {"other"}}},
			{"OverridesRedirect", testState, good, url.Values{"redirect_uri": {"https://evil.example.test"}}},
			{"OverridesChallenge", testState, good, url.Values{"code_challenge_method": {"plain"}}},
			{"OverridesScope", testState, good, url.Values{"scope": {"openid"}}},
			{"MultiValued", testState, good, url.Values{"prompt": {"consent", "login"}}},
		} {
			raw, err := c.AuthCodeURL(tc.state, tc.verifier, tc.extra)
			require.ErrorIs(t, err, oauth.ErrInvalidArgument, tc.name)
			require.Empty(t, raw, tc.name)
		}
		raw, err := c.AuthCodeURL(testState, strings.Repeat("a-._~", 25)+"Z9b", nil)
		require.NoError(t, err, "128 characters of the full RFC 7636 alphabet")
		require.NotEmpty(t, raw)
	})
}

func withoutKey(q url.Values, key string) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func TestLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        oauth.Name
		user        fakeoauth.User
		wantScopes  []string
		wantRefresh bool
		wantProfile oauth.Profile
	}{
		{
			name:        oauth.GitHub,
			user:        fakeoauth.User{ID: "583231", Login: "octocat", Name: "The Octocat", Email: "octo@example.test", EmailVerified: true},
			wantScopes:  []string{"user:email"},
			wantProfile: oauth.Profile{ProviderUserID: "583231", Email: "octo@example.test", EmailVerified: true, Name: "The Octocat"},
		},
		{
			name:        oauth.Google,
			user:        fakeoauth.User{ID: "1098765", Name: "Gia", Email: "gia@example.test", EmailVerified: true},
			wantScopes:  []string{"openid", "email", "profile"},
			wantRefresh: true,
			wantProfile: oauth.Profile{ProviderUserID: "1098765", Email: "gia@example.test", EmailVerified: true, Name: "Gia"},
		},
		{
			name:        oauth.Microsoft,
			user:        fakeoauth.User{ID: "AAAAmsSub", Name: "Mia", Email: "mia@example.test", EmailVerified: true},
			wantScopes:  []string{"User.Read", "email", "openid", "profile", "offline_access"},
			wantRefresh: true,
			wantProfile: oauth.Profile{ProviderUserID: "AAAAmsSub", Email: "mia@example.test", EmailVerified: true, Name: "Mia"},
		},
	} {
		t.Run(fmt.Sprintf("%sDefaultScopes", strings.ToUpper(string(tc.name[:1]))+string(tc.name[1:])), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.SetUser(string(tc.name), tc.user)
			c := b.client(t, tc.name)
			tok := b.login(t, c)
			require.NotEmpty(t, tok.AccessToken)
			require.Equal(t, tc.wantScopes, tok.Scopes)
			require.Equal(t, tc.wantRefresh, tok.RefreshToken != "")
			if tc.name == oauth.GitHub {
				require.True(t, tok.Expiry.IsZero())
				require.Empty(t, tok.IDToken)
			} else {
				require.WithinDuration(t, time.Now().Add(fakeoauth.DefaultAccessTokenTTL), tok.Expiry, time.Minute)
				require.Equal(t, 2, strings.Count(tok.IDToken, "."), "a JWT")
			}

			p, err := c.FetchProfile(context.Background(), tok)
			require.NoError(t, err)
			require.Equal(t, tc.wantProfile, p)
			require.Equal(t, []string{testClientID}, b.fake.SeenClientIDs(string(tc.name)))
		})
	}

	t.Run("GitHubScopesFromResponse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.GitHub, func(cfg *oauth.Config) { cfg.Scopes = []string{"read:user", "user:email", "repo"} })
		tok := b.login(t, c)
		require.Equal(t, []string{"read:user", "user:email", "repo"}, tok.Scopes, "parsed from GitHub's comma-separated scope")
	})
}

func TestExchangeErrors(t *testing.T) {
	t.Parallel()

	// requireNoSecrets asserts the error text leaks none of the values.
	requireNoSecrets := func(t *testing.T, err error, values ...string) {
		t.Helper()
		for _, v := range append(values, testSecret) {
			require.NotContains(t, err.Error(), v)
			require.NotContains(t, fmt.Sprintf("%+v", err), v)
		}
	}

	t.Run("WrongVerifierRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			name   oauth.Name
			code   string
			status int
		}{
			{oauth.GitHub, "bad_verification_code", http.StatusOK},
			{oauth.Google, "invalid_grant", http.StatusBadRequest},
			{oauth.Microsoft, "invalid_grant", http.StatusBadRequest},
		} {
			c := b.client(t, tc.name)
			q, verifier := b.authorize(t, c, nil)
			wrong := oauth.NewVerifier()
			_, err := c.Exchange(context.Background(), q.Get("code"), wrong)
			pe := requireProviderError(t, err)
			require.Equal(t, tc.name, pe.Provider)
			require.Equal(t, oauth.EndpointToken, pe.Endpoint)
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, tc.status, pe.StatusCode)
			require.NotEmpty(t, pe.Description)
			requireNoSecrets(t, err, q.Get("code"), verifier, wrong)

			// The failed attempt spent the code: the right verifier is too late.
			_, err = c.Exchange(context.Background(), q.Get("code"), verifier)
			require.Equal(t, tc.code, requireProviderError(t, err).Code)
		}
	})

	t.Run("CodeIsSingleUse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Google)
		q, verifier := b.authorize(t, c, nil)
		tok, err := c.Exchange(context.Background(), q.Get("code"), verifier)
		require.NoError(t, err)
		_, err = c.Exchange(context.Background(), q.Get("code"), verifier)
		require.Equal(t, "invalid_grant", requireProviderError(t, err).Code)
		_, err = c.FetchProfile(context.Background(), tok)
		require.Equal(t, http.StatusUnauthorized, requireProviderError(t, err).StatusCode, "replay revoked the tokens")
	})

	t.Run("WrongClientSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, code := range map[oauth.Name]string{
			oauth.GitHub: "incorrect_client_credentials", oauth.Google: "invalid_client", oauth.Microsoft: "invalid_client",
		} {
			c := b.client(t, name, func(cfg *oauth.Config) { cfg.ClientSecret = "wrong-secret-value" })
			q, verifier := b.authorize(t, c, nil)
			_, err := c.Exchange(context.Background(), q.Get("code"), verifier)
			require.Equal(t, code, requireProviderError(t, err).Code, name)
			requireNoSecrets(t, err, "wrong-secret-value", q.Get("code"), verifier)
		}
	})

	t.Run("RefusesBadArgumentsWithoutCalling", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Google)
		_, err := c.Exchange(context.Background(), "", oauth.NewVerifier())
		require.ErrorIs(t, err, oauth.ErrInvalidArgument)
		_, err = c.Exchange(context.Background(), "some-code", "short")
		require.ErrorIs(t, err, oauth.ErrInvalidArgument)
		require.Zero(t, b.countRequests(oauth.Google, fakeoauth.EndpointToken))
	})

	t.Run("UsesTheGivenHTTPClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		strict := outbound.NewHTTPClient(outbound.Policy{}, time.Second) // refuses loopback
		c := b.client(t, oauth.Google, func(cfg *oauth.Config) { cfg.HTTPClient = strict })
		q, verifier := b.authorize(t, c, nil)
		_, err := c.Exchange(context.Background(), q.Get("code"), verifier)
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		requireNoSecrets(t, err, q.Get("code"), verifier)
		_, err = c.FetchProfile(context.Background(), oauth.Token{AccessToken: "at"})
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		_, err = c.Refresh(context.Background(), "rt")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, b.countRequests(oauth.Google, fakeoauth.EndpointToken))
		require.Zero(t, b.countRequests(oauth.Google, fakeoauth.EndpointUserInfo))
	})

	t.Run("HonoursContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Microsoft)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Exchange(ctx, "code", oauth.NewVerifier())
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestCallbackError(t *testing.T) {
	t.Parallel()

	t.Run("AccessDeniedFromProvider", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, name := range oauth.Names() {
			b.fake.DenyNext(string(name))
			c := b.client(t, name)
			q, _ := b.authorize(t, c, nil)
			err := oauth.CallbackError(name, q)
			pe := requireProviderError(t, err)
			require.True(t, pe.AccessDenied())
			require.Equal(t, oauth.EndpointAuthorize, pe.Endpoint)
			require.Equal(t, name, pe.Provider)
			require.Zero(t, pe.StatusCode)
			require.Equal(t, fmt.Sprintf("%s authorize endpoint: access_denied: %q", name, pe.Description), err.Error())
		}
	})

	t.Run("NilWithoutError", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, oauth.CallbackError(oauth.GitHub, url.Values{"code": {"c"}, "state": {"s"}}))
	})

	t.Run("SanitizesProviderText", func(t *testing.T) {
		t.Parallel()
		err := oauth.CallbackError(oauth.Google, url.Values{
			"error":             {""},
			"error_description": {"bad\r\nInjected: header\x00" + strings.Repeat("é", 300)},
		})
		pe := requireProviderError(t, err)
		require.Equal(t, "unknown_error", pe.Code)
		require.True(t, strings.HasPrefix(pe.Description, "badInjected: headeréé"))
		require.LessOrEqual(t, len(pe.Description), 256)
		require.NotContains(t, pe.Description, "\n")
		require.False(t, pe.AccessDenied())
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()

	t.Run("GoogleKeepsRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Google)
		first := b.login(t, c)
		got, err := c.Refresh(context.Background(), first.RefreshToken)
		require.NoError(t, err)
		require.NotEqual(t, first.AccessToken, got.AccessToken)
		require.Equal(t, first.RefreshToken, got.RefreshToken)
		require.Equal(t, []string{"openid", "email", "profile"}, got.Scopes)
		require.WithinDuration(t, time.Now().Add(time.Hour), got.Expiry, time.Minute)
		p, err := c.FetchProfile(context.Background(), got)
		require.NoError(t, err)
		require.NotEmpty(t, p.ProviderUserID)
	})

	t.Run("MicrosoftRotatesRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.Microsoft)
		first := b.login(t, c)
		got, err := c.Refresh(context.Background(), first.RefreshToken)
		require.NoError(t, err)
		require.NotEmpty(t, got.RefreshToken)
		require.NotEqual(t, first.RefreshToken, got.RefreshToken)
		require.Contains(t, got.Scopes, "offline_access")

		_, err = c.Refresh(context.Background(), first.RefreshToken)
		pe := requireProviderError(t, err)
		require.Equal(t, "invalid_grant", pe.Code)
		require.Equal(t, http.StatusBadRequest, pe.StatusCode)
		require.NotContains(t, err.Error(), first.RefreshToken)
	})

	t.Run("GitHubIsNotRefreshable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.client(t, oauth.GitHub)
		_, err := c.Refresh(context.Background(), "anything")
		require.ErrorIs(t, err, oauth.ErrNotRefreshable)
		require.Zero(t, b.countRequests(oauth.GitHub, fakeoauth.EndpointToken))
	})

	t.Run("RefusesEmptyToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.client(t, oauth.Google).Refresh(context.Background(), "")
		require.ErrorIs(t, err, oauth.ErrInvalidArgument)
	})
}

func TestTokenRedaction(t *testing.T) {
	t.Parallel()
	tok := oauth.Token{
		AccessToken: "ya29.access-secret", RefreshToken: "1//refresh-secret", IDToken: "eyJ.id-secret.sig",
		Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Scopes: []string{"openid"},
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("token", "tok", tok)
	for _, out := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), fmt.Sprintf("%v", &tok), logged.String(),
	} {
		require.NotContains(t, out, "secret", out)
		require.Contains(t, out, "redacted", out)
	}
	require.Contains(t, tok.String(), "2030-01-02T03:04:05Z")
	require.Contains(t, tok.String(), "IDToken:<redacted>")
	require.Contains(t, oauth.Token{}.String(), "AccessToken:<empty>")
}
