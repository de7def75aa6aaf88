package fakeoauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// bearer returns the live access-token grant of the request for provider,
// or nil after writing the provider's 401 answer. GitHub also accepts the
// "token" scheme. s.mu must be held.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request, provider string) *grant {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	okScheme := strings.EqualFold(scheme, "Bearer") || provider == GitHub && strings.EqualFold(scheme, "token")
	g := s.access[tok]
	if okScheme && tok != "" && g != nil && g.provider == provider && s.now().Before(g.expiresAt) {
		return g
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	switch provider {
	case GitHub:
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
		})
	case Microsoft:
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": map[string]string{"code": "InvalidAuthenticationToken", "message": "Access token validation failure."},
		})
	default:
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "invalid_token", "error_description": "Invalid Credentials",
		})
	}
	return nil
}

// githubUser serves GET /user. The public email is shown only when it is
// verified, as GitHub only lets verified addresses be public.
func (s *Server) githubUser(w http.ResponseWriter, r *http.Request, rec *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.bearer(w, r, rec.Provider)
	if g == nil {
		return
	}
	rec.ClientID = g.clientID
	u := g.user
	body := map[string]any{"login": u.Login, "type": "User", "name": nil, "email": nil}
	if _, err := strconv.ParseUint(u.ID, 10, 64); err == nil {
		body["id"] = json.Number(u.ID)
	} else {
		body["id"] = u.ID
	}
	if u.Name != "" {
		body["name"] = u.Name
	}
	if u.Email != "" && u.EmailVerified {
		body["email"] = u.Email
	}
	writeJSON(w, http.StatusOK, body)
}

// githubEmails serves GET /user/emails, which needs the user:email (or user)
// scope; without it GitHub answers 404.
func (s *Server) githubEmails(w http.ResponseWriter, r *http.Request, rec *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.bearer(w, r, rec.Provider)
	if g == nil {
		return
	}
	rec.ClientID = g.clientID
	if !slices.Contains(g.scopes, "user:email") && !slices.Contains(g.scopes, "user") {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	type entry struct {
		Email      string  `json:"email"`
		Primary    bool    `json:"primary"`
		Verified   bool    `json:"verified"`
		Visibility *string `json:"visibility"`
	}
	public := "public"
	out := []entry{}
	if g.user.Email != "" {
		out = append(out, entry{Email: g.user.Email, Primary: true, Verified: g.user.EmailVerified, Visibility: &public})
	}
	for _, e := range g.user.ExtraEmails {
		out = append(out, entry{Email: e.Address, Verified: e.Verified})
	}
	writeJSON(w, http.StatusOK, out)
}

// userInfo serves the OpenID Connect userinfo of Google and Microsoft:
// email claims with the email scope, name with the profile scope.
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request, rec *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.bearer(w, r, rec.Provider)
	if g == nil {
		return
	}
	rec.ClientID = g.clientID
	u := g.user
	body := map[string]any{"sub": u.ID}
	if slices.Contains(g.scopes, "profile") && u.Name != "" {
		body["name"] = u.Name
	}
	if slices.Contains(g.scopes, "email") && u.Email != "" {
		body["email"] = u.Email
		switch {
		case rec.Provider == Google:
			body["email_verified"] = u.EmailVerified
		case u.EmailVerified:
			body["xms_edov"] = true
		}
	}
	writeJSON(w, http.StatusOK, body)
}
