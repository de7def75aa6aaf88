package identity

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authos/authos/modules/identity/internal/password"
	"github.com/authos/authos/platform/hosted"
	"github.com/authos/authos/platform/httpapi"
)

// Cookies of the hosted pages.
const (
	// preauthCookie holds a pending login's pre-auth token between the
	// password (or provider) step and the MFA page, so it never appears in
	// page source.
	preauthCookie = "authos_preauth"
	// AdminCookie holds a platform user's browser session from the hosted
	// platform login: the administrators' session for /admin (platform
	// owners only) and the session the invitation page accepts with. It is
	// an access token, so it is revocable like any session.
	AdminCookie = "authos_session"
)

// pages serves the hosted, server-rendered pages.
type pages struct {
	s      *Service
	r      *hosted.Renderer
	csrf   *hosted.CSRF
	secure bool
}

// PageRouter is what RegisterPages mounts on.
type PageRouter interface {
	Get(pattern string, h http.HandlerFunc)
	Post(pattern string, h http.HandlerFunc)
}

func (p *pages) register(r PageRouter) {
	r.Get("/auth/verify-email", p.verifyEmail)
	r.Get("/auth/{provider}/callback", p.callback)
	r.Get("/auth/admin/{provider}/callback", p.callback)
	r.Get("/authorize", p.authorize)
	r.Post("/authorize", p.authorizePost)
	r.Post("/authorize/mfa", p.authorizeMFA)
	r.Get("/activate", p.activate)
	r.Post("/activate", p.activatePost)
	r.Post("/activate/login", p.activateLogin)
	r.Post("/activate/mfa", p.activateMFA)
	r.Get("/activate/success", p.activateSuccess)
	r.Get("/reset-password", p.resetPassword)
	r.Post("/reset-password", p.resetPasswordPost)
}

func metaOf(r *http.Request) RequestMeta {
	m := RequestMeta{UserAgent: r.UserAgent()}
	if ip, ok := httpapi.ClientIPFrom(r.Context()); ok {
		m.IP = ip.String()
	}
	return m
}

func brandingOf(sc Scope) hosted.Branding {
	return hosted.Branding{OrgName: sc.OrgName, LogoURL: sc.LogoURL, PrimaryColor: sc.PrimaryColor}
}

func (p *pages) message(w http.ResponseWriter, status int, b hosted.Branding, ok bool, title, msg string) {
	p.r.MessagePage(w, status, hosted.MessageData{Page: hosted.Page{Branding: b, Title: title, Message: msg}, OK: ok})
}

func (p *pages) cookie(name, value, path string, maxAge time.Duration, strict bool) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(maxAge / time.Second)}
	if strict {
		c.SameSite = http.SameSiteStrictMode
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	return c
}

// callback finishes a provider flow in the browser.
func (p *pages) callback(w http.ResponseWriter, r *http.Request) {
	provider := chi.URLParam(r, "provider")
	binding := ""
	if c, err := r.Cookie(oauthCookie); err == nil {
		binding = c.Value
	}
	http.SetCookie(w, p.cookie(oauthCookie, "", "/auth", -1, false))
	out := p.s.OAuthCallback(r.Context(), CallbackInput{Provider: provider, Query: r.URL.Query(), BrowserBinding: binding}, metaOf(r))
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case out.PlatformSession != nil:
		t := out.PlatformSession
		http.SetCookie(w, p.cookie(AdminCookie, t.AccessToken, "/", time.Duration(t.ExpiresIn)*time.Second, true))
		http.Redirect(w, r, out.RedirectURL, http.StatusFound)
	case out.RedirectURL != "":
		http.Redirect(w, r, out.RedirectURL, http.StatusFound)
	case out.MFA != nil && out.MFA.Next != "":
		p.showMFA(w, r, out.MFA.PreauthToken, "/authorize/mfa", hosted.Branding{}, "", hosted.HiddenField{Name: "next", Value: out.MFA.Next})
	case out.MFA != nil:
		p.showMFA(w, r, out.MFA.PreauthToken, "/activate/mfa", hosted.Branding{}, "")
	case out.DeviceApproved:
		http.Redirect(w, r, "/activate/success", http.StatusFound)
	case out.Linked:
		p.message(w, http.StatusOK, hosted.Branding{}, true, "Account linked", "Your "+provider+" account is linked. You can close this page.")
	case out.SignedIn:
		p.message(w, http.StatusOK, hosted.Branding{}, true, "Signed in", "You are signed in. You can close this page.")
	default:
		code, desc := oauthErrorCode(out.Err)
		status := http.StatusBadRequest
		if code == "server_error" {
			status = http.StatusBadGateway
			if !errors.Is(out.Err, ErrProviderFailed) {
				p.s.logger.ErrorContext(r.Context(), "oauth callback", "error", out.Err)
				status = http.StatusInternalServerError
			}
		}
		p.message(w, status, hosted.Branding{}, false, "Authentication Failed", desc)
	}
}

