package fakeoauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authos/authos/platform/testenv/fakeoauth"
)

const (
	testClientID = "client-1"
	testSecret   = "s3cret-value"
	testRedirect = "https://app.example.test/auth/callback"
)

// testBundle is a started fake with one registered client.
type testBundle struct {
	srv  *fakeoauth.Server
	http *http.Client // does not follow redirects
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := fakeoauth.Start(t)
	srv.RegisterClient(testClientID, testSecret, testRedirect)
	return &testBundle{
		srv: srv,
		http: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// config returns an x/oauth2 config for provider with the default client.
func (b *testBundle) config(provider string, scopes ...string) *oauth2.Config {
	authURL, tokenURL, _ := b.srv.Endpoints(provider)
	return &oauth2.Config{
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURL:  testRedirect,
		Scopes:       scopes,
		Endpoint:     oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
}

// ctx hands the test's HTTP client to x/oauth2.
func (b *testBundle) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, b.http)
}

// get performs a GET and returns the response with its body read.
func (b *testBundle) get(t *testing.T, rawURL, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, body
}

// authorize follows authURL once and returns the redirect's query.
func (b *testBundle) authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, body := b.get(t, authURL, "")
	require.Equal(t, http.StatusFound, resp.StatusCode, string(body))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, testRedirect, (&url.URL{Scheme: loc.Scheme, Host: loc.Host, Path: loc.Path}).String())
	return loc.Query()
}

