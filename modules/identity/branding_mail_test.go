package identity_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
)

// TestOrganizationBrandedEmailsAndPages: the emails of an organization's
// end users carry its name, colour and logo, and their links open the
// hosted pages in its branding; platform emails keep AuthOS's look.
func TestOrganizationBrandedEmailsAndPages(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	const (
		color = "#0a7f5a"
		logo  = "https://cdn.acme.example/logo.png"
	)
	b.scopes.update(acmeSlug+"/"+webSlug, func(sc *identity.Scope) { sc.PrimaryColor, sc.LogoURL = color, logo })
	web, err := b.scopes.ResolveScope(t.Context(), acmeSlug, webSlug)
	require.NoError(t, err)
	org := web
	org.ServiceID, org.ServiceSlug, org.ServiceName = nil, "", ""
	b.scopes.mu.Lock()
	b.scopes.scopes[acmeSlug+"/"] = org
	b.scopes.mu.Unlock()

	const email = "branded@acme.example"
	b.serviceUser(t, email) // registers (scoped) and verifies through the emailed link
	verify := b.emailsOf(t, email, "verify_email")
	require.Len(t, verify, 1)
	require.Equal(t, "Acme Corp", verify[0].Data["AppName"])
	require.Equal(t, color, verify[0].Data["BrandColor"])
	require.Equal(t, logo, verify[0].Data["LogoURL"])
	link, err := url.Parse(verify[0].link())
	require.NoError(t, err)
	require.Equal(t, acmeSlug, link.Query().Get("org"))

	// The verification result page is branded (the link was used by
	// serviceUser: it now says so, in the organization's look).
	page := b.get(t, link.RequestURI())
	requirePage(t, page, http.StatusBadRequest, "Link already used", "Acme Corp", logo)

	// Password reset: branded email, branded page.
	r := b.post(t, "/api/auth/forgot-password", map[string]string{"email": email, "org_slug": acmeSlug, "service_slug": webSlug})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	for _, job := range b.jobsOf(t, "identity.send_password_reset") {
		workJob(t, b.testBundle, b.mod.SendResetWorker(), job)
	}
	resets := b.emailsOf(t, email, "password_reset")
	require.Len(t, resets, 1)
	require.Equal(t, "Acme Corp", resets[0].Data["AppName"])
	reset, err := url.Parse(resets[0].link())
	require.NoError(t, err)
	br := b.newBrowser(t)
	loc := location(t, br.get(t, reset.RequestURI()), http.StatusSeeOther)
	require.Equal(t, "/reset-password?org="+acmeSlug, loc.RequestURI())
	form := br.get(t, loc.RequestURI())
	requirePage(t, form, http.StatusOK, "Acme Corp", logo, `action="/reset-password?org=acme"`)
	require.False(t, strings.Contains(string(form.body), reset.Query().Get("token")))

	// A platform registration keeps AuthOS's look and a plain link.
	b.verifiedUser(t, "platform-user@example.test", goodPassword)
	plain := b.emailsOf(t, "platform-user@example.test", "verify_email")
	require.Len(t, plain, 1)
	require.Equal(t, "AuthOS", plain[0].Data["AppName"])
	require.NotContains(t, plain[0].link(), "org=")
}
