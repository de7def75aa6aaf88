package hosted_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/authos/authos/platform/hosted"
)

func newRenderer(t *testing.T) *hosted.Renderer {
	t.Helper()
	r, err := hosted.New(hosted.Options{})
	require.NoError(t, err)
	return r
}

var acme = hosted.Branding{OrgName: "Acme Corp", LogoURL: "https://cdn.acme.test/logo.png", PrimaryColor: "#0A7"}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("RejectsBadDefaultColor", func(t *testing.T) {
		t.Parallel()
		_, err := hosted.New(hosted.Options{PrimaryColor: "red"})
		require.ErrorContains(t, err, "primary color")
	})

	t.Run("UsesOptions", func(t *testing.T) {
		t.Parallel()
		r, err := hosted.New(hosted.Options{ProductName: "Example ID", PrimaryColor: "#123456"})
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		r.MessagePage(rec, http.StatusOK, hosted.MessageData{OK: true, Page: hosted.Page{Message: "ok"}})
		require.Contains(t, rec.Body.String(), "--brand: #123456;")
		require.Contains(t, rec.Body.String(), "<title>Done · Example ID</title>")
		require.Contains(t, rec.Body.String(), "Secured by Example ID")
	})
}

// pageCase renders one page state and checks what is specific to it.
type pageCase struct {
	Name   string
	Status int
	Render func(r *hosted.Renderer, w http.ResponseWriter, status int)
	Check  func(t *testing.T, d doc)
}

