package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/authos/authos/platform/outbound"
)

// Limits on profile fields; a provider answering with longer values is
// refused with ErrInvalidProfile rather than truncated.
const (
	maxUserIDLen = 255
	maxEmailLen  = 320
)

// Profile is the provider's view of the signed-in user.
type Profile struct {
	// ProviderUserID is the stable account id: GitHub's numeric id in
	// decimal, Google's and Microsoft's OpenID Connect sub. Never empty.
	ProviderUserID string
	// Email may be empty. It is not normalized: callers lowercase and
	// validate it as they do any email.
	Email string
	// EmailVerified is true only when the provider asserts that Email is
	// verified; see [Client.FetchProfile]. Never true when Email is empty.
	EmailVerified bool
	// Name is the display name (GitHub falls back to the login); may be
	// empty.
	Name string
}

// FetchProfile calls the provider's user API with tok's access token.
//
//   - GitHub: GET {UserAPIURL}/user for id, login and name, then GET
//     {UserAPIURL}/user/emails. Email is the entry that is primary and
//     verified, with EmailVerified true. Without such an entry EmailVerified
//     is false and Email is the best unverified candidate (the primary entry,
//     else the public profile email, else the first entry) or empty. A 403 or
//     404 from /user/emails (token without the user:email scope) is treated
//     as "no verified email", not as a failure.
//   - Google: GET {UserAPIURL} (userinfo). EmailVerified is true only when
//     email_verified is the boolean true or the string "true".
//   - Microsoft: GET {UserAPIURL} (Graph OIDC userinfo). EmailVerified is
//     true only when the answer carries email_verified or xms_edov equal to
//     true. Graph's userinfo normally carries neither: an Entra ID user's
//     email claim is the mail attribute, which tenant administrators can set
//     to any address without verification, so trusting it would let anyone
//     with their own tenant take over accounts by email (the "nOAuth"
//     problem). Microsoft logins therefore normally yield an unverified
//     email, and the caller must not link by it.
//
// A non-2xx answer is a [*ProviderError] (401 for an expired or revoked
// token); a 2xx answer that is not a usable profile wraps
// [ErrInvalidProfile].
func (c *Client) FetchProfile(ctx context.Context, tok Token) (Profile, error) {
	if tok.AccessToken == "" {
		return Profile{}, fmt.Errorf("fetch %s profile: empty access token: %w", c.name, ErrInvalidArgument)
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	var (
		p   Profile
		err error
	)
	if c.name == GitHub {
		p, err = c.githubProfile(ctx, tok.AccessToken)
	} else {
		var body []byte
		body, err = c.getJSON(ctx, c.endpoints.UserAPIURL, tok.AccessToken)
		if err == nil {
			p, err = parseUserInfo(c.name, body)
		}
	}
	if err != nil {
		return Profile{}, fmt.Errorf("fetch %s profile: %w", c.name, err)
	}
	return p, nil
}

// githubProfile reads /user and /user/emails.
func (c *Client) githubProfile(ctx context.Context, accessToken string) (Profile, error) {
	base := strings.TrimSuffix(c.endpoints.UserAPIURL, "/")
	body, err := c.getJSON(ctx, base+"/user", accessToken)
	if err != nil {
		return Profile{}, err
	}
	user, err := parseGitHubUser(body)
	if err != nil {
		return Profile{}, err
	}
	var emails []gitHubEmail
	body, err = c.getJSON(ctx, base+"/user/emails", accessToken)
	var pe *ProviderError
	switch {
	case errors.As(err, &pe) && (pe.StatusCode == http.StatusForbidden || pe.StatusCode == http.StatusNotFound):
		// No user:email scope: only the public profile email is known.
	case err != nil:
		return Profile{}, err
	default:
		if emails, err = parseGitHubEmails(body); err != nil {
			return Profile{}, err
		}
	}
	p := Profile{ProviderUserID: user.id, Name: user.name}
	p.Email, p.EmailVerified = chooseGitHubEmail(user.email, emails)
	return p, nil
}

// getJSON performs an authenticated GET and returns the 2xx body, read up to
// MaxResponseBytes.
func (c *Client) getJSON(ctx context.Context, rawURL, accessToken string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("build user api request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("User-Agent", "AuthOS") // GitHub refuses requests without one
	if c.name == GitHub {
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call user api: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, readErr := outbound.ReadLimited(resp.Body, MaxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, providerErrorFromResponse(c.name, EndpointUser, resp.StatusCode, body)
	}
	if readErr != nil {
		return nil, fmt.Errorf("read user api response: %w", readErr)
	}
	return body, nil
}

// gitHubUser is the part of GET /user that is used.
type gitHubUser struct {
	id    string
	name  string
	email string
}

// parseGitHubUser parses GET /user. The id must be a positive JSON integer.
func parseGitHubUser(body []byte) (gitHubUser, error) {
	var raw struct {
		ID    json.RawMessage `json:"id"`
		Login string          `json:"login"`
		Name  *string         `json:"name"`
		Email *string         `json:"email"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return gitHubUser{}, fmt.Errorf("parse github user: %w", errors.Join(ErrInvalidProfile, err))
	}
	id := string(bytes.TrimSpace(raw.ID))
	if n, err := strconv.ParseUint(id, 10, 64); err != nil || n == 0 || id != strconv.FormatUint(n, 10) {
		return gitHubUser{}, fmt.Errorf("parse github user: id is not a positive integer: %w", ErrInvalidProfile)
	}
	u := gitHubUser{id: id, name: raw.Login}
	if raw.Name != nil && *raw.Name != "" {
		u.name = *raw.Name
	}
	if raw.Email != nil {
		u.email = *raw.Email
	}
	if len(u.email) > maxEmailLen {
		return gitHubUser{}, fmt.Errorf("parse github user: email too long: %w", ErrInvalidProfile)
	}
	return u, nil
}

// gitHubEmail is one entry of GET /user/emails.
type gitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// parseGitHubEmails parses GET /user/emails. Wrong types fail the whole
// answer: a "verified" that is not a JSON boolean is never taken as true.
func parseGitHubEmails(body []byte) ([]gitHubEmail, error) {
	var emails []gitHubEmail
	if err := json.Unmarshal(body, &emails); err != nil {
		return nil, fmt.Errorf("parse github emails: %w", errors.Join(ErrInvalidProfile, err))
	}
	for _, e := range emails {
		if len(e.Email) > maxEmailLen {
			return nil, fmt.Errorf("parse github emails: email too long: %w", ErrInvalidProfile)
		}
	}
	return emails, nil
}

// chooseGitHubEmail picks the primary verified address, or else the best
// unverified candidate with verified=false.
func chooseGitHubEmail(public string, emails []gitHubEmail) (string, bool) {
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			return e.Email, true
		}
	}
	for _, e := range emails {
		if e.Primary && e.Email != "" {
			return e.Email, false
		}
	}
	if public != "" {
		return public, false
	}
	for _, e := range emails {
		if e.Email != "" {
			return e.Email, false
		}
	}
	return "", false
}

// parseUserInfo parses an OpenID Connect userinfo answer from Google or
// Microsoft; see FetchProfile for when the email counts as verified.
func parseUserInfo(n Name, body []byte) (Profile, error) {
	var raw struct {
		Sub           string          `json:"sub"`
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		XMSEdov       json.RawMessage `json:"xms_edov"`
		Name          string          `json:"name"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Profile{}, fmt.Errorf("parse %s userinfo: %w", n, errors.Join(ErrInvalidProfile, err))
	}
	switch {
	case raw.Sub == "":
		return Profile{}, fmt.Errorf("parse %s userinfo: no sub: %w", n, ErrInvalidProfile)
	case len(raw.Sub) > maxUserIDLen:
		return Profile{}, fmt.Errorf("parse %s userinfo: sub too long: %w", n, ErrInvalidProfile)
	case len(raw.Email) > maxEmailLen:
		return Profile{}, fmt.Errorf("parse %s userinfo: email too long: %w", n, ErrInvalidProfile)
	}
	verified := assertsTrue(raw.EmailVerified)
	if n == Microsoft {
		verified = verified || assertsTrue(raw.XMSEdov)
	}
	return Profile{
		ProviderUserID: raw.Sub,
		Email:          raw.Email,
		EmailVerified:  verified && raw.Email != "",
		Name:           raw.Name,
	}, nil
}

// assertsTrue reports whether a claim is the JSON boolean true or the JSON
// string "true" (some providers stringify booleans). Anything else,
// including absence, is false.
func assertsTrue(claim json.RawMessage) bool {
	switch string(bytes.TrimSpace(claim)) {
	case `true`, `"true"`:
		return true
	default:
		return false
	}
}