// showMFA stores the pre-auth token in a cookie and renders the challenge.
func (p *pages) showMFA(w http.ResponseWriter, r *http.Request, preauth, action string, b hosted.Branding, errMsg string, hidden ...hosted.HiddenField) {
	if preauth != "" {
		http.SetCookie(w, p.cookie(preauthCookie, preauth, "/", preauthLifetime, true))
	}
	p.r.MFAChallengePage(w, http.StatusOK, hosted.MFAChallengeData{
		Page:   hosted.Page{Branding: b, CSRFToken: p.csrf.Token(w, r), Error: errMsg, FormActionOrigins: formOrigins(hidden)},
		Action: action, Hidden: hidden,
	})
}

// formOrigins lets a form's POST redirect to the client's redirect URI.
func formOrigins(hidden []hosted.HiddenField) []string {
	for _, h := range hidden {
		if h.Name == "redirect_uri" && h.Value != "" {
			return []string{h.Value}
		}
	}
	return nil
}

// authorizeParams are the hosted login's parameters, from the query (GET)
// or the form (POST).
type authorizeParams struct {
	Org, Service, RedirectURI, State, Next string
}

func paramsFrom(v url.Values) authorizeParams {
	return authorizeParams{Org: v.Get("org"), Service: v.Get("service"), RedirectURI: v.Get("redirect_uri"), State: v.Get("state"), Next: v.Get("next")}
}

func (a authorizeParams) admin() bool { return a.Org == "" && a.Service == "" }

