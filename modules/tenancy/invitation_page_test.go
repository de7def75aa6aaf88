package tenancy_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/httpapi"
)

// browserDouble resolves the hosted login's session cookie with the test
// authenticator (the identity module implements it in production).
type browserDouble struct{ b *testBundle }

func (d browserDouble) BrowserPrincipal(r *http.Request) (*httpapi.Principal, bool) {
	c, err := r.Cookie("authos_session")
	if err != nil {
		return nil, false
	}
	p, err := d.b.authenticate(r.Context(), c.Value)
	return p, err == nil
}

// pageClient is a browser against the invitation pages: cookies kept,
// redirects not followed.
type pageClient struct {
	srv    *httptest.Server
	jar    http.CookieJar
	client *http.Client
}

type pageResponse struct {
	status   int
	location string
	body     string
}

func newPageClient(t *testing.T, b *testBundle) *pageClient {
	t.Helper()
	// A router of its own: registering routes on the bundle's shared router
	// while parallel tests use it would race.
	mux := chi.NewMux()
	require.NoError(t, b.mod.RegisterPages(mux, browserDouble{b: b}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &pageClient{srv: srv, jar: jar, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn gives the browser a's session cookie (as the hosted login would).
func (c *pageClient) signIn(t *testing.T, a account) {
	t.Helper()
	u, err := url.Parse(c.srv.URL + "/")
	require.NoError(t, err)
	c.jar.SetCookies(u, []*http.Cookie{{Name: "authos_session", Value: a.Token, Path: "/"}})
}

func (c *pageClient) do(t *testing.T, method, path string, form url.Values) pageResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.srv.URL+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return pageResponse{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw)}
}

var pageCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, r pageResponse) string {
	t.Helper()
	m := pageCSRF.FindStringSubmatch(r.body)
	require.NotNil(t, m, r.body)
	return m[1]
}

// open follows the emailed link: the token moves into a cookie.
func (c *pageClient) open(t *testing.T, token string) pageResponse {
	t.Helper()
	r := c.do(t, http.MethodGet, "/invitations/accept?token="+url.QueryEscape(token), nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/invitations/accept", r.location)
	return c.do(t, http.MethodGet, "/invitations/accept", nil)
}

func TestInvitationPage(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("SignedOutSeesTheInvitationAndASignInLink", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		c := newPageClient(t, b)
		page := c.open(t, f.inv.Token)
		require.Equal(t, http.StatusOK, page.status, page.body)
		require.Contains(t, page.body, f.invitee.Email)
		require.Contains(t, page.body, "member")
		require.Contains(t, page.body, `/authorize?next=%2Finvitations%2Faccept`)
		require.NotContains(t, page.body, f.inv.Token, "the token is not in the page source")
		// Accepting without a session goes to the login page.
		r := c.do(t, http.MethodPost, "/invitations/accept", url.Values{"csrf_token": {csrfOf(t, page)}})
		require.Equal(t, http.StatusSeeOther, r.status)
		require.True(t, strings.HasPrefix(r.location, "/authorize?next="), r.location)
		require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))
	})

	t.Run("InviteeAccepts", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		c := newPageClient(t, b)
		c.signIn(t, f.invitee)
		page := c.open(t, f.inv.Token)
		require.Contains(t, page.body, `action="/invitations/accept"`)
		// Without the CSRF token nothing happens.
		r := c.do(t, http.MethodPost, "/invitations/accept", url.Values{})
		require.Equal(t, http.StatusForbidden, r.status)
		require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))

		r = c.do(t, http.MethodPost, "/invitations/accept", url.Values{"csrf_token": {csrfOf(t, page)}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, "Welcome to")
		require.Equal(t, "accepted", b.invitationStatus(t, f.inv.Invitation.ID))
		require.Equal(t, "member", b.role(t, f.w.A, f.invitee))
		require.Len(t, b.orgAudit(t, f.w.A.ID, "invitation.accepted"), 1)

		// The link is spent.
		page = c.open(t, f.inv.Token)
		require.Equal(t, http.StatusNotFound, page.status)
	})

	t.Run("AnotherAccountCannotAccept", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		c := newPageClient(t, b)
		c.signIn(t, f.w.MemberA)
		page := c.open(t, f.inv.Token)
		r := c.do(t, http.MethodPost, "/invitations/accept", url.Values{"csrf_token": {csrfOf(t, page)}})
		require.Equal(t, http.StatusForbidden, r.status)
		require.Contains(t, r.body, "another email address")
		require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))
	})

	t.Run("Decline", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		c := newPageClient(t, b)
		page := c.open(t, f.inv.Token)
		r := c.do(t, http.MethodPost, "/invitations/decline", url.Values{"csrf_token": {csrfOf(t, page)}})
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, "declined")
		require.Equal(t, "declined", b.invitationStatus(t, f.inv.Invitation.ID))
	})

	t.Run("UnknownOrMissingToken", func(t *testing.T) {
		t.Parallel()
		c := newPageClient(t, b)
		require.Equal(t, http.StatusNotFound, c.open(t, "no-such-token").status)
		fresh := newPageClient(t, b)
		require.Equal(t, http.StatusNotFound, fresh.do(t, http.MethodGet, "/invitations/accept", nil).status)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		own := setup(t)
		f := own.invFixture(t)
		own.advance(8 * 24 * time.Hour)
		c := newPageClient(t, own)
		require.Equal(t, http.StatusGone, c.open(t, f.inv.Token).status)
	})
}
