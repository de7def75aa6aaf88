package tenancy

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/hosted"
	"github.com/authos/authos/platform/httpapi"
)

// BrowserSessions resolves the signed-in platform user of a browser (the
// session cookie the hosted login sets); the identity module implements it.
type BrowserSessions interface {
	BrowserPrincipal(r *http.Request) (*httpapi.Principal, bool)
}

// PageRouter is what RegisterPages mounts on.
type PageRouter interface {
	Get(pattern string, h http.HandlerFunc)
	Post(pattern string, h http.HandlerFunc)
}

// invitationPages serve the server-rendered invitation acceptance page
// (/invitations/accept?token=..., the link of the invitation email).
type invitationPages struct {
	s        *Service
	browser  BrowserSessions
	r        *hosted.Renderer
	csrf     *hosted.CSRF
	loginURL string
	secure   bool
}

// InvitationView is what the acceptance page shows about an invitation.
type InvitationView struct {
	Invitation Invitation
	Org        Organization
	Inviter    *UserInfo
}

// InvitationByToken returns a pending invitation of an emailed token with
// its organization and inviter. Answered, unknown and expired invitations
// are ErrInvitationNotFound / ErrInvitationExpired.
func (s *Service) InvitationByToken(ctx context.Context, token string) (InvitationView, error) {
	if token == "" || len(token) > 200 {
		return InvitationView{}, ErrInvitationNotFound
	}
	inv, err := s.store.InvitationGetByTokenHash(ctx, crypto.HashToken(token))
	if err != nil {
		return InvitationView{}, err
	}
	if inv.Status != InvitationPending && inv.Status != InvitationExpired {
		return InvitationView{}, ErrInvitationNotFound
	}
	if s.expired(inv) {
		return InvitationView{}, ErrInvitationExpired
	}
	org, err := s.store.OrgGetByID(ctx, inv.OrgID)
	if err != nil {
		return InvitationView{}, err
	}
	v := InvitationView{Invitation: inv, Org: org}
	if inv.InvitedBy != nil {
		users, err := s.users.UsersByIDs(ctx, []uuid.UUID{*inv.InvitedBy})
		if err != nil {
			return InvitationView{}, err
		}
		if u, ok := users[*inv.InvitedBy]; ok {
			v.Inviter = &u
		}
	}
	return v, nil
}

func newInvitationPages(s *Service, browser BrowserSessions, key []byte, secure bool) (*invitationPages, error) {
	r, err := hosted.New(hosted.Options{Logger: s.logger})
	if err != nil {
		return nil, err
	}
	if len(key) < 32 {
		sum := sha256.Sum256(append([]byte("authos-hosted-pages:"), key...))
		key = sum[:]
	}
	csrf, err := hosted.NewCSRF(key, secure)
	if err != nil {
		return nil, err
	}
	return &invitationPages{s: s, browser: browser, r: r, csrf: csrf, loginURL: "/authorize", secure: secure}, nil
}

func (p *invitationPages) register(r PageRouter) {
	r.Get("/invitations/accept", p.show)
	r.Post("/invitations/accept", p.accept)
	r.Post("/invitations/decline", p.decline)
}

func (p *invitationPages) message(w http.ResponseWriter, status int, b hosted.Branding, ok bool, title, msg string) {
	p.r.MessagePage(w, status, hosted.MessageData{Page: hosted.Page{Branding: b, Title: title, Message: msg}, OK: ok})
}

func orgBranding(o Organization) hosted.Branding {
	b := hosted.Branding{OrgName: o.Name}
	if o.BrandLogoURL != nil {
		b.LogoURL = *o.BrandLogoURL
	}
	if o.BrandColor != nil {
		b.PrimaryColor = *o.BrandColor
	}
	return b
}

// invitationError renders the end states of an invitation link.
func (p *invitationPages) invitationError(w http.ResponseWriter, r *http.Request, b hosted.Branding, err error) {
	var inactive *OrgNotActiveError
	var limit *TeamLimitError
	switch {
	case errors.Is(err, ErrInvitationNotFound):
		p.message(w, http.StatusNotFound, b, false, "Invitation not found", "This invitation link is not valid or was already answered.")
	case errors.Is(err, ErrInvitationExpired):
		p.message(w, http.StatusGone, b, false, "Invitation expired", "This invitation has expired. Ask the organization for a new one.")
	case errors.Is(err, ErrInvitationEmailMismatch):
		p.message(w, http.StatusForbidden, b, false, "Wrong account", "This invitation is for another email address. Sign in with the invited address.")
	case errors.Is(err, ErrAlreadyMember):
		p.message(w, http.StatusConflict, b, true, "Already a member", "You are already a member of this organization.")
	case errors.As(err, &inactive):
		p.message(w, http.StatusForbidden, b, false, "Organization not active", "This organization is not active.")
	case errors.As(err, &limit):
		p.message(w, http.StatusForbidden, b, false, "Team is full", "This organization has reached its member limit.")
	default:
		p.s.logger.ErrorContext(r.Context(), "invitation page", "error", err)
		p.message(w, http.StatusInternalServerError, b, false, "Something went wrong", "Please try again later.")
	}
}