func (a authorizeParams) hidden() []hosted.HiddenField {
	var out []hosted.HiddenField
	for _, f := range []hosted.HiddenField{{Name: "org", Value: a.Org}, {Name: "service", Value: a.Service},
		{Name: "redirect_uri", Value: a.RedirectURI}, {Name: "state", Value: a.State}, {Name: "next", Value: a.Next}} {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// platformNext is where a platform user goes after the hosted platform
// login: a path under /admin or the invitation page only (no open
// redirect); "" when next is not one.
func platformNext(next string) string {
	if strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	if strings.HasPrefix(next, "/admin/") || next == "/invitations/accept" || strings.HasPrefix(next, "/invitations/accept?") {
		return next
	}
	return ""
}

// loginScope resolves the hosted login's scope. An end-user login needs
// org, service and a registered redirect URI; without org it is the
// platform administrators' login.
func (p *pages) loginScope(r *http.Request, a authorizeParams) (Scope, string, bool) {
	if a.admin() {
		if a.RedirectURI != "" {
			return Scope{}, "This redirect URI is not allowed.", false
		}
		return Scope{}, "", true
	}
	if a.Org == "" || a.Service == "" || a.RedirectURI == "" {
		return Scope{}, "The sign-in link is incomplete: org, service and redirect_uri are required.", false
	}
	sc, err := p.s.resolveScope(r.Context(), a.Org, a.Service, a.RedirectURI)
	var inactive *OrgNotActiveError
	switch {
	case errors.Is(err, ErrRedirectNotAllowed):
		return Scope{}, "This redirect URI is not registered for the service.", false
	case errors.Is(err, ErrScopeNotFound):
		return Scope{}, "Organization or service not found.", false
	case errors.As(err, &inactive):
		return Scope{}, "This organization is not active.", false
	case err != nil:
		p.s.logger.ErrorContext(r.Context(), "hosted login scope", "error", err)
		return Scope{}, "Something went wrong. Please try again later.", false
	}
	if sc.ServiceID == nil {
		return Scope{}, "The sign-in link is incomplete: service is required.", false
	}
	return sc, "", true
}

func (p *pages) providerLinks(sc Scope, a authorizeParams, userCode string) []hosted.ProviderLink {
	var out []hosted.ProviderLink
	for _, pr := range p.s.AvailableProviders(sc) {
		q := url.Values{}
		path := "/auth/" + pr
		if sc.IsPlatform() {
			path = "/auth/admin/" + pr
			if userCode == "" {
				next := platformNext(a.Next)
				if next == "" {
					next = "/admin/jobs/"
				}
				q.Set("next", next)
			}
		} else {
			q.Set("org", sc.OrgSlug)
			q.Set("service", sc.ServiceSlug)
			if a.RedirectURI != "" {
				q.Set("redirect_uri", a.RedirectURI)
			}
			if a.State != "" {
				q.Set("state", a.State)
			}
		}
		if userCode != "" {
			q.Set("user_code", userCode)
		}
		link := path
		if len(q) > 0 {
			link += "?" + q.Encode()
		}
		out = append(out, hosted.ProviderLink{Name: pr, DisplayName: providerDisplayName(pr), URL: link})
	}
	return out
}

func providerDisplayName(p string) string {
	switch p {
	case "github":
		return "GitHub"
	case "google":
		return "Google"
	case "microsoft":
		return "Microsoft"
	}
	return p
}

func (p *pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, sc Scope, a authorizeParams, email, errMsg string) {
	origins := []string{}
	if a.RedirectURI != "" {
		origins = append(origins, a.RedirectURI)
	}
	p.r.LoginPage(w, status, hosted.LoginData{
		Page:   hosted.Page{Branding: brandingOf(sc), CSRFToken: p.csrf.Token(w, r), Error: errMsg, FormActionOrigins: origins},
		Action: "/authorize", Email: email, Hidden: a.hidden(), Providers: p.providerLinks(sc, a, ""),
	})
}

func (p *pages) authorize(w http.ResponseWriter, r *http.Request) {
	a := paramsFrom(r.URL.Query())
	sc, msg, ok := p.loginScope(r, a)
	if !ok {
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Cannot sign in", msg)
		return
	}
	p.renderLogin(w, r, http.StatusOK, sc, a, "", "")
}

// loginForm checks a hosted login form's CSRF token and scope; when it
// answers false it has written the error page.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) (authorizeParams, Scope, bool) {
	if !p.csrf.Valid(r) {
		p.message(w, http.StatusForbidden, hosted.Branding{}, false, "Session expired", "The form expired. Go back and try again.")
		return authorizeParams{}, Scope{}, false
	}
	a := paramsFrom(r.PostForm)
	sc, msg, ok := p.loginScope(r, a)
	if !ok {
		p.message(w, http.StatusBadRequest, hosted.Branding{}, false, "Cannot sign in", msg)
		return authorizeParams{}, Scope{}, false
	}
	return a, sc, true
}

func (p *pages) authorizePost(w http.ResponseWriter, r *http.Request) {
	a, sc, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	email := r.PostForm.Get("email")
	u, err := p.s.passwordPrimary(r.Context(), sc, email, r.PostForm.Get("password"), metaOf(r))
	var res LoginResult
	if err == nil {
		res, err = p.s.afterPrimary(r.Context(), u, sc, "password", metaOf(r), primaryContext{})
	}
	if err != nil {
		status, text := loginPageError(err)
		if status >= 500 {
			p.s.logger.ErrorContext(r.Context(), "hosted login", "error", err)
		}
		p.renderLogin(w, r, status, sc, a, email, text)
		return
	}
	if res.MFARequired {
		p.showMFA(w, r, res.Tokens.AccessToken, "/authorize/mfa", brandingOf(sc), "", a.hidden()...)
		return
	}
	p.finishLogin(w, r, a, u, res.Tokens)
}

// finishLogin hands the tokens to the client (fragment of its redirect
// URI) or sets the administrator's browser session.
func (p *pages) finishLogin(w http.ResponseWriter, r *http.Request, a authorizeParams, u User, t Tokens) {
	if a.admin() {
		http.SetCookie(w, p.cookie(AdminCookie, t.AccessToken, "/", time.Duration(t.ExpiresIn)*time.Second, true))
		next := platformNext(a.Next)
		switch {
		case next != "":
			http.Redirect(w, r, next, http.StatusSeeOther)
		case u.IsPlatformOwner:
			http.Redirect(w, r, "/admin/jobs/", http.StatusSeeOther)
		default:
			p.message(w, http.StatusOK, hosted.Branding{}, true, "Signed in", "You are signed in. You can close this page.")
		}
		return
	}
	http.Redirect(w, r, fragmentURL(a.RedirectURI, tokenFragment(LoginResult{Tokens: t}, a.State)), http.StatusSeeOther)
}

func loginPageError(err error) (int, string) {
	var inactive *OrgNotActiveError
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, "Invalid email or password."
	case errors.Is(err, ErrEmailNotVerified):
		return http.StatusUnauthorized, "Please verify your email address before signing in."
	case errors.Is(err, ErrAccountLocked):
		return http.StatusTooManyRequests, "Too many failed attempts. Please try again later."
	case errors.Is(err, ErrNoServiceAccess):
		return http.StatusForbidden, "You do not have access to this service."
	case errors.Is(err, ErrNotMember):
		return http.StatusForbidden, "You are not a member of this organization."
	case errors.Is(err, ErrMAULimit):
		return http.StatusForbidden, "This service has reached its monthly active user limit."
	case errors.As(err, &inactive):
		return http.StatusForbidden, "This organization is not active."
	case errors.Is(err, ErrInvalidMFACode):
		return http.StatusUnauthorized, "Invalid code. Try again."
	case errors.Is(err, ErrMFALocked):
		return http.StatusTooManyRequests, "Too many invalid codes. Please try again later."
	case errors.Is(err, ErrInvalidPreauth), errors.Is(err, ErrPreauthUsed):
		return http.StatusBadRequest, "This sign-in expired. Please start again."
	case errors.Is(err, ErrInvalidUserCode), errors.Is(err, ErrInvalidUserCodeFormat):
		return http.StatusBadRequest, "That code is not valid. Check the code shown on your device."
	case errors.Is(err, ErrDeviceCodeExpired):
		return http.StatusBadRequest, "That code has expired. Start again on your device."
	case errors.Is(err, ErrDeviceAlreadyAuthorized):
		return http.StatusBadRequest, "This device is already connected."
	case errors.Is(err, ErrScopeNotFound):
		return http.StatusNotFound, "Organization or service not found."
	case errors.Is(err, ErrLimiterUnavailable):
		return http.StatusServiceUnavailable, "Sign-in is temporarily unavailable. Please try again later."
	}
	return http.StatusInternalServerError, "Something went wrong. Please try again later."
}

