package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// RequestTimeout bounds every request to a provider, on top of the
// http.Client's own timeout and the caller's context.
const RequestTimeout = 10 * time.Second

// MaxResponseBytes bounds every provider response body that is read.
// golang.org/x/oauth2 applies the same 1 MiB limit to token responses.
const MaxResponseBytes = 1 << 20

// Config is what a [Client] is built from: one provider with one set of
// credentials (the org's BYOO app or the platform app).
type Config struct {
	// Provider is github, google or microsoft.
	Provider Name
	// Endpoints overrides the provider URLs; empty fields mean
	// [DefaultEndpoints].
	Endpoints Endpoints
	// ClientID and ClientSecret are the OAuth app's credentials. Both are
	// required; the secret is sent in the token request body, never logged.
	ClientID     string
	ClientSecret string
	// RedirectURI is AuthOS's callback URL registered with the provider,
	// e.g. https://auth.example.com/auth/github/callback.
	RedirectURI string
	// Scopes are the scopes to request; empty means [DefaultScopes].
	Scopes []string
	// HTTPClient carries every request; pass the SSRF-safe client from
	// platform/outbound. Required.
	HTTPClient *http.Client
}

// Client talks to one provider with one set of credentials. It is safe for
// concurrent use and cheap to build per request.
type Client struct {
	name       Name
	endpoints  Endpoints
	scopes     []string
	conf       *oauth2.Config
	httpClient *http.Client
}