func pageCases() []pageCase {
	hidden := []hosted.HiddenField{{Name: "state", Value: `st"ate`}, {Name: "redirect_uri", Value: "https://app.acme.test/cb"}}
	providers := []hosted.ProviderLink{
		{Name: "github", DisplayName: "GitHub", URL: "/auth/github?org=acme&service=web"},
		{Name: "google", URL: "/auth/google?org=acme&service=web"},
	}
	return []pageCase{
		{
			Name: "Login", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.LoginPage(w, status, hosted.LoginData{
					Page:   hosted.Page{Branding: acme, CSRFToken: "tok123"},
					Action: "/authorize", Email: "ada@acme.test", Hidden: hidden, Providers: providers,
					ForgotPasswordURL: "/forgot-password?org=acme",
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Sign in", text(d.tags("h1")[0]))
				forms := d.tags("form")
				require.Len(t, forms, 1)
				f := forms[0]
				require.Equal(t, "/authorize", attrOf(f, "action"))
				require.Equal(t, "tok123", attrOf(input(t, f, "csrf_token"), "value"))
				require.Equal(t, `st"ate`, attrOf(input(t, f, "state"), "value"))
				require.Equal(t, "https://app.acme.test/cb", attrOf(input(t, f, "redirect_uri"), "value"))
				email := input(t, f, "email")
				require.Equal(t, "email", attrOf(email, "type"))
				require.Equal(t, "ada@acme.test", attrOf(email, "value"))
				require.Equal(t, "username", attrOf(email, "autocomplete"))
				pw := input(t, f, "password")
				require.Equal(t, "password", attrOf(pw, "type"))
				require.Equal(t, "current-password", attrOf(pw, "autocomplete"))
				links := d.all(func(n *html.Node) bool { _, ok := attr(n, "data-provider"); return ok })
				require.Len(t, links, 2)
				require.Equal(t, "/auth/github?org=acme&service=web", attrOf(links[0], "href"))
				require.Equal(t, "Continue with GitHub", text(links[0]))
				require.Equal(t, "Continue with google", text(links[1]))
				require.Contains(t, d.body, `href="/forgot-password?org=acme"`)
			},
		},
		{
			Name: "LoginWithError", Status: http.StatusUnauthorized,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.LoginPage(w, status, hosted.LoginData{Page: hosted.Page{Error: "Invalid email or password"}})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Invalid email or password", text(d.byID(t, "page-error")))
				f := d.tags("form")[0]
				_, hasAction := attr(f, "action")
				require.False(t, hasAction, "empty Action posts back to the page")
				require.Equal(t, "true", attrOf(input(t, f, "email"), "aria-invalid"))
				require.Equal(t, "page-error", attrOf(input(t, f, "password"), "aria-describedby"))
				require.Empty(t, d.all(func(n *html.Node) bool { _, ok := attr(n, "data-provider"); return ok }))
				require.NotContains(t, d.body, "Forgot your password")
				require.NotContains(t, d.body, "csrf_token")
			},
		},
		{
			Name: "MFAChallenge", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.MFAChallengePage(w, status, hosted.MFAChallengeData{
					Page:   hosted.Page{Branding: acme, CSRFToken: "tok"},
					Action: "/authorize/mfa", Hidden: []hosted.HiddenField{{Name: "preauth_token", Value: "pre"}},
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Two-factor authentication", text(d.tags("h1")[0]))
				forms := d.tags("form")
				require.Len(t, forms, 2, "authenticator code and backup code")
				for _, f := range forms {
					require.Equal(t, "/authorize/mfa", attrOf(f, "action"))
					require.Equal(t, "pre", attrOf(input(t, f, "preauth_token"), "value"))
					require.Equal(t, "tok", attrOf(input(t, f, "csrf_token"), "value"))
				}
				code := input(t, forms[0], "code")
				require.Equal(t, "numeric", attrOf(code, "inputmode"))
				require.Equal(t, "one-time-code", attrOf(code, "autocomplete"))
				require.Equal(t, "[0-9]{6}", attrOf(code, "pattern"))
				require.Equal(t, "off", attrOf(input(t, forms[1], "code"), "autocomplete"))
				require.Len(t, d.tags("details"), 1)
			},
		},
		{
			Name: "ActivateEnterCode", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.ActivatePage(w, status, hosted.ActivateData{Page: hosted.Page{CSRFToken: "tok"}, Action: "/activate", UserCode: "WDJB-MJHT"})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Activate your device", text(d.tags("h1")[0]))
				forms := d.tags("form")
				require.Len(t, forms, 1)
				require.Equal(t, "/activate", attrOf(forms[0], "action"))
				code := input(t, forms[0], "user_code")
				require.Equal(t, "WDJB-MJHT", attrOf(code, "value"))
				require.Equal(t, "[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}", attrOf(code, "pattern"))
				require.Regexp(t, "^"+attrOf(code, "pattern")+"$", "WDJB-MJHT")
				require.NotContains(t, d.body, `name="password"`)
			},
		},
		{
			Name: "ActivateVerified", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.ActivatePage(w, status, hosted.ActivateData{
					Page: hosted.Page{Branding: acme, CSRFToken: "tok"}, UserCode: "WDJB-MJHT", Verified: true,
					ServiceName: "Acme CLI", LoginAction: "/activate/login",
					Hidden:    []hosted.HiddenField{{Name: "user_code", Value: "WDJB-MJHT"}},
					Providers: providers[:1],
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Sign in to connect your device", text(d.tags("h1")[0]))
				require.Contains(t, text(d.tags("main")[0]), "Sign in to connect Acme CLI to Acme Corp")
				require.Equal(t, "WDJB-MJHT", text(d.byID(t, "user-code")))
				forms := d.tags("form")
				require.Len(t, forms, 1)
				require.Equal(t, "/activate/login", attrOf(forms[0], "action"))
				input(t, forms[0], "email")
				input(t, forms[0], "password")
				require.Equal(t, "WDJB-MJHT", attrOf(input(t, forms[0], "user_code"), "value"))
				require.Len(t, d.all(func(n *html.Node) bool { return attrOf(n, "data-provider") == "github" }), 1)
			},
		},
		{
			Name: "ActivateSuccess", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.ActivateSuccessPage(w, status, hosted.ActivateSuccessData{Page: hosted.Page{Branding: acme}, ServiceName: "Acme CLI"})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Device connected", text(d.tags("h1")[0]))
				require.Contains(t, text(d.tags("main")[0]), "return to Acme CLI.")
				require.Empty(t, d.tags("form"))
			},
		},
		{
			Name: "MessageOK", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.MessagePage(w, status, hosted.MessageData{
					Page: hosted.Page{Title: "Email Verified!", Message: "Your email address has been verified."},
					OK:   true, LinkURL: "https://app.acme.test/", LinkText: "Back to Acme",
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Email Verified!", text(d.tags("h1")[0]))
				status := d.all(func(n *html.Node) bool { return attrOf(n, "role") == "status" })
				require.Len(t, status, 1)
				require.Equal(t, "Your email address has been verified.", text(status[0]))
				require.Empty(t, text(d.byID(t, "page-error")))
				a := d.tags("a")
				require.Len(t, a, 1)
				require.Equal(t, "https://app.acme.test/", attrOf(a[0], "href"))
				require.Equal(t, "Back to Acme", text(a[0]))
			},
		},
		{
			Name: "MessageFailed", Status: http.StatusBadRequest,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.MessagePage(w, status, hosted.MessageData{
					Page:    hosted.Page{Title: "Authentication Failed", Message: "The sign-in link has expired."},
					LinkURL: "/authorize?org=acme",
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Authentication Failed", text(d.tags("h1")[0]))
				require.Equal(t, "The sign-in link has expired.", text(d.byID(t, "page-error")))
				require.Empty(t, d.all(func(n *html.Node) bool { return attrOf(n, "role") == "status" }))
				require.Equal(t, "Continue", text(d.tags("a")[0]))
			},
		},
		{
			Name: "ResetPassword", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.ResetPasswordPage(w, status, hosted.ResetPasswordData{Page: hosted.Page{Branding: acme, CSRFToken: "tok"}, Action: "/reset-password", Token: "reset-tok"})
			},
			Check: func(t *testing.T, d doc) {
				f := d.tags("form")[0]
				require.Equal(t, "/reset-password", attrOf(f, "action"))
				require.Equal(t, "reset-tok", attrOf(input(t, f, "token"), "value"))
				for _, name := range []string{"password", "password_confirm"} {
					in := input(t, f, name)
					require.Equal(t, "password", attrOf(in, "type"))
					require.Equal(t, "new-password", attrOf(in, "autocomplete"))
					require.Equal(t, "8", attrOf(in, "minlength"))
					require.Equal(t, "128", attrOf(in, "maxlength"))
				}
			},
		},
		{
			Name: "InvitationAccept", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.InvitationAcceptPage(w, status, hosted.InvitationAcceptData{
					Page: hosted.Page{Branding: acme, CSRFToken: "tok"}, Role: "admin",
					InviterName: "Grace Hopper", InviterEmail: "grace@acme.test", Email: "ada@acme.test",
					AcceptAction: "/invitations/accept", DeclineAction: "/invitations/decline",
					Hidden: []hosted.HiddenField{{Name: "token", Value: "inv-tok"}},
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Join Acme Corp", text(d.tags("h1")[0]))
				require.Contains(t, text(d.tags("main")[0]), "Grace Hopper (grace@acme.test) invited you to join Acme Corp as admin.")
				require.Contains(t, text(d.tags("main")[0]), "This invitation is for ada@acme.test.")
				forms := d.tags("form")
				require.Len(t, forms, 2)
				require.Equal(t, "/invitations/accept", attrOf(forms[0], "action"))
				require.Equal(t, "/invitations/decline", attrOf(forms[1], "action"))
				for _, f := range forms {
					require.Equal(t, "inv-tok", attrOf(input(t, f, "token"), "value"))
					require.Equal(t, "tok", attrOf(input(t, f, "csrf_token"), "value"))
				}
				require.Equal(t, "Accept invitation", text(d.tags("button")[0]))
				require.Equal(t, "Decline", text(d.tags("button")[1]))
			},
		},
		{
			Name: "InvitationNeedsSignIn", Status: http.StatusOK,
			Render: func(r *hosted.Renderer, w http.ResponseWriter, status int) {
				r.InvitationAcceptPage(w, status, hosted.InvitationAcceptData{
					Page: hosted.Page{CSRFToken: "tok"}, OrgName: "Initech", Role: "member",
					NeedsSignIn: true, SignInURL: "/authorize?org=initech&return=%2Finvitations%2Faccept",
				})
			},
			Check: func(t *testing.T, d doc) {
				require.Equal(t, "Join Initech", text(d.tags("h1")[0]))
				require.Contains(t, text(d.tags("main")[0]), "You have been invited to join Initech as member.")
				require.Empty(t, d.tags("form"), "no accept form and no decline action")
				a := d.tags("a")
				require.Len(t, a, 1)
				require.Equal(t, "Sign in to accept", text(a[0]))
				require.Equal(t, "/authorize?org=initech&return=%2Finvitations%2Faccept", attrOf(a[0], "href"))
			},
		},
	}
}

func TestPages(t *testing.T) {
	t.Parallel()

	r := newRenderer(t)
	for _, tc := range pageCases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tc.Render(r, rec, tc.Status)
			require.Equal(t, tc.Status, rec.Code)
			requireSecurityHeaders(t, rec.Header())
			require.NotContains(t, rec.Body.String(), "ZgotmplZ")
			d := parse(t, rec)
			requireAccessible(t, d)
			tc.Check(t, d)
		})
	}
}

