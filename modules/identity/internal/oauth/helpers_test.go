package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/oauth"
	"github.com/authos/authos/platform/outbound"
	"github.com/authos/authos/platform/testenv/fakeoauth"
)

const (
	testClientID = "authos-client"
	testSecret   = "very-secret-client-secret"
	testRedirect = "https://auth.example.test/auth/callback"
	testState    = "state-123"
)

// testBundle is a fake provider with one registered client, and the
// SSRF-safe outbound client (loopback allowed) the oauth clients use.
type testBundle struct {
	fake    *fakeoauth.Server
	http    *http.Client
	browser *http.Client // plays the user's browser: does not follow redirects
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	fake := fakeoauth.Start(t)
	fake.RegisterClient(testClientID, testSecret, testRedirect)
	return &testBundle{
		fake: fake,
		http: outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, 5*time.Second),
		browser: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// config returns a valid Config pointing at the fake.
func (b *testBundle) config(name oauth.Name) oauth.Config {
	authURL, tokenURL, userURL := b.fake.Endpoints(string(name))
	return oauth.Config{
		Provider:     name,
		Endpoints:    oauth.Endpoints{AuthURL: authURL, TokenURL: tokenURL, UserAPIURL: userURL},
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURI:  testRedirect,
		HTTPClient:   b.http,
	}
}

// client builds a Client for name, letting mutate adjust the config.
func (b *testBundle) client(t *testing.T, name oauth.Name, mutate ...func(*oauth.Config)) *oauth.Client {
	t.Helper()
	cfg := b.config(name)
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := oauth.New(cfg)
	require.NoError(t, err)
	return c
}

// authorize sends the browser to c's authorize URL and returns the query of
// the redirect back to the callback, and the verifier used.
func (b *testBundle) authorize(t *testing.T, c *oauth.Client, extra url.Values) (url.Values, string) {
	t.Helper()
	verifier := oauth.NewVerifier()
	authURL, err := c.AuthCodeURL(testState, verifier, extra)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := b.browser.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, testRedirect, loc.Scheme+"://"+loc.Host+loc.Path)
	require.Equal(t, testState, loc.Query().Get("state"))
	return loc.Query(), verifier
}

// login runs authorize and exchanges the code.
func (b *testBundle) login(t *testing.T, c *oauth.Client) oauth.Token {
	t.Helper()
	q, verifier := b.authorize(t, c, nil)
	require.NoError(t, oauth.CallbackError(c.Provider(), q))
	tok, err := c.Exchange(context.Background(), q.Get("code"), verifier)
	require.NoError(t, err)
	return tok
}

// countRequests counts the fake's requests to endpoint of provider.
func (b *testBundle) countRequests(provider oauth.Name, endpoint string) int {
	n := 0
	for _, r := range b.fake.Requests() {
		if r.Provider == string(provider) && r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// requireProviderError asserts err wraps a ProviderError and returns it.
func requireProviderError(t *testing.T, err error) *oauth.ProviderError {
	t.Helper()
	var pe *oauth.ProviderError
	require.ErrorAs(t, err, &pe)
	return pe
}