// New validates cfg and returns a Client. Every problem is reported, joined
// into one error.
func New(cfg Config) (*Client, error) {
	var errs []error
	if _, err := ParseName(string(cfg.Provider)); err != nil {
		errs = append(errs, err)
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if cfg.ClientSecret == "" {
		errs = append(errs, errors.New("client secret is required"))
	}
	if cfg.HTTPClient == nil {
		errs = append(errs, errors.New("http client is required"))
	}
	ep := cfg.Endpoints.withDefaults(cfg.Provider)
	for _, u := range []struct{ name, value string }{
		{"redirect uri", cfg.RedirectURI},
		{"auth url", ep.AuthURL},
		{"token url", ep.TokenURL},
		{"user api url", ep.UserAPIURL},
	} {
		if err := checkHTTPURL(u.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
	}
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = DefaultScopes(cfg.Provider)
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			errs = append(errs, fmt.Errorf("scope %q is empty or contains white space", s))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new oauth client: %w", err)
	}
	return &Client{
		name:      cfg.Provider,
		endpoints: ep,
		scopes:    scopes,
		conf: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURI,
			Scopes:       requestScopes(cfg.Provider, scopes),
			Endpoint: oauth2.Endpoint{
				AuthURL:  ep.AuthURL,
				TokenURL: ep.TokenURL,
				// All three accept credentials in the body; fixing the style
				// avoids x/oauth2's probing, which sends the secret twice.
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		httpClient: cfg.HTTPClient,
	}, nil
}

// checkHTTPURL accepts an absolute http(s) URL with a host and no fragment.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("is required")
	case err != nil:
		return errors.New("is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return errors.New("must be an absolute http(s) URL")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	default:
		return nil
	}
}

// Provider returns the provider the client talks to.
func (c *Client) Provider() Name { return c.name }

// Endpoints returns the effective endpoints, defaults filled in.
func (c *Client) Endpoints() Endpoints { return c.endpoints }

// Scopes returns the configured scopes (the defaults when none were given),
// without Microsoft's implicit offline_access. The slice is a copy.
func (c *Client) Scopes() []string { return slices.Clone(c.scopes) }

// NewVerifier returns a fresh PKCE code verifier (32 random bytes,
// base64url: 43 characters). Store it with the state and pass it to both
// [Client.AuthCodeURL] and [Client.Exchange].
func NewVerifier() string { return oauth2.GenerateVerifier() }

// reservedAuthParam reports whether key is an authorize parameter the client
// sets itself, which AuthCodeURL does not let extra override.
func reservedAuthParam(key string) bool {
	switch key {
	case "response_type", "client_id", "redirect_uri", "scope", "state",
		"code_challenge", "code_challenge_method", "code_verifier":
		return true
	default:
		return false
	}
}

// AuthCodeURL returns the provider's authorize URL for state, with the S256
// PKCE challenge of verifier. Google requests also carry
// access_type=offline and Microsoft requests the offline_access scope, so
// that both issue refresh tokens (spec §3.2). Note that Google returns a
// refresh token only on the user's first consent unless extra carries
// prompt=consent.
//
// extra adds provider parameters such as prompt, login_hint or nonce; each
// must have a single value, and the parameters the client sets itself
// (client_id, redirect_uri, scope, state, PKCE, response_type) are refused.
// Errors wrap [ErrInvalidArgument].
func (c *Client) AuthCodeURL(state, verifier string, extra url.Values) (string, error) {
	if state == "" {
		return "", fmt.Errorf("auth code url: empty state: %w", ErrInvalidArgument)
	}
	if err := checkVerifier(verifier); err != nil {
		return "", fmt.Errorf("auth code url: %w", err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if c.name == Google {
		opts = append(opts, oauth2.AccessTypeOffline)
	}
	for key, values := range extra {
		if reservedAuthParam(key) {
			return "", fmt.Errorf("auth code url: parameter %q is set by the client: %w", key, ErrInvalidArgument)
		}
		if len(values) != 1 {
			return "", fmt.Errorf("auth code url: parameter %q needs exactly one value: %w", key, ErrInvalidArgument)
		}
		opts = append(opts, oauth2.SetAuthURLParam(key, values[0]))
	}
	return c.conf.AuthCodeURL(state, opts...), nil
}

// checkVerifier applies RFC 7636 §4.1: 43 to 128 characters from
// [A-Za-z0-9-._~].
func checkVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 {
		return fmt.Errorf("pkce verifier must be 43 to 128 characters: %w", ErrInvalidArgument)
	}
	for _, r := range v {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '.' || r == '_' || r == '~'
		if !ok {
			return fmt.Errorf("pkce verifier has a character outside [A-Za-z0-9-._~]: %w", ErrInvalidArgument)
		}
	}
	return nil
}

// Exchange trades the callback's code for tokens, sending the PKCE verifier
// and the client credentials. When the provider does not say which scopes it
// granted, Token.Scopes are the requested ones (RFC 6749 §5.1). A refusal by
// the token endpoint (invalid_grant for a reused code or wrong verifier,
// invalid_client, GitHub's bad_verification_code, …) is a [*ProviderError].
func (c *Client) Exchange(ctx context.Context, code, verifier string) (Token, error) {
	if code == "" {
		return Token{}, fmt.Errorf("exchange code: empty code: %w", ErrInvalidArgument)
	}
	if err := checkVerifier(verifier); err != nil {
		return Token{}, fmt.Errorf("exchange code: %w", err)
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	tok, err := c.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Token{}, fmt.Errorf("exchange code: %w", c.tokenError(err))
	}
	return c.toToken(tok, c.conf.Scopes), nil
}

// Refresh uses refreshToken to obtain a new access token from Google or
// Microsoft; GitHub returns [ErrNotRefreshable]. When the provider does not
// rotate the refresh token (Google), Token.RefreshToken is the one passed
// in. Token.Scopes is nil when the provider does not say which scopes the new
// token has: they are then the originally granted ones (RFC 6749 §6), which
// the caller has stored. A revoked or expired refresh token is a
// [*ProviderError] with Code "invalid_grant".
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	if !c.name.Refreshable() {
		return Token{}, fmt.Errorf("refresh %s token: %w", c.name, ErrNotRefreshable)
	}
	if refreshToken == "" {
		return Token{}, fmt.Errorf("refresh %s token: empty refresh token: %w", c.name, ErrInvalidArgument)
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	// A token without an access token is never valid, so the source goes
	// straight to the refresh_token grant.
	tok, err := c.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Token{}, fmt.Errorf("refresh %s token: %w", c.name, c.tokenError(err))
	}
	return c.toToken(tok, nil), nil
}

// requestContext bounds a provider call by RequestTimeout and hands the
// configured http.Client to x/oauth2.
func (c *Client) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)
	return context.WithTimeout(ctx, RequestTimeout)
}

// tokenError turns x/oauth2's RetrieveError (whose message may quote the
// response body) into a ProviderError, and leaves other errors (transport,
// context, malformed response) as they are: none of them carries the
// request body, so none carries the secret, code or verifier.
func (c *Client) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	pe := &ProviderError{
		Provider:    c.name,
		Endpoint:    EndpointToken,
		Code:        sanitize(re.ErrorCode),
		Description: sanitize(re.ErrorDescription),
	}
	if re.Response != nil {
		pe.StatusCode = re.Response.StatusCode
	}
	return pe
}