// login runs authorize and returns the code and verifier.
func (b *testBundle) login(t *testing.T, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (string, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := b.authorize(t, conf.AuthCodeURL("st-1", append(opts, oauth2.S256ChallengeOption(verifier))...))
	require.Equal(t, "st-1", q.Get("state"))
	require.NotEmpty(t, q.Get("code"))
	return q.Get("code"), verifier
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	return m
}

func requireRetrieveError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, code, re.ErrorCode)
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()

	t.Run("GitHub", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.SetUser(fakeoauth.GitHub, fakeoauth.User{
			ID: "4242", Login: "ada", Name: "Ada", Email: "ada@example.test", EmailVerified: true,
			ExtraEmails: []fakeoauth.Email{{Address: "ada@work.example.test"}},
		})
		conf := b.config(fakeoauth.GitHub, "user:email")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tok.AccessToken, "gho_"))
		require.Empty(t, tok.RefreshToken)
		require.True(t, tok.Expiry.IsZero())
		require.Equal(t, "user:email", tok.Extra("scope"))

		_, _, api := b.srv.Endpoints(fakeoauth.GitHub)
		resp, body := b.get(t, api+"/user", "token "+tok.AccessToken)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.JSONEq(t, `{"id":4242,"login":"ada","name":"Ada","email":"ada@example.test","type":"User"}`, string(body))
		resp, body = b.get(t, api+"/user/emails", "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.JSONEq(t, `[
			{"email":"ada@example.test","primary":true,"verified":true,"visibility":"public"},
			{"email":"ada@work.example.test","primary":false,"verified":false,"visibility":null}
		]`, string(body))

		require.Equal(t, []string{testClientID}, b.srv.SeenClientIDs(fakeoauth.GitHub))
		require.Empty(t, b.srv.SeenClientIDs(fakeoauth.Google))
		var endpoints []string
		for _, r := range b.srv.Requests() {
			require.Equal(t, fakeoauth.GitHub, r.Provider)
			require.Equal(t, testClientID, r.ClientID)
			endpoints = append(endpoints, r.Endpoint)
		}
		require.Equal(t, []string{fakeoauth.EndpointAuthorize, fakeoauth.EndpointToken, fakeoauth.EndpointUser, fakeoauth.EndpointEmails}, endpoints)
		require.Equal(t, "authorization_code", b.srv.Requests()[1].GrantType)
		require.Equal(t, http.StatusFound, b.srv.Requests()[0].Status)
	})

	t.Run("GitHubJSONTokenResponse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.GitHub, "user:email", "read:org")
		code, verifier := b.login(t, conf)
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {testRedirect}, "client_id": {testClientID}, "client_secret": {testSecret},
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := b.http.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		m := decodeJSON(t, body)
		require.Equal(t, "user:email,read:org", m["scope"])
		require.Equal(t, "bearer", m["token_type"])
	})

	for _, provider := range []string{fakeoauth.Google, fakeoauth.Microsoft} {
		t.Run(strings.ToUpper(provider[:1])+provider[1:], func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.srv.SetUser(provider, fakeoauth.User{ID: "sub-" + provider, Name: "Grace", Email: "grace@example.test", EmailVerified: true})
			scopes := []string{"openid", "email", "profile"}
			opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", "n-0S6")}
			if provider == fakeoauth.Google {
				opts = append(opts, oauth2.AccessTypeOffline)
			} else {
				scopes = append(scopes, "offline_access")
			}
			conf := b.config(provider, scopes...)
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // HTTP Basic works too
			code, verifier := b.login(t, conf, opts...)
			tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
			require.NoError(t, err)
			require.NotEmpty(t, tok.RefreshToken)
			require.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)
			require.Equal(t, strings.Join(scopes, " "), tok.Extra("scope"))

			rawID, ok := tok.Extra("id_token").(string)
			require.True(t, ok)
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(rawID, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(testClientID))
			require.NoError(t, err)
			require.Equal(t, "sub-"+provider, claims["sub"])
			require.Equal(t, "n-0S6", claims["nonce"])

			_, _, userinfo := b.srv.Endpoints(provider)
			resp, body := b.get(t, userinfo, "Bearer "+tok.AccessToken)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			want := `{"sub":"sub-google","name":"Grace","email":"grace@example.test","email_verified":true}`
			if provider == fakeoauth.Microsoft {
				want = `{"sub":"sub-microsoft","name":"Grace","email":"grace@example.test","xms_edov":true}`
			}
			require.JSONEq(t, want, string(body))
			require.Equal(t, []string{testClientID}, b.srv.SeenClientIDs(provider))
		})
	}

	t.Run("UserInfoClaimsFollowScopes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.SetUser(fakeoauth.Microsoft, fakeoauth.User{ID: "m-1", Name: "Mia", Email: "mia@example.test"})
		conf := b.config(fakeoauth.Microsoft, "openid", "email")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		require.Empty(t, tok.RefreshToken, "no offline_access, no refresh token")
		_, _, userinfo := b.srv.Endpoints(fakeoauth.Microsoft)
		_, body := b.get(t, userinfo, "Bearer "+tok.AccessToken)
		require.JSONEq(t, `{"sub":"m-1","email":"mia@example.test"}`, string(body))
	})

	t.Run("UsersAreSnapshotAtAuthorize", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google, "openid")
		b.srv.SetUser(fakeoauth.Google, fakeoauth.User{ID: "first"})
		code, verifier := b.login(t, conf)
		b.srv.SetUser(fakeoauth.Google, fakeoauth.User{ID: "second"})
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, _, userinfo := b.srv.Endpoints(fakeoauth.Google)
		_, body := b.get(t, userinfo, "Bearer "+tok.AccessToken)
		require.JSONEq(t, `{"sub":"first"}`, string(body))
	})
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())

	// authURL builds a Google authorize URL from overrides of valid params.
	authURL := func(b *testBundle, override map[string]string) string {
		au, _, _ := b.srv.Endpoints(fakeoauth.Google)
		q := url.Values{
			"response_type": {"code"}, "client_id": {testClientID}, "redirect_uri": {testRedirect},
			"scope": {"openid email"}, "state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
		for k, v := range override {
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
		}
		return au + "?" + q.Encode()
	}

	t.Run("RefusesUnknownClientWithoutRedirect", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		resp, _ := b.get(t, authURL(b, map[string]string{"client_id": "nope"}), "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Location"))
		require.Equal(t, []string{"nope"}, b.srv.SeenClientIDs(fakeoauth.Google))
	})

	t.Run("RefusesRedirectURIThatIsNotExact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, ru := range []string{"", testRedirect + "/", testRedirect + "?x=1", "https://evil.example.test/auth/callback"} {
			resp, _ := b.get(t, authURL(b, map[string]string{"redirect_uri": ru}), "")
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, ru)
			require.Empty(t, resp.Header.Get("Location"))
		}
	})

	t.Run("RedirectsErrors", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			name     string
			override map[string]string
			code     string
		}{
			{"NoChallenge", map[string]string{"code_challenge": ""}, "invalid_request"},
			{"PlainMethod", map[string]string{"code_challenge_method": "plain"}, "invalid_request"},
			{"NoMethod", map[string]string{"code_challenge_method": ""}, "invalid_request"},
			{"ShortChallenge", map[string]string{"code_challenge": "abc"}, "invalid_request"},
			{"TokenResponseType", map[string]string{"response_type": "token"}, "unsupported_response_type"},
			{"NoScope", map[string]string{"scope": ""}, "invalid_request"},
		} {
			q := b.authorize(t, authURL(b, tc.override))
			require.Equal(t, tc.code, q.Get("error"), tc.name)
			require.NotEmpty(t, q.Get("error_description"), tc.name)
			require.Equal(t, "xyz", q.Get("state"), tc.name)
			require.Empty(t, q.Get("code"), tc.name)
		}
	})

	t.Run("DenyNextDeniesOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.DenyNext(fakeoauth.Google)
		q := b.authorize(t, authURL(b, nil))
		require.Equal(t, "access_denied", q.Get("error"))
		require.Equal(t, "xyz", q.Get("state"))
		require.Empty(t, q.Get("code"))
		q = b.authorize(t, authURL(b, nil))
		require.Empty(t, q.Get("error"))
		require.NotEmpty(t, q.Get("code"))
	})

	t.Run("KeepsRedirectURIQuery", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.RegisterClient("c2", "s2", "https://app.example.test/cb?tenant=acme")
		au, _, _ := b.srv.Endpoints(fakeoauth.GitHub)
		resp, _ := b.get(t, au+"?"+url.Values{
			"response_type": {"code"}, "client_id": {"c2"}, "redirect_uri": {"https://app.example.test/cb?tenant=acme"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}.Encode(), "")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "acme", loc.Query().Get("tenant"))
		require.NotEmpty(t, loc.Query().Get("code"))
		require.False(t, loc.Query().Has("state"))
	})

	t.Run("RejectsWrongMethod", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		au, _, _ := b.srv.Endpoints(fakeoauth.Microsoft)
		resp, err := b.http.Post(au, "application/x-www-form-urlencoded", strings.NewReader(""))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()

	t.Run("RejectsWrongVerifierAndSpendsCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf)
		_, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		requireRetrieveError(t, err, "invalid_grant")
		_, err = conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		requireRetrieveError(t, err, "invalid_grant")
	})

	t.Run("RejectsMissingVerifier", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.GitHub)
		code, _ := b.login(t, conf)
		_, err := conf.Exchange(b.ctx(), code)
		requireRetrieveError(t, err, "bad_verification_code")
	})

	t.Run("CodeReplayRevokesTokens", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf, oauth2.AccessTypeOffline)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, err = conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		requireRetrieveError(t, err, "invalid_grant")

		_, _, userinfo := b.srv.Endpoints(fakeoauth.Google)
		resp, _ := b.get(t, userinfo, "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		_, err = conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		requireRetrieveError(t, err, "invalid_grant")
	})

	t.Run("CodeExpiresAfterTenMinutes", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name    string
			elapsed time.Duration
			ok      bool
		}{{"JustBefore", fakeoauth.CodeTTL - time.Second, true}, {"AtExpiry", fakeoauth.CodeTTL, false}} {
			b := setup(t)
			var mu sync.Mutex
			now := time.Now()
			b.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			conf := b.config(fakeoauth.Microsoft, "openid")
			code, verifier := b.login(t, conf)
			mu.Lock()
			now = now.Add(tc.elapsed)
			mu.Unlock()
			_, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
			if tc.ok {
				require.NoError(t, err, tc.name)
			} else {
				requireRetrieveError(t, err, "invalid_grant")
			}
		}
	})

	t.Run("RejectsRedirectURIMismatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for provider, code := range map[string]string{fakeoauth.GitHub: "redirect_uri_mismatch", fakeoauth.Google: "invalid_grant"} {
			conf := b.config(provider, "openid")
			c, verifier := b.login(t, conf)
			conf.RedirectURL = "https://app.example.test/other"
			_, err := conf.Exchange(b.ctx(), c, oauth2.VerifierOption(verifier))
			requireRetrieveError(t, err, code)
		}
	})

	t.Run("RejectsCodeOfAnotherClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.RegisterClient("client-2", "other-secret", testRedirect)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf)
		conf.ClientID, conf.ClientSecret = "client-2", "other-secret"
		_, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		requireRetrieveError(t, err, "invalid_grant")
		require.Equal(t, []string{testClientID, "client-2"}, b.srv.SeenClientIDs(fakeoauth.Google))
	})

	t.Run("AuthenticatesClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			provider string
			style    oauth2.AuthStyle
			code     string
			status   int
		}{
			{fakeoauth.Google, oauth2.AuthStyleInParams, "invalid_client", http.StatusUnauthorized},
			{fakeoauth.Microsoft, oauth2.AuthStyleInHeader, "invalid_client", http.StatusUnauthorized},
			{fakeoauth.GitHub, oauth2.AuthStyleInParams, "incorrect_client_credentials", http.StatusOK},
		} {
			conf := b.config(tc.provider, "openid")
			code, verifier := b.login(t, conf)
			conf.ClientSecret = "wrong"
			conf.Endpoint.AuthStyle = tc.style
			_, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
			requireRetrieveError(t, err, tc.code)
			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.status, re.Response.StatusCode)
		}
	})

	t.Run("RefusesTwoClientAuthMethods", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, tokenURL, _ := b.srv.Endpoints(fakeoauth.Google)
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, tokenURL,
			strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_secret": {testSecret}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testClientID, testSecret)
		resp, err := b.http.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "invalid_request", decodeJSON(t, body)["error"])
	})

	t.Run("RejectsUnknownGrantType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google)
		_, err := conf.PasswordCredentialsToken(b.ctx(), "u", "p")
		requireRetrieveError(t, err, "unsupported_grant_type")
	})
}

func TestRefreshGrant(t *testing.T) {
	t.Parallel()

	t.Run("GoogleKeepsRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google, "openid", "email")
		code, verifier := b.login(t, conf, oauth2.AccessTypeOffline)
		first, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		for range 2 {
			tok, err := conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
			require.NoError(t, err)
			require.NotEqual(t, first.AccessToken, tok.AccessToken)
			require.Equal(t, first.RefreshToken, tok.RefreshToken, "x/oauth2 keeps the unrotated refresh token")
			require.Equal(t, "openid email", tok.Extra("scope"))
		}
		grants := 0
		for _, r := range b.srv.Requests() {
			if r.GrantType == "refresh_token" {
				grants++
			}
		}
		require.Equal(t, 2, grants)
	})

	t.Run("GoogleOnlineAccessHasNoRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		require.Empty(t, tok.RefreshToken)
	})

	t.Run("MicrosoftRotatesRefreshToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Microsoft, "openid", "email", "offline_access")
		code, verifier := b.login(t, conf)
		first, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		second, err := conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
		require.NoError(t, err)
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)
		_, err = conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
		requireRetrieveError(t, err, "invalid_grant")

		_, _, userinfo := b.srv.Endpoints(fakeoauth.Microsoft)
		resp, _ := b.get(t, userinfo, "Bearer "+second.AccessToken)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("NarrowsScope", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.Microsoft, "openid", "email", "offline_access")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, tokenURL, _ := b.srv.Endpoints(fakeoauth.Microsoft)
		post := func(scope string) (int, map[string]any) {
			resp, err := b.http.PostForm(tokenURL, url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {scope},
				"client_id": {testClientID}, "client_secret": {testSecret},
			})
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			return resp.StatusCode, decodeJSON(t, body)
		}
		status, m := post("openid User.ReadWrite")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_scope", m["error"])
		status, m = post("openid")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "openid", m["scope"])
	})

	t.Run("GitHubHasNoRefreshGrant", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conf := b.config(fakeoauth.GitHub)
		_, err := conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: "anything"}).Token()
		requireRetrieveError(t, err, "unsupported_grant_type")
	})

	t.Run("RejectsRefreshTokenOfAnotherClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.RegisterClient("client-2", "other-secret", testRedirect)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf, oauth2.AccessTypeOffline)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		conf.ClientID, conf.ClientSecret = "client-2", "other-secret"
		_, err = conf.TokenSource(b.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		requireRetrieveError(t, err, "invalid_grant")
	})
}

func TestUserAPI(t *testing.T) {
	t.Parallel()

	t.Run("RequiresLiveBearerTokenOfThatProvider", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var mu sync.Mutex
		now := time.Now()
		b.srv.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
		b.srv.SetAccessTokenTTL(5 * time.Minute)
		conf := b.config(fakeoauth.Google, "openid")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(5*time.Minute), tok.Expiry, time.Minute)

		_, _, google := b.srv.Endpoints(fakeoauth.Google)
		_, _, github := b.srv.Endpoints(fakeoauth.GitHub)
		_, _, microsoft := b.srv.Endpoints(fakeoauth.Microsoft)
		for _, tc := range []struct{ name, url, auth string }{
			{"NoHeader", google, ""},
			{"UnknownToken", google, "Bearer nope"},
			{"BasicScheme", google, "Basic " + tok.AccessToken},
			{"OtherProviderUserInfo", microsoft, "Bearer " + tok.AccessToken},
			{"OtherProviderGitHub", github + "/user", "Bearer " + tok.AccessToken},
		} {
			resp, body := b.get(t, tc.url, tc.auth)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, tc.name)
			require.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"), tc.name)
			require.NotEmpty(t, decodeJSON(t, body), tc.name)
		}

		resp, _ := b.get(t, google, "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		mu.Lock()
		now = now.Add(5 * time.Minute)
		mu.Unlock()
		resp, _ = b.get(t, google, "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "expired")
	})

	t.Run("GitHubEmailsNeedScope", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.SetUser(fakeoauth.GitHub, fakeoauth.User{ID: "7", Login: "noname", Email: "n@example.test"})
		conf := b.config(fakeoauth.GitHub, "read:user")
		code, verifier := b.login(t, conf)
		tok, err := conf.Exchange(b.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, _, api := b.srv.Endpoints(fakeoauth.GitHub)
		resp, body := b.get(t, api+"/user/emails", "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "Not Found", decodeJSON(t, body)["message"])
		_, body = b.get(t, api+"/user", "Bearer "+tok.AccessToken)
		require.JSONEq(t, `{"id":7,"login":"noname","name":null,"email":null,"type":"User"}`, string(body),
			"an unverified address is never the public email")
	})
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()

	t.Run("StartAndClose", func(t *testing.T) {
		t.Parallel()
		s := fakeoauth.New()
		require.Empty(t, s.URL())
		a, _, _ := s.Endpoints(fakeoauth.GitHub)
		require.Empty(t, a)
		base, err := s.Start()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"))
		require.Equal(t, base, s.URL())
		_, err = s.Start()
		require.Error(t, err)

		a, tk, u := s.Endpoints(fakeoauth.GitHub)
		require.Equal(t, []string{base + "/github/login/oauth/authorize", base + "/github/login/oauth/access_token", base + "/github/api"}, []string{a, tk, u})
		a, tk, u = s.Endpoints(fakeoauth.Google)
		require.Equal(t, []string{base + "/google/auth", base + "/google/token", base + "/google/userinfo"}, []string{a, tk, u})
		a, tk, u = s.Endpoints(fakeoauth.Microsoft)
		require.Equal(t, []string{base + "/microsoft/authorize", base + "/microsoft/token", base + "/microsoft/userinfo"}, []string{a, tk, u})
		a, tk, u = s.Endpoints("gitlab")
		require.Equal(t, []string{"", "", ""}, []string{a, tk, u})

		require.NoError(t, s.Close())
		resp, err := http.Get(base + "/google/userinfo") //nolint:noctx // short test request
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.Error(t, err)
	})

	t.Run("ServesAsHandler", func(t *testing.T) {
		t.Parallel()
		s := fakeoauth.New()
		require.NoError(t, s.Close())
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/google/userinfo", nil))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.Equal(t, []fakeoauth.Request{{
			Provider: fakeoauth.Google, Endpoint: fakeoauth.EndpointUserInfo, Method: http.MethodGet, Status: http.StatusUnauthorized,
		}}, s.Requests())
	})
}