var nonceRE = regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9+/=]+)'`)

func requireSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "img-src https: data:", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		require.Contains(t, csp, d)
	}
	require.Regexp(t, nonceRE, csp)
}

func render(t *testing.T, r *hosted.Renderer, data hosted.LoginData) (*httptest.ResponseRecorder, doc) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.LoginPage(rec, 0, data)
	require.Equal(t, http.StatusOK, rec.Code, "status 0 means 200")
	return rec, parse(t, rec)
}

func TestStyleCarriesTheCSPNonce(t *testing.T) {
	t.Parallel()

	r := newRenderer(t)
	rec1, d1 := render(t, r, hosted.LoginData{})
	rec2, _ := render(t, r, hosted.LoginData{})
	n1 := nonceRE.FindStringSubmatch(rec1.Header().Get("Content-Security-Policy"))[1]
	n2 := nonceRE.FindStringSubmatch(rec2.Header().Get("Content-Security-Policy"))[1]
	require.NotEqual(t, n1, n2, "a fresh nonce per response")
	styles := d1.tags("style")
	require.Len(t, styles, 1)
	require.Equal(t, n1, attrOf(styles[0], "nonce"))
}

func TestFormActionOrigins(t *testing.T) {
	t.Parallel()

	r := newRenderer(t)
	rec, _ := render(t, r, hosted.LoginData{Page: hosted.Page{FormActionOrigins: []string{
		"https://App.Example.com/callback?code=1",
		"https://app.example.com",         // duplicate origin
		"http://localhost:8080/cb",        // dev redirect
		"com.example.app:/oauth2redirect", // native app custom scheme
		"javascript:alert(1)",
		"data:text/html,x",
		"https://evil.test; script-src *",
		"not a url",
		"",
	}}})
	csp := rec.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "; form-action 'self' https://app.example.com http://localhost:8080 com.example.app:; ")
	require.NotContains(t, csp, "javascript")
	require.NotContains(t, csp, "data:text")
	require.NotContains(t, csp, "evil")
	require.NotContains(t, csp, "script-src")
}

