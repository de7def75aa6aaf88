package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Every error this package returns wraps one of these, a
// [*ProviderError], a context error or a transport error.
var (
	// ErrUnknownProvider is returned for a provider name other than github,
	// google or microsoft.
	ErrUnknownProvider = errors.New("unknown oauth provider")
	// ErrNotRefreshable is returned by [Client.Refresh] for GitHub.
	ErrNotRefreshable = errors.New("provider tokens cannot be refreshed")
	// ErrInvalidProfile is returned when the provider's user API answers 200
	// with a body that is not a usable profile (no user id, wrong types).
	ErrInvalidProfile = errors.New("invalid provider profile")
	// ErrInvalidArgument is returned for an empty state, code or token, or a
	// malformed PKCE verifier.
	ErrInvalidArgument = errors.New("invalid argument")
)

// CodeAccessDenied is the RFC 6749 error code a provider returns when the
// user refuses consent.
const CodeAccessDenied = "access_denied"

// Provider endpoints as named in [ProviderError.Endpoint].
const (
	EndpointAuthorize = "authorize"
	EndpointToken     = "token"
	EndpointUser      = "user"
)

// maxErrorText bounds the provider-supplied code and description kept in a
// ProviderError.
const maxErrorText = 256

// ProviderError is an error the provider reported: the ?error= of the
// callback redirect, an RFC 6749 §5.2 token endpoint error, or a non-2xx
// answer of the user API. Code and Description come from the provider
// (untrusted: control characters are removed and the length bounded, but
// escape them before putting them in HTML).
type ProviderError struct {
	Provider Name
	// Endpoint is EndpointAuthorize, EndpointToken or EndpointUser.
	Endpoint string
	// StatusCode is the HTTP status of the provider's answer; 0 for the
	// authorize redirect.
	StatusCode int
	// Code is the RFC 6749 error code ("access_denied", "invalid_grant",
	// …) or the provider's own code; empty when the provider gave none.
	Code string
	// Description is the provider's human-readable explanation, if any.
	Description string
}

// Error describes the failure without any secret or token.
func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s endpoint", e.Provider, e.Endpoint)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", e.Description)
	}
	return b.String()
}

// AccessDenied reports whether the user refused consent.
func (e *ProviderError) AccessDenied() bool { return e.Code == CodeAccessDenied }

// CallbackError returns the [*ProviderError] carried by the query of a
// callback redirect (?error=access_denied&error_description=…), or nil when
// the query has no error parameter.
func CallbackError(provider Name, query url.Values) error {
	if !query.Has("error") {
		return nil
	}
	code := sanitize(query.Get("error"))
	if code == "" {
		code = "unknown_error"
	}
	return &ProviderError{
		Provider:    provider,
		Endpoint:    EndpointAuthorize,
		Code:        code,
		Description: sanitize(query.Get("error_description")),
	}
}

// errorBody covers the error shapes of the three providers: RFC 6749
// {"error": "...", "error_description": "..."} (Google, Microsoft token
// endpoint), Microsoft Graph {"error": {"code": "...", "message": "..."}}
// and GitHub {"message": "..."}.
type errorBody struct {
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Message          string          `json:"message"`
}

// providerErrorFromResponse builds the ProviderError of a non-2xx answer from
// its (possibly truncated, possibly non-JSON) body.
func providerErrorFromResponse(n Name, endpoint string, status int, body []byte) *ProviderError {
	pe := &ProviderError{Provider: n, Endpoint: endpoint, StatusCode: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return pe
	}
	var code string
	var graph struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	switch {
	case json.Unmarshal(eb.Error, &code) == nil:
		pe.Code = sanitize(code)
		pe.Description = sanitize(eb.ErrorDescription)
	case json.Unmarshal(eb.Error, &graph) == nil:
		pe.Code = sanitize(graph.Code)
		pe.Description = sanitize(graph.Message)
	}
	if pe.Description == "" {
		pe.Description = sanitize(eb.Message)
	}
	return pe
}

// sanitize removes control and non-printable characters and bounds s to
// maxErrorText bytes, cutting at a rune boundary.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), maxErrorText)
}

// truncate returns s cut to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
