package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/oauth"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

func TestFetchProfileEmailVerification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		provider oauth.Name
		user     fakeoauth.User
		scopes   []string
		want     oauth.Profile
	}{
		{
			name:     "GitHubUnverifiedPrimaryIsNotVerifiedEvenWithVerifiedSecondary",
			provider: oauth.GitHub,
			user: fakeoauth.User{
				ID: "11", Login: "eve", Email: "victim@example.test",
				ExtraEmails: []fakeoauth.Email{{Address: "eve@example.test", Verified: true}},
			},
			want: oauth.Profile{ProviderUserID: "11", Email: "victim@example.test", Name: "eve"},
		},
		{
			name:     "GitHubNoPrimaryTakesUnverifiedEntry",
			provider: oauth.GitHub,
			user: fakeoauth.User{
				ID: "12", Login: "nomail",
				ExtraEmails: []fakeoauth.Email{{Address: "other@example.test"}},
			},
			want: oauth.Profile{ProviderUserID: "12", Email: "other@example.test", Name: "nomail"},
		},
		{
			name:     "GitHubNoEmailsAtAll",
			provider: oauth.GitHub,
			user:     fakeoauth.User{ID: "13", Login: "ghost", Name: "Ghost"},
			want:     oauth.Profile{ProviderUserID: "13", Name: "Ghost"},
		},
		{
			name:     "GitHubWithoutEmailScopeUsesPublicEmailUnverified",
			provider: oauth.GitHub,
			user:     fakeoauth.User{ID: "14", Login: "pub", Email: "pub@example.test", EmailVerified: true},
			scopes:   []string{"read:user"},
			want:     oauth.Profile{ProviderUserID: "14", Email: "pub@example.test", Name: "pub"},
		},
		{
			name:     "GoogleUnverified",
			provider: oauth.Google,
			user:     fakeoauth.User{ID: "g-1", Name: "G", Email: "g@example.test"},
			want:     oauth.Profile{ProviderUserID: "g-1", Email: "g@example.test", Name: "G"},
		},
		{
			name:     "GoogleWithoutEmailScope",
			provider: oauth.Google,
			user:     fakeoauth.User{ID: "g-2", Name: "G", Email: "g@example.test", EmailVerified: true},
			scopes:   []string{"openid", "profile"},
			want:     oauth.Profile{ProviderUserID: "g-2", Name: "G"},
		},
		{
			name:     "MicrosoftWithoutVerificationClaim",
			provider: oauth.Microsoft,
			user:     fakeoauth.User{ID: "m-1", Name: "M", Email: "ceo@victim.example.test"},
			want:     oauth.Profile{ProviderUserID: "m-1", Email: "ceo@victim.example.test", Name: "M"},
		},
		{
			name:     "MicrosoftWithEdovClaim",
			provider: oauth.Microsoft,
			user:     fakeoauth.User{ID: "m-2", Name: "M", Email: "m@example.test", EmailVerified: true},
			want:     oauth.Profile{ProviderUserID: "m-2", Email: "m@example.test", EmailVerified: true, Name: "M"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.SetUser(string(tc.provider), tc.user)
			c := b.client(t, tc.provider, func(cfg *oauth.Config) { cfg.Scopes = tc.scopes })
			p, err := c.FetchProfile(context.Background(), b.login(t, c))
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
		})
	}
}

func TestFetchProfileErrors(t *testing.T) {
	t.Parallel()

	t.Run("InvalidAccessToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			provider   oauth.Name
			code, desc string
		}{
			{oauth.GitHub, "", "Bad credentials"},
			{oauth.Google, "invalid_token", "Invalid Credentials"},
			{oauth.Microsoft, "InvalidAuthenticationToken", "Access token validation failure."},
		} {
			c := b.client(t, tc.provider)
			_, err := c.FetchProfile(context.Background(), oauth.Token{AccessToken: "forged-access-token"})
			pe := requireProviderError(t, err)
			require.Equal(t, oauth.ProviderError{
				Provider: tc.provider, Endpoint: oauth.EndpointUser, StatusCode: http.StatusUnauthorized,
				Code: tc.code, Description: tc.desc,
			}, *pe)
			require.NotContains(t, err.Error(), "forged-access-token")
		}
	})

	t.Run("EmptyAccessToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.client(t, oauth.Google).FetchProfile(context.Background(), oauth.Token{})
		require.ErrorIs(t, err, oauth.ErrInvalidArgument)
	})

	// serve returns a client whose user API is h.
	serve := func(t *testing.T, name oauth.Name, h http.HandlerFunc) *oauth.Client {
		t.Helper()
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c, err := oauth.New(oauth.Config{
			Provider: name, ClientID: "id", ClientSecret: "secret", RedirectURI: testRedirect,
			Endpoints:  oauth.Endpoints{UserAPIURL: srv.URL},
			HTTPClient: outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, 0),
		})
		require.NoError(t, err)
		return c
	}

	t.Run("BoundsResponseSize", func(t *testing.T) {
		t.Parallel()
		c := serve(t, oauth.Google, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"sub":"x","name":"` + strings.Repeat("a", oauth.MaxResponseBytes) + `"}`))
		})
		_, err := c.FetchProfile(context.Background(), oauth.Token{AccessToken: "at"})
		require.ErrorIs(t, err, outbound.ErrBodyTooLarge)
	})

	t.Run("RefusesMalformedProfile", func(t *testing.T) {
		t.Parallel()
		for name, body := range map[string]string{
			"NotJSON":         `<html>`,
			"NoSub":           `{"email":"a@example.test","email_verified":true}`,
			"NumericSub":      `{"sub":123}`,
			"EmailNotAString": `{"sub":"x","email":["a@example.test"]}`,
		} {
			c := serve(t, oauth.Google, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) })
			_, err := c.FetchProfile(context.Background(), oauth.Token{AccessToken: "at"})
			require.ErrorIs(t, err, oauth.ErrInvalidProfile, name)
		}
	})

	t.Run("GitHubEmailsServerErrorFails", func(t *testing.T) {
		t.Parallel()
		var (
			mu      sync.Mutex
			headers []http.Header
		)
		c := serve(t, oauth.GitHub, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			headers = append(headers, r.Header.Clone())
			mu.Unlock()
			if r.URL.Path == "/user" {
				_, _ = w.Write([]byte(`{"id":1,"login":"a"}`))
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		})
		_, err := c.FetchProfile(context.Background(), oauth.Token{AccessToken: "at"})
		pe := requireProviderError(t, err)
		require.Equal(t, http.StatusBadGateway, pe.StatusCode)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, headers, 2)
		for _, h := range headers {
			require.Equal(t, "Bearer at", h.Get("Authorization"))
			require.Equal(t, "application/vnd.github+json", h.Get("Accept"))
			require.NotEmpty(t, h.Get("User-Agent"))
		}
	})
}