func TestEscaping(t *testing.T) {
	t.Parallel()

	r := newRenderer(t)

	t.Run("OrgNameIsEscaped", func(t *testing.T) {
		t.Parallel()
		_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: hosted.Branding{OrgName: `<script>alert("x")</script>`}}})
		require.NotContains(t, d.body, "<script>")
		require.Contains(t, d.body, "&lt;script&gt;")
		require.Empty(t, d.tags("script"))
		require.Contains(t, text(d.tags("title")[0]), `<script>alert("x")</script>`)
	})

	t.Run("UserInputIsEscaped", func(t *testing.T) {
		t.Parallel()
		_, d := render(t, r, hosted.LoginData{
			Page:   hosted.Page{Error: `<img src=x onerror=alert(1)>`, Message: `<b>hi</b>`, Title: `T<i>`},
			Email:  `"><script>x</script>`,
			Hidden: []hosted.HiddenField{{Name: `a"b`, Value: `"><script>y</script>`}},
		})
		require.Empty(t, d.tags("script"))
		require.Empty(t, d.tags("b"))
		require.Empty(t, d.tags("i"))
		require.Empty(t, d.tags("img"))
		require.Equal(t, `<img src=x onerror=alert(1)>`, text(d.byID(t, "page-error")))
		f := d.tags("form")[0]
		require.Equal(t, `"><script>x</script>`, attrOf(input(t, f, "email"), "value"))
		require.Equal(t, `"><script>y</script>`, attrOf(input(t, f, `a"b`), "value"))
	})

	t.Run("JavascriptLogoIsDropped", func(t *testing.T) {
		t.Parallel()
		for _, logo := range []string{"javascript:alert(1)", "http://cdn.acme.test/logo.png", "//cdn.acme.test/logo.png", "/logo.png", "data:image/png;base64,AAAA", "https://user:pw@cdn.acme.test/l.png", "https:///nohost"} {
			_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: hosted.Branding{LogoURL: logo}}})
			require.Empty(t, d.tags("img"), logo)
		}
		_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: acme}})
		imgs := d.tags("img")
		require.Len(t, imgs, 1)
		require.Equal(t, "https://cdn.acme.test/logo.png", attrOf(imgs[0], "src"))
	})

	t.Run("BadColorFallsBack", func(t *testing.T) {
		t.Parallel()
		for _, c := range []string{"red", "#12345", "#ggg", "#fff; } body { display:none", "#1234567", "", "expression(alert(1))"} {
			_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: hosted.Branding{PrimaryColor: c}}})
			require.Contains(t, d.body, "--brand: "+hosted.DefaultPrimaryColor+";", c)
			require.NotContains(t, d.body, "display:none")
		}
		_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: hosted.Branding{PrimaryColor: "#0A7"}}})
		require.Contains(t, d.body, "--brand: #00aa77;")
	})

	t.Run("ScriptProviderURLIsDropped", func(t *testing.T) {
		t.Parallel()
		_, d := render(t, r, hosted.LoginData{Providers: []hosted.ProviderLink{
			{Name: "evil", URL: "javascript:alert(1)"},
			{Name: "empty"},
			{Name: "github", URL: "https://authos.test/auth/github?org=a"},
		}})
		links := d.all(func(n *html.Node) bool { _, ok := attr(n, "data-provider"); return ok })
		require.Len(t, links, 1)
		require.Equal(t, "github", attrOf(links[0], "data-provider"))
	})

	t.Run("HiddenFieldCannotShadowCSRF", func(t *testing.T) {
		t.Parallel()
		_, d := render(t, r, hosted.LoginData{
			Page:   hosted.Page{CSRFToken: "real"},
			Hidden: []hosted.HiddenField{{Name: hosted.CSRFField, Value: "forged"}, {Name: "", Value: "x"}},
		})
		require.Equal(t, "real", attrOf(input(t, d.tags("form")[0], hosted.CSRFField), "value"))
	})

	t.Run("BadLangFallsBack", func(t *testing.T) {
		t.Parallel()
		for lang, want := range map[string]string{"de-CH": "de-CH", "": "en", `en" onload="x`: "en", "x": "en", "en--US": "en"} {
			_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Lang: lang}})
			require.Equal(t, want, attrOf(d.tags("html")[0], "lang"), lang)
		}
	})
}

func TestContrast(t *testing.T) {
	t.Parallel()

	r := newRenderer(t)
	for _, tc := range []struct {
		Name, Color, OnColor, Link string
	}{
		{Name: "DarkBrandGetsWhiteText", Color: "#1d4ed8", OnColor: "#ffffff", Link: "#1d4ed8"},
		{Name: "LightBrandGetsDarkText", Color: "#ffff00", OnColor: "#000000", Link: "#1e3a8a"},
		{Name: "MidBrandKeepsReadableLinks", Color: "#00aa77", OnColor: "#000000", Link: "#1e3a8a"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			_, d := render(t, r, hosted.LoginData{Page: hosted.Page{Branding: hosted.Branding{PrimaryColor: tc.Color}}})
			require.Contains(t, d.body, "--brand: "+tc.Color+"; --on-brand: "+tc.OnColor+"; --link: "+tc.Link+";")
		})
	}
}
