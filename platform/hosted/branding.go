package hosted

import (
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Branding is an organization's look on its hosted pages. Every field is
// tenant-controlled and therefore untrusted: the Renderer shows LogoURL only
// when it is an absolute https URL, and PrimaryColor only when it is a #rgb
// or #rrggbb hex colour; otherwise it falls back to its defaults.
type Branding struct {
	// OrgName is the organization's display name; empty means the
	// renderer's product name ("AuthOS").
	OrgName string
	// LogoURL is an absolute https URL of the organization's logo.
	LogoURL string
	// PrimaryColor is the accent colour of buttons, as #rgb or #rrggbb.
	PrimaryColor string
}

// brand is Branding made safe to render, plus the colours derived from it.
type brand struct {
	OrgName string
	LogoURL string
	// Color is the button background; OnColor the button text chosen for
	// the higher contrast against it.
	Color, OnColor string
	// LinkColor is Color when it reaches 4.5:1 against the white page,
	// else a dark default, so links stay readable with any brand colour.
	LinkColor string
}

const (
	// White or black text on any colour reaches at least 4.58:1.
	white    = "#ffffff"
	black    = "#000000"
	darkLink = "#1e3a8a"
)

func (b Branding) normalize(defaultName, defaultColor string) brand {
	out := brand{OrgName: strings.TrimSpace(b.OrgName), LogoURL: safeLogoURL(b.LogoURL), Color: defaultColor}
	if out.OrgName == "" {
		out.OrgName = defaultName
	}
	if c, ok := parseColor(b.PrimaryColor); ok {
		out.Color = c
	}
	out.OnColor = white
	if contrast(out.Color, black) > contrast(out.Color, white) {
		out.OnColor = black
	}
	out.LinkColor = out.Color
	if contrast(out.Color, white) < 4.5 {
		out.LinkColor = darkLink
	}
	return out
}

// safeLogoURL returns raw normalised when it is an absolute https URL with a
// host and no credentials, else "".
func safeLogoURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return u.String()
}

// parseColor accepts #rgb and #rrggbb (any case) and returns #rrggbb in
// lower case.
func parseColor(s string) (string, bool) {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return "", false
	}
	hex := strings.ToLower(s[1:])
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	return "#" + hex, true
}

// luminance is the WCAG 2 relative luminance of a #rrggbb colour.
func luminance(c string) float64 {
	channel := func(i int) float64 {
		v, _ := strconv.ParseUint(c[i:i+2], 16, 8)
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(1) + 0.7152*channel(3) + 0.0722*channel(5)
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours (1 to 21).
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
