package hosted

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

// Defaults used when Options leave them empty.
const (
	DefaultProductName  = "AuthOS"
	DefaultPrimaryColor = "#1d4ed8"
)

// page template names; each is templates/<name>.html.
const (
	tmplLogin           = "login"
	tmplMFA             = "mfa"
	tmplActivate        = "activate"
	tmplActivateSuccess = "activate_success"
	tmplMessage         = "message"
	tmplResetPassword   = "reset_password"
	tmplInvitation      = "invitation"
)

// Options configure a Renderer.
type Options struct {
	// ProductName is shown when an organization has no name and in the
	// footer; empty means DefaultProductName.
	ProductName string
	// PrimaryColor is the accent colour used when an organization has
	// none (or an invalid one), as #rgb or #rrggbb; empty means
	// DefaultPrimaryColor.
	PrimaryColor string
	// Logger receives template execution errors; nil discards them.
	Logger *slog.Logger
}

// Renderer writes the hosted pages. Templates are embedded in the binary
// and parsed once by New; a Renderer is safe for concurrent use.
type Renderer struct {
	pages   map[string]*template.Template
	product string
	color   string
	logger  *slog.Logger
}

// New parses the embedded templates. It returns an error for an invalid
// Options.PrimaryColor or a template that does not parse.
func New(opts Options) (*Renderer, error) {
	r := &Renderer{product: strings.TrimSpace(opts.ProductName), color: DefaultPrimaryColor, logger: opts.Logger}
	if r.product == "" {
		r.product = DefaultProductName
	}
	if opts.PrimaryColor != "" {
		c, ok := parseColor(opts.PrimaryColor)
		if !ok {
			return nil, fmt.Errorf("create hosted page renderer: primary color %q is not #rgb or #rrggbb", opts.PrimaryColor)
		}
		r.color = c
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	base, err := template.New("base").ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse hosted layout: %w", err)
	}
	r.pages = map[string]*template.Template{}
	for _, name := range []string{tmplLogin, tmplMFA, tmplActivate, tmplActivateSuccess, tmplMessage, tmplResetPassword, tmplInvitation} {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone hosted layout: %w", err)
		}
		if t, err = t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parse hosted page %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("parse hosted page %s: no content template", name)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Page holds what every hosted page has. Each page's data type embeds it.
type Page struct {
	// Branding is the organization's look; the zero value is AuthOS's.
	Branding Branding
	// Title is the page's <title> and <h1>; empty means the page's default.
	Title string
	// Error is shown in the page's alert region (role=alert), and marks the
	// form's fields aria-invalid.
	Error string
	// Message is informational text shown above the form (role=status).
	Message string
	// CSRFToken is the value of CSRF.Token; every form carries it as
	// csrf_token. Empty renders no token field.
	CSRFToken string
	// FormActionOrigins are origins (or URLs, reduced to their origin)
	// that the page's CSP form-action also allows besides 'self'. Chrome
	// applies form-action to the redirects that follow a form POST, so a
	// login or MFA page whose POST answers with a redirect to a client's
	// redirect_uri or to an identity provider must list that origin here.
	// Custom schemes of native apps (myapp://cb) become a scheme source.
	// Entries that are not URLs are dropped.
	FormActionOrigins []string
	// Lang is the page language (BCP 47, e.g. "en", "de-CH"); empty or
	// malformed means "en".
	Lang string
}

// HiddenField is a hidden form input carried through a form unchanged
// (state, redirect_uri, pre-auth token, user_code, ...).
type HiddenField struct {
	Name, Value string
}

// ProviderLink is a "Continue with …" button for a social or enterprise
// identity provider. It is a plain link (GET), so it needs no CSRF token.
type ProviderLink struct {
	// Name is the provider's id (github, google, microsoft), exposed as
	// data-provider for tests and styling.
	Name string
	// DisplayName is the button label; empty means Name.
	DisplayName string
	// URL starts the provider flow, e.g. /auth/github?org=…&service=….
	URL string
}

// providerView is a ProviderLink ready to render.
type providerView struct {
	Name, Label, URL string
}

// signIn is the password form shared by the login and activation pages.
type signIn struct {
	Action            string
	Email             string
	ForgotPasswordURL string
}

// view is what the templates see.
type view struct {
	Lang, Title, Product, Nonce string
	Brand                       brand
	Error, Message, CSRFToken   string
	Hidden                      []HiddenField
	Providers                   []providerView
	SignIn                      signIn
	Data                        any
}

func (r *Renderer) newView(p Page, defaultTitle string) view {
	v := view{
		Lang:      safeLang(p.Lang),
		Title:     strings.TrimSpace(p.Title),
		Product:   r.product,
		Brand:     p.Branding.normalize(r.product, r.color),
		Error:     p.Error,
		Message:   p.Message,
		CSRFToken: p.CSRFToken,
	}
	if v.Title == "" {
		v.Title = defaultTitle
	}
	return v
}

// render executes page name into a buffer first, so a template error
// becomes a clean 500 rather than half a page.
func (r *Renderer) render(w http.ResponseWriter, status int, name string, v view, formOrigins []string) {
	v.Nonce = newNonce()
	var buf bytes.Buffer
	err := r.pages[name].ExecuteTemplate(&buf, "layout", v)
	setHeaders(w.Header(), v.Nonce, formOrigins)
	if err != nil {
		r.logger.Error("render hosted page", "page", name, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(internalErrorPage))
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const internalErrorPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head>` +
	`<body><main><h1>Something went wrong</h1><p>Please try again later.</p></main></body></html>`

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return base64.StdEncoding.EncodeToString(b[:])
}

// setHeaders sets the security headers every hosted page carries.
func setHeaders(h http.Header, nonce string, formOrigins []string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy(nonce, formOrigins))
}

func contentSecurityPolicy(nonce string, formOrigins []string) string {
	formAction := append([]string{"'self'"}, cspSources(formOrigins)...)
	return strings.Join([]string{
		"default-src 'none'",
		"style-src 'nonce-" + nonce + "'",
		"img-src https: data:",
		"form-action " + strings.Join(formAction, " "),
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; ")
}

// cspSources turns origins or URLs into CSP source expressions: http(s)
// URLs become their origin, other URL schemes a scheme source; anything
// else (including schemes that run code) is dropped, so tenant data can
// never inject a directive.
func cspSources(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range in {
		s, err := cspSource(strings.TrimSpace(raw))
		if err != nil || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

var errBadSource = errors.New("not a usable form-action source")

func cspSource(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", errBadSource
	}
	for _, c := range u.Scheme {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return "", errBadSource
		}
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.User != nil || !validHost(u.Host) {
			return "", errBadSource
		}
		return u.Scheme + "://" + strings.ToLower(u.Host), nil
	case "javascript", "data", "blob", "filesystem", "vbscript", "about":
		return "", errBadSource
	default:
		return u.Scheme + ":", nil
	}
}

// validHost allows host[:port] characters only (no CSP separators).
func validHost(h string) bool {
	for _, c := range h {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return true
}

// safeLang returns lang when it looks like a BCP 47 tag, else "en".
func safeLang(lang string) string {
	parts := strings.Split(lang, "-")
	if lang == "" || len(lang) > 35 || len(parts[0]) < 2 || len(parts[0]) > 3 {
		return "en"
	}
	for i, p := range parts {
		if p == "" || len(p) > 8 {
			return "en"
		}
		for _, c := range p {
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return "en"
			}
		}
	}
	return lang
}

// hiddenFields drops fields without a name and any that would shadow the
// CSRF token.
func hiddenFields(in []HiddenField) []HiddenField {
	out := make([]HiddenField, 0, len(in))
	for _, f := range in {
		if f.Name == "" || f.Name == CSRFField {
			continue
		}
		out = append(out, f)
	}
	return out
}

// providerViews drops providers whose URL is neither relative nor http(s)
// and fills in labels.
func providerViews(in []ProviderLink) []providerView {
	out := make([]providerView, 0, len(in))
	for _, p := range in {
		u, err := url.Parse(p.URL)
		if p.URL == "" || err != nil || (u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		label := strings.TrimSpace(p.DisplayName)
		if label == "" {
			label = p.Name
		}
		out = append(out, providerView{Name: p.Name, Label: label, URL: p.URL})
	}
	return out
}
