package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Names of the built-in templates.
const (
	TemplateVerifyEmail   = "verify_email"   // data: LinkData
	TemplatePasswordReset = "password_reset" // data: LinkData
	TemplateInvitation    = "invitation"     // data: InvitationData
	TemplateTestMessage   = "test_message"   // data: TestMessageData
	TemplateAccountExists = "account_exists" // data: LinkData (Link: where to reset the password)
)

// DefaultBrandColor is used when Branding.BrandColor is empty or not a hex
// color.
const DefaultBrandColor = "#4f46e5"

// ErrUnknownTemplate is returned by Render for a name without templates.
var ErrUnknownTemplate = errors.New("unknown mail template")

// Branding is the look shared by every template: the product or org name,
// an optional "#rrggbb" accent color and an optional https logo URL.
type Branding struct {
	AppName    string
	BrandColor string
	LogoURL    string
}

// LinkData is the data of verify_email and password_reset. ExpiresIn is
// human text such as "24 hours".
type LinkData struct {
	Branding
	Link      string
	ExpiresIn string
}

// InvitationData is the data of invitation.
type InvitationData struct {
	Branding
	OrgName      string
	InviterEmail string
	Role         string
	Link         string
	ExpiresIn    string
}

// TestMessageData is the data of test_message.
type TestMessageData struct {
	Branding
	OrgName string
}

// Templates renders the embedded message templates. For each name,
// templates/<name>.txt.tmpl (text/template) defines the "subject" and "text"
// blocks and templates/<name>.html.tmpl (html/template, with the shared
// layout.html.tmpl) defines "content", wrapped by the layout's "html". Values
// are escaped for HTML by html/template; URLs with unsafe schemes and colors
// that are not plain CSS values are neutralised. Templates is immutable and
// safe for concurrent use.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// buttonData is the value the layout's "button" block renders.
type buttonData struct {
	Link, Color, Label string
}

func htmlFuncs() htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"button": func(link, color, label string) buttonData {
			if !hexColor.MatchString(color) {
				color = DefaultBrandColor
			}
			return buttonData{Link: link, Color: color, Label: label}
		},
	}
}

// LoadTemplates parses every embedded template and checks that each name has
// both files and the subject, text and content blocks.
func LoadTemplates() (*Templates, error) {
	textFiles, err := fs.Glob(templateFS, "templates/*.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list text templates: %w", err)
	}
	htmlFiles, err := fs.Glob(templateFS, "templates/*.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list html templates: %w", err)
	}
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, file := range textFiles {
		name := strings.TrimSuffix(path.Base(file), ".txt.tmpl")
		tt, err := texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		for _, block := range []string{"subject", "text"} {
			if tt.Lookup(block) == nil {
				return nil, fmt.Errorf("template %s: missing %q block", file, block)
			}
		}
		t.text[name] = tt
	}
	for _, file := range htmlFiles {
		name := strings.TrimSuffix(path.Base(file), ".html.tmpl")
		if name == "layout" {
			continue
		}
		ht, err := htmltemplate.New(name).Option("missingkey=error").Funcs(htmlFuncs()).ParseFS(templateFS, "templates/layout.html.tmpl", file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		if ht.Lookup("content") == nil {
			return nil, fmt.Errorf("template %s: missing %q block", file, "content")
		}
		if _, ok := t.text[name]; !ok {
			return nil, fmt.Errorf("template %s: no matching %s.txt.tmpl", file, name)
		}
		t.html[name] = ht
	}
	for name := range t.text {
		if _, ok := t.html[name]; !ok {
			return nil, fmt.Errorf("template %s.txt.tmpl: no matching %s.html.tmpl", name, name)
		}
	}
	return t, nil
}

// Names returns the template names, sorted.
func (t *Templates) Names() []string {
	names := make([]string, 0, len(t.text))
	for name := range t.text {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Render executes template name with data: the matching *Data type, or a
// map[string]any with the same keys (as decoded from a job's JSON args), in
// which the Branding keys may be left out. A missing key or field is an
// error rather than a "<no value>" in the mail. The subject is collapsed to
// one line, so data cannot inject header lines.
func (t *Templates) Render(name string, data any) (subject, text, html string, err error) {
	tt, ok := t.text[name]
	if !ok {
		return "", "", "", fmt.Errorf("%w: %q", ErrUnknownTemplate, name)
	}
	if m, ok := data.(map[string]any); ok {
		data = withBrandingDefaults(m)
	}
	var buf bytes.Buffer
	if err := tt.ExecuteTemplate(&buf, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("render %s subject: %w", name, err)
	}
	subject = strings.Join(strings.Fields(buf.String()), " ")
	buf.Reset()
	if err := tt.ExecuteTemplate(&buf, "text", data); err != nil {
		return "", "", "", fmt.Errorf("render %s text: %w", name, err)
	}
	text = strings.TrimSpace(buf.String()) + "\n"
	buf.Reset()
	if err := t.html[name].ExecuteTemplate(&buf, "html", data); err != nil {
		return "", "", "", fmt.Errorf("render %s html: %w", name, err)
	}
	return subject, text, buf.String(), nil
}

// Compose renders template name and returns the Message to send to the
// given recipients.
func (t *Templates) Compose(name string, data any, to ...string) (Message, error) {
	subject, text, html, err := t.Render(name, data)
	if err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: subject, Text: text, HTML: html}, nil
}

// withBrandingDefaults returns m with the optional Branding keys present.
func withBrandingDefaults(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+3)
	for _, key := range []string{"AppName", "BrandColor", "LogoURL"} {
		out[key] = ""
	}
	for k, v := range m {
		out[k] = v
	}
	return out
}
