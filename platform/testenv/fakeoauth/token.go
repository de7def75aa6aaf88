package fakeoauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenError is an RFC 6749 §5.2 error answer.
type tokenError struct {
	status int
	code   string
	desc   string
}

// token serves the token endpoint: authorization_code for every flavour and
// refresh_token for Google and Microsoft.
func (s *Server) token(w http.ResponseWriter, r *http.Request, rec *Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeTokenError(w, r, rec.Provider, tokenError{http.StatusBadRequest, "invalid_request", "malformed form body"})
		return
	}
	form := r.PostForm
	rec.GrantType = form.Get("grant_type")
	clientID, secret, terr := clientCredentials(r)
	rec.ClientID = clientID
	if terr != nil {
		s.writeTokenError(w, r, rec.Provider, *terr)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	client, ok := s.clients[clientID]
	if !ok || subtle.ConstantTimeCompare([]byte(client.secret), []byte(secret)) != 1 {
		s.writeTokenError(w, r, rec.Provider, tokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"})
		return
	}
	var (
		resp map[string]any
		err  *tokenError
	)
	switch {
	case rec.GrantType == "authorization_code":
		resp, err = s.exchangeCode(r, rec.Provider, clientID, client.secret, form)
	case rec.GrantType == "refresh_token" && rec.Provider != GitHub:
		resp, err = s.refreshGrant(r, rec.Provider, clientID, form)
	default:
		err = &tokenError{http.StatusBadRequest, "unsupported_grant_type", "grant_type is not supported"}
	}
	if err != nil {
		s.writeTokenError(w, r, rec.Provider, *err)
		return
	}
	writeTokenResponse(w, r, rec.Provider, resp)
}

// clientCredentials reads HTTP Basic (RFC 6749 §2.3.1, form-encoded parts)
// or the client_id/client_secret form fields; using both is refused.
func clientCredentials(r *http.Request) (string, string, *tokenError) {
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	user, pass, basic := r.BasicAuth()
	if !basic {
		return formID, formSecret, nil
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	switch {
	case err1 != nil || err2 != nil:
		return "", "", &tokenError{http.StatusBadRequest, "invalid_request", "malformed basic credentials"}
	case formSecret != "" || formID != "" && formID != id:
		return id, "", &tokenError{http.StatusBadRequest, "invalid_request", "more than one client authentication method"}
	default:
		return id, secret, nil
	}
}

// exchangeCode redeems an authorization code; s.mu is held. The code is
// spent by the first attempt whatever its outcome, and presenting it again
// revokes the tokens it produced (RFC 6749 §4.1.2).
func (s *Server) exchangeCode(r *http.Request, provider, clientID, secret string, form url.Values) (map[string]any, *tokenError) {
	invalid := func(desc string) *tokenError {
		code := "invalid_grant"
		if provider == GitHub {
			code = "bad_verification_code"
		}
		return &tokenError{http.StatusBadRequest, code, desc}
	}
	ac := s.codes[form.Get("code")]
	switch {
	case ac == nil || ac.provider != provider:
		return nil, invalid("unknown code")
	case ac.used:
		for _, t := range ac.tokens {
			delete(s.access, t)
			delete(s.refresh, t)
		}
		return nil, invalid("code already used")
	}
	ac.used = true
	switch {
	case !s.now().Before(ac.expiresAt):
		return nil, invalid("code expired")
	case ac.clientID != clientID:
		return nil, invalid("code was issued to another client")
	case form.Get("redirect_uri") != ac.redirectURI:
		if provider == GitHub {
			return nil, &tokenError{http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri does not match"}
		}
		return nil, invalid("redirect_uri does not match")
	case !verifierMatches(form.Get("code_verifier"), ac.challenge):
		return nil, invalid("PKCE verification failed")
	}
	g := &grant{
		provider: provider, clientID: clientID, secret: secret, user: ac.user,
		scopes: ac.scopes, offline: ac.offline, nonce: ac.nonce,
	}
	resp, issued := s.issue(r, g, true)
	ac.tokens = issued
	return resp, nil
}

// refreshGrant serves grant_type=refresh_token; s.mu is held. An optional
// scope must be a subset of the original grant. Microsoft rotates the
// refresh token; Google keeps it and does not repeat it.
func (s *Server) refreshGrant(r *http.Request, provider, clientID string, form url.Values) (map[string]any, *tokenError) {
	rt := form.Get("refresh_token")
	g := s.refresh[rt]
	if g == nil || g.provider != provider || g.clientID != clientID {
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "refresh token is invalid or revoked"}
	}
	ng := *g
	if scope := splitScopes(form.Get("scope")); len(scope) > 0 {
		for _, sc := range scope {
			if !slices.Contains(g.scopes, sc) {
				return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "scope exceeds the original grant"}
			}
		}
		ng.scopes = scope
	}
	rotate := provider == Microsoft
	if rotate {
		delete(s.refresh, rt)
	}
	resp, _ := s.issue(r, &ng, rotate)
	return resp, nil
}

// issue mints an access token for g (and a refresh token when g is offline
// and withRefresh), stores them and returns the response fields and the
// tokens minted; s.mu is held.
func (s *Server) issue(r *http.Request, g *grant, withRefresh bool) (map[string]any, []string) {
	now := s.now()
	prefix := map[string]string{GitHub: "gho_", Google: "ya29.", Microsoft: "EwB"}[g.provider]
	at := randomToken(prefix)
	ag := *g
	ag.expiresAt = now.Add(s.accessTTL)
	s.access[at] = &ag
	issued := []string{at}

	resp := map[string]any{"access_token": at}
	if g.provider == GitHub {
		resp["token_type"] = "bearer"
		resp["scope"] = strings.Join(g.scopes, ",")
		return resp, issued
	}
	resp["token_type"] = "Bearer"
	resp["scope"] = strings.Join(g.scopes, " ")
	resp["expires_in"] = int(s.accessTTL / time.Second)
	if g.provider == Microsoft {
		resp["ext_expires_in"] = resp["expires_in"]
	}
	if g.offline && withRefresh {
		rt := randomToken("1//")
		rg := *g
		s.refresh[rt] = &rg
		resp["refresh_token"] = rt
		issued = append(issued, rt)
	}
	if slices.Contains(g.scopes, "openid") {
		if idt, err := s.idToken(r, g, now); err == nil {
			resp["id_token"] = idt
		}
	}
	return resp, issued
}

// idToken signs an OpenID Connect ID token with HS256 keyed by the client
// secret (allowed for confidential clients, OIDC Core §10.1).
func (s *Server) idToken(r *http.Request, g *grant, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss": "http://" + r.Host + "/" + g.provider,
		"sub": g.user.ID,
		"aud": g.clientID,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if slices.Contains(g.scopes, "email") && g.user.Email != "" {
		claims["email"] = g.user.Email
		if g.provider == Google {
			claims["email_verified"] = g.user.EmailVerified
		} else if g.user.EmailVerified {
			claims["xms_edov"] = true
		}
	}
	if slices.Contains(g.scopes, "profile") && g.user.Name != "" {
		claims["name"] = g.user.Name
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(g.secret))
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return signed, nil
}

// verifierMatches checks an RFC 7636 S256 verifier against the challenge.
func verifierMatches(verifier, challenge string) bool {
	if !validPKCEValue(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// wantsJSON reports whether a GitHub client asked for JSON.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// writeTokenResponse writes a successful token answer in the flavour's
// format.
func writeTokenResponse(w http.ResponseWriter, r *http.Request, provider string, resp map[string]any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if provider == GitHub && !wantsJSON(r) {
		v := url.Values{}
		for k, val := range resp {
			switch val := val.(type) {
			case string:
				v.Set(k, val)
			case int:
				v.Set(k, strconv.Itoa(val))
			}
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeTokenError writes an error answer. GitHub reports token errors with
// status 200 (form-encoded unless JSON was asked for) and calls a failed
// client authentication incorrect_client_credentials.
func (s *Server) writeTokenError(w http.ResponseWriter, r *http.Request, provider string, e tokenError) {
	w.Header().Set("Cache-Control", "no-store")
	if provider == GitHub {
		code := e.code
		if code == "invalid_client" {
			code = "incorrect_client_credentials"
		}
		v := url.Values{"error": {code}, "error_description": {e.desc}}
		if wantsJSON(r) {
			writeJSON(w, http.StatusOK, map[string]string{"error": code, "error_description": e.desc})
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