func (p *invitationPages) actor(r *http.Request) (Actor, bool) {
	if p.browser == nil {
		return Actor{}, false
	}
	pr, ok := p.browser.BrowserPrincipal(r)
	if !ok || pr.ServiceID != nil {
		return Actor{}, false
	}
	a := Actor{UserID: pr.UserID, Email: pr.Email, IsPlatformOwner: pr.IsPlatformOwner, Meta: RequestMeta{UserAgent: r.UserAgent()}}
	if ip, ok := httpapi.ClientIPFrom(r.Context()); ok {
		a.Meta.IP = ip.String()
	}
	return a, true
}

// invitationCookie carries the emailed invitation token from the link to
// the page's forms, so it leaves the address bar (history, Referer, the
// sign-in round trip) and never appears in the page source.
const invitationCookie = "authos_invitation"

func (p *invitationPages) tokenCookie(value string, maxAge int) *http.Cookie {
	// Lax: the link is opened from a mail client, a cross-site navigation.
	return &http.Cookie{Name: invitationCookie, Value: value, Path: "/invitations", HttpOnly: true,
		Secure: p.secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (p *invitationPages) token(r *http.Request) string {
	if c, err := r.Cookie(invitationCookie); err == nil {
		return c.Value
	}
	return ""
}

func (p *invitationPages) show(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if tok := r.URL.Query().Get("token"); tok != "" {
		if len(tok) > 200 {
			p.invitationError(w, r, hosted.Branding{}, ErrInvitationNotFound)
			return
		}
		http.SetCookie(w, p.tokenCookie(tok, int(invitationLifetime.Seconds())))
		http.Redirect(w, r, "/invitations/accept", http.StatusSeeOther)
		return
	}
	token := p.token(r)
	v, err := p.s.InvitationByToken(r.Context(), token)
	if err != nil {
		p.invitationError(w, r, hosted.Branding{}, err)
		return
	}
	data := hosted.InvitationAcceptData{
		Page:    hosted.Page{Branding: orgBranding(v.Org), CSRFToken: p.csrf.Token(w, r)},
		OrgName: v.Org.Name, Role: string(v.Invitation.Role), Email: v.Invitation.Email,
		AcceptAction: "/invitations/accept", DeclineAction: "/invitations/decline",
	}
	if v.Inviter != nil {
		data.InviterEmail = v.Inviter.Email
	}
	if _, ok := p.actor(r); !ok {
		data.NeedsSignIn, data.SignInURL = true, p.loginURL+"?next="+url.QueryEscape("/invitations/accept")
	}
	p.r.InvitationAcceptPage(w, http.StatusOK, data)
}

func (p *invitationPages) accept(w http.ResponseWriter, r *http.Request) {
	if !p.csrf.Valid(r) {
		p.message(w, http.StatusForbidden, hosted.Branding{}, false, "Session expired", "The form expired. Open the invitation link again.")
		return
	}
	token := p.token(r)
	a, ok := p.actor(r)
	if !ok {
		http.Redirect(w, r, p.loginURL+"?next="+url.QueryEscape("/invitations/accept"), http.StatusSeeOther)
		return
	}
	v, err := p.s.InvitationByToken(r.Context(), token)
	if err != nil {
		p.invitationError(w, r, hosted.Branding{}, err)
		return
	}
	if _, err := p.s.AcceptInvitationByToken(r.Context(), a, token); err != nil {
		p.invitationError(w, r, orgBranding(v.Org), err)
		return
	}
	http.SetCookie(w, p.tokenCookie("", -1))
	p.message(w, http.StatusOK, orgBranding(v.Org), true, "Welcome to "+v.Org.Name,
		"You joined "+v.Org.Name+" as "+strings.ToLower(string(v.Invitation.Role))+".")
}

func (p *invitationPages) decline(w http.ResponseWriter, r *http.Request) {
	if !p.csrf.Valid(r) {
		p.message(w, http.StatusForbidden, hosted.Branding{}, false, "Session expired", "The form expired. Open the invitation link again.")
		return
	}
	token := p.token(r)
	v, err := p.s.InvitationByToken(r.Context(), token)
	if err != nil {
		p.invitationError(w, r, hosted.Branding{}, err)
		return
	}
	meta := RequestMeta{UserAgent: r.UserAgent()}
	if ip, ok := httpapi.ClientIPFrom(r.Context()); ok {
		meta.IP = ip.String()
	}
	if err := p.s.DeclineInvitationByToken(r.Context(), meta, token); err != nil {
		p.invitationError(w, r, orgBranding(v.Org), err)
		return
	}
	http.SetCookie(w, p.tokenCookie("", -1))
	p.message(w, http.StatusOK, orgBranding(v.Org), true, "Invitation declined", "You declined the invitation to "+v.Org.Name+".")
}