func (p *pages) preauthFrom(r *http.Request) string {
	if c, err := r.Cookie(preauthCookie); err == nil {
		return c.Value
	}
	return ""
}

func (p *pages) authorizeMFA(w http.ResponseWriter, r *http.Request) {
	a, sc, ok := p.loginForm(w, r)
	if !ok {
		return
	}
	out, err := p.s.completeMFA(r.Context(), p.preauthFrom(r), r.PostForm.Get("code"), "",
		func(pending Scope, device bool) bool { return !device && pending.sameAs(sc) }, metaOf(r))
	if err != nil {
		status, text := loginPageError(err)
		if errors.Is(err, ErrInvalidMFACode) {
			p.showMFA(w, r, "", "/authorize/mfa", brandingOf(sc), text, a.hidden()...)
			return
		}
		p.message(w, status, brandingOf(sc), false, "Cannot sign in", text)
		return
	}
	http.SetCookie(w, p.cookie(preauthCookie, "", "/", -1, true))
	p.finishLogin(w, r, a, out.User, out.Tokens)
}

// ---- device activation

func (p *pages) activateView(w http.ResponseWriter, r *http.Request, status int, code, errMsg string) {
	p.r.ActivatePage(w, status, hosted.ActivateData{
		Page:   hosted.Page{CSRFToken: p.csrf.Token(w, r), Error: errMsg},
		Action: "/activate", UserCode: code,
	})
}

