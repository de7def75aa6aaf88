package fakeoauth

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authorize serves the authorization endpoint (RFC 6749 §4.1.1 with RFC
// 7636 PKCE). A bad client_id or redirect_uri is answered with a 400 page,
// never a redirect (§4.1.2.1); every other problem, and a denial, redirects
// back with ?error=.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rec *Request) {
	q := r.URL.Query()
	provider := rec.Provider
	rec.ClientID = q.Get("client_id")
	redirectURI := q.Get("redirect_uri")

	s.mu.Lock()
	defer s.mu.Unlock()
	client, ok := s.clients[rec.ClientID]
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if redirectURI == "" || !slices.Contains(client.redirectURIs, redirectURI) {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		redirectBack(w, r, redirectURI, url.Values{"error": {code}, "error_description": {desc}}, state)
	}
	scopes := splitScopes(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case !validPKCEValue(q.Get("code_challenge")) || len(q.Get("code_challenge")) != 43:
		fail("invalid_request", "code_challenge must be a base64url SHA-256 hash")
		return
	case provider != GitHub && len(scopes) == 0:
		fail("invalid_request", "scope is required")
		return
	case s.deny[provider] > 0:
		s.deny[provider]--
		fail("access_denied", "The user denied the request")
		return
	}

	code := randomToken("code_")
	s.codes[code] = &authCode{
		provider:    provider,
		clientID:    rec.ClientID,
		redirectURI: redirectURI,
		challenge:   q.Get("code_challenge"),
		scopes:      scopes,
		offline: provider == Google && q.Get("access_type") == "offline" ||
			provider == Microsoft && slices.Contains(scopes, "offline_access"),
		nonce:     q.Get("nonce"),
		user:      s.users[provider],
		expiresAt: s.now().Add(CodeTTL),
	}
	redirectBack(w, r, redirectURI, url.Values{"code": {code}}, state)
}

// redirectBack answers 302 to redirectURI with params (and state, when the
// client sent one) added to its query.
func redirectBack(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// splitScopes splits a scope parameter on spaces (and commas, which GitHub
// also accepts), dropping duplicates.
func splitScopes(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// validPKCEValue checks the RFC 7636 character set and length (43-128) of a
// verifier; a S256 challenge is the 43-character subset.
func validPKCEValue(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '.' || r == '_' || r == '~'
		if !ok {
			return false
		}
	}
	return true
}