func (p *pages) activate(w http.ResponseWriter, r *http.Request) {
	p.activateView(w, r, http.StatusOK, r.URL.Query().Get("user_code"), "")
}

// showVerified renders the sign-in choices for a verified user code.
func (p *pages) showVerified(w http.ResponseWriter, r *http.Request, status int, v DeviceVerification, email, errMsg string) {
	sc := Scope{}
	if !v.Platform {
		var err error
		if sc, err = p.s.resolveScope(r.Context(), v.OrgSlug, v.ServiceSlug, ""); err != nil {
			status, text := loginPageError(err)
			p.activateView(w, r, status, v.UserCode, text)
			return
		}
	}
	name := v.ServiceName
	if v.Platform {
		name = "the AuthOS command-line tool"
	}
	p.r.ActivatePage(w, status, hosted.ActivateData{
		Page:   hosted.Page{Branding: brandingOf(sc), CSRFToken: p.csrf.Token(w, r), Error: errMsg},
		Action: "/activate", UserCode: v.UserCode, Verified: true, ServiceName: name,
		LoginAction: "/activate/login", Email: email,
		Hidden:    []hosted.HiddenField{{Name: "user_code", Value: v.UserCode}},
		Providers: p.providerLinks(sc, authorizeParams{}, v.UserCode),
	})
}

func (p *pages) activatePost(w http.ResponseWriter, r *http.Request) {
	if !p.csrf.Valid(r) {
		p.activateView(w, r, http.StatusForbidden, "", "The form expired. Please try again.")
		return
	}
	code := r.PostForm.Get("user_code")
	if err := p.s.limitUserCode(r); err != nil {
		p.activateView(w, r, http.StatusTooManyRequests, code, "Too many attempts. Please wait a minute and try again.")
		return
	}
	v, err := p.s.VerifyUserCode(r.Context(), code)
	if err != nil {
		status, text := loginPageError(err)
		p.activateView(w, r, status, code, text)
		return
	}
	p.showVerified(w, r, http.StatusOK, v, "", "")
}

func (p *pages) activateLogin(w http.ResponseWriter, r *http.Request) {
	if !p.csrf.Valid(r) {
		p.activateView(w, r, http.StatusForbidden, "", "The form expired. Please try again.")
		return
	}
	code, email := r.PostForm.Get("user_code"), r.PostForm.Get("email")
	// This form checks the user code too: it shares the guessing limit of
	// the code form, or it would be an unlimited oracle for live codes.
	if err := p.s.limitUserCode(r); err != nil {
		p.activateView(w, r, http.StatusTooManyRequests, code, "Too many attempts. Please wait a minute and try again.")
		return
	}
	pending, err := p.s.DevicePasswordLogin(r.Context(), code, email, r.PostForm.Get("password"), metaOf(r))
	if err != nil {
		status, text := loginPageError(err)
		if v, verr := p.s.VerifyUserCode(r.Context(), code); verr == nil {
			p.showVerified(w, r, status, v, email, text)
			return
		}
		p.activateView(w, r, status, code, text)
		return
	}
	if pending != nil {
		p.showMFA(w, r, pending.PreauthToken, "/activate/mfa", hosted.Branding{}, "")
		return
	}
	http.Redirect(w, r, "/activate/success", http.StatusSeeOther)
}

func (p *pages) activateMFA(w http.ResponseWriter, r *http.Request) {
	if !p.csrf.Valid(r) {
		p.activateView(w, r, http.StatusForbidden, "", "The form expired. Please try again.")
		return
	}
	out, err := p.s.completeMFA(r.Context(), p.preauthFrom(r), r.PostForm.Get("code"), "",
		func(_ Scope, device bool) bool { return device }, metaOf(r))
	if err == nil && !out.DeviceApproved {
		err = ErrInvalidPreauth
	}
	if err != nil {
		status, text := loginPageError(err)
		if errors.Is(err, ErrInvalidMFACode) {
			p.showMFA(w, r, "", "/activate/mfa", hosted.Branding{}, text)
			return
		}
		p.activateView(w, r, status, "", text)
		return
	}
	http.SetCookie(w, p.cookie(preauthCookie, "", "/", -1, true))
	http.Redirect(w, r, "/activate/success", http.StatusSeeOther)
}

func (p *pages) activateSuccess(w http.ResponseWriter, _ *http.Request) {
	p.r.ActivateSuccessPage(w, http.StatusOK, hosted.ActivateSuccessData{})
}

// ---- password reset

// resetCookie carries the emailed reset token from the link to the form,
// so the token leaves the address bar (history, Referer) and never appears
// in the page source.
const resetCookie = "authos_reset"

func (p *pages) resetPassword(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	b := p.orgBranding(r)
	if tok := r.URL.Query().Get("token"); tok != "" {
		if len(tok) > 200 {
			p.message(w, http.StatusBadRequest, b, false, "Invalid link", "This reset link is not valid.")
			return
		}
		// Lax: the link is opened from a mail client (a cross-site
		// navigation) and the cookie must come back on the redirect.
		c := p.cookie(resetCookie, tok, "/reset-password", resetLifetime, false)
		http.SetCookie(w, c)
		http.Redirect(w, r, resetPath(r), http.StatusSeeOther)
		return
	}
	if c, err := r.Cookie(resetCookie); err != nil || c.Value == "" {
		p.message(w, http.StatusBadRequest, b, false, "Invalid link", "Open the reset link from your email.")
		return
	}
	p.r.ResetPasswordPage(w, http.StatusOK, hosted.ResetPasswordData{
		Page: hosted.Page{Branding: b, CSRFToken: p.csrf.Token(w, r)}, Action: resetPath(r),
	})
}

// resetPath is the reset page's own address, keeping the organization
// whose branding it shows.
func resetPath(r *http.Request) string {
	if org := r.URL.Query().Get("org"); org != "" {
		return "/reset-password?" + url.Values{"org": {org}}.Encode()
	}
	return "/reset-password"
}

func (p *pages) resetPasswordPost(w http.ResponseWriter, r *http.Request) {
	b := p.orgBranding(r)
	if !p.csrf.Valid(r) {
		p.message(w, http.StatusForbidden, b, false, "Session expired", "The form expired. Open the link from your email again.")
		return
	}
	tok := ""
	if c, err := r.Cookie(resetCookie); err == nil {
		tok = c.Value
	}
	pw := r.PostForm.Get("password")
	fail := func(status int, msg string) {
		p.r.ResetPasswordPage(w, status, hosted.ResetPasswordData{
			Page: hosted.Page{Branding: b, CSRFToken: p.csrf.Token(w, r), Error: msg}, Action: resetPath(r),
		})
	}
	if pw != r.PostForm.Get("password_confirm") {
		fail(http.StatusBadRequest, "The passwords do not match.")
		return
	}
	err := p.s.ResetPassword(r.Context(), tok, pw, metaOf(r))
	if err == nil || errors.Is(err, ErrTokenUsed) || errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrInvalidToken) {
		http.SetCookie(w, p.cookie(resetCookie, "", "/reset-password", -1, false))
	}
	switch {
	case err == nil:
		p.message(w, http.StatusOK, b, true, "Password changed", "Your password has been reset. Please sign in with your new password.")
	case errors.Is(err, ErrTokenUsed):
		p.message(w, http.StatusBadRequest, b, false, "Link already used", "This reset link was already used. Request a new one.")
	case errors.Is(err, ErrTokenExpired):
		p.message(w, http.StatusBadRequest, b, false, "Link expired", "This reset link has expired. Request a new one.")
	case errors.Is(err, ErrInvalidToken):
		p.message(w, http.StatusBadRequest, b, false, "Invalid link", "This reset link is not valid.")
	default:
		var pe *password.PolicyError
		if errors.As(err, &pe) {
			fail(http.StatusBadRequest, pe.Error())
			return
		}
		p.s.logger.ErrorContext(r.Context(), "hosted password reset", "error", err)
		p.message(w, http.StatusInternalServerError, b, false, "Something went wrong", "Please try again later.")
	}
}
