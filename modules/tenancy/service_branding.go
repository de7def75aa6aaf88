package tenancy

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// featureCustomBranding is the display name of allow_branding in the tier
// gate's denial (spec §1.7).
const featureCustomBranding = "Custom Branding"

// maxLogoURLLength caps a logo URL.
const maxLogoURLLength = 2048

// colorPattern is a hex color: #rrggbb or #rgb.
var colorPattern = regexp.MustCompile(`^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$`)

// Branding is an organization's look on its hosted login pages (spec §4.4);
// nil fields are unset.
type Branding struct {
	LogoURL      *string
	PrimaryColor *string
}

// brandingOf returns the organization's branding.
func brandingOf(o Organization) Branding {
	return Branding{LogoURL: o.BrandLogoURL, PrimaryColor: o.BrandColor}
}

// GetBranding returns an organization's branding to a member.
// Errors: ErrOrgNotFound, ErrNotMember.
func (s *Service) GetBranding(ctx context.Context, a Actor, slug string) (Branding, error) {
	ac, err := s.resolve(ctx, s.store, slug, a, false, false)
	if err != nil {
		return Branding{}, err
	}
	return brandingOf(ac.org), nil
}

// PublicBranding returns an active organization's branding to anyone, so
// that login pages can show it. Any other status answers ErrOrgNotFound,
// like an unknown slug: the answer never tells that a pending, suspended or
// rejected organization exists.
func (s *Service) PublicBranding(ctx context.Context, slug string) (Branding, error) {
	org, err := s.store.OrgGetBySlug(ctx, slug)
	if err != nil {
		return Branding{}, err
	}
	if org.Status != StatusActive {
		return Branding{}, ErrOrgNotFound
	}
	return brandingOf(org), nil
}

// UpdateBranding overwrites an organization's branding (spec §4.4): both
// fields are written, so a nil (or empty) field clears it. The caller needs
// org.settings.manage in an active organization whose tier, widened by its
// feature overrides, allows branding. The color is stored in lowercase;
// branding.updated is recorded in the same transaction, even when nothing
// changed, since the caller asked for the write.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError, *FeatureNotAvailableError, ValidationErrors.
func (s *Service) UpdateBranding(ctx context.Context, a Actor, slug string, in Branding) (Branding, error) {
	var out Branding
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		if !ac.can(CapOrgSettingsManage) {
			return ErrCannotManageSettings
		}
		if err := requireActive(ac.org); err != nil {
			return err
		}
		features, err := s.orgFeatures(ctx, ac.org)
		if err != nil {
			return err
		}
		if !features.AllowBranding {
			return &FeatureNotAvailableError{Feature: featureCustomBranding}
		}
		b, err := normalizeBranding(in)
		if err != nil {
			return err
		}
		org, err := st.OrgSetBranding(ctx, ac.org.ID, b.LogoURL, b.PrimaryColor, s.now())
		if err != nil {
			return err
		}
		out = brandingOf(org)
		return s.record(ctx, tx, orgEvent("branding.updated", org, a, ac.actorType(), "organization", org.ID.String(),
			map[string]any{"logo_url": nullable(out.LogoURL), "primary_color": nullable(out.PrimaryColor)}))
	})
	if err != nil {
		return Branding{}, err
	}
	return out, nil
}

// nullable turns a nil pointer into a JSON null and a set one into its
// value.
func nullable(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// normalizeBranding validates both fields, reporting every problem: the
// color must be #rrggbb or #rgb (stored lowercase) and the logo an absolute
// https URL with a host, without credentials or fragment, of at most 2048
// characters. Blank values become nil.
func normalizeBranding(in Branding) (Branding, error) {
	var out Branding
	var errs ValidationErrors
	if in.PrimaryColor != nil {
		if c := strings.TrimSpace(*in.PrimaryColor); c != "" {
			if !colorPattern.MatchString(c) {
				errs.add(&ValidationError{Field: "body.primary_color",
					Message: "Invalid color format. Must be a hex color (e.g., #FF5733 or #F57)"})
			} else {
				c = strings.ToLower(c)
				out.PrimaryColor = &c
			}
		}
	}
	if in.LogoURL != nil {
		if u := strings.TrimSpace(*in.LogoURL); u != "" {
			if msg := logoURLProblem(u); msg != "" {
				errs.add(&ValidationError{Field: "body.logo_url", Message: msg})
			} else {
				out.LogoURL = &u
			}
		}
	}
	if err := errs.orNil(); err != nil {
		return Branding{}, err
	}
	return out, nil
}

// logoURLProblem says what is wrong with a logo URL, or "" when nothing is.
func logoURLProblem(raw string) string {
	if utf8.RuneCountInString(raw) > maxLogoURLLength {
		return "Logo URL must be at most 2048 characters"
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "Logo URL must not contain spaces or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "Logo URL must be an absolute https URL"
	}
	if u.Scheme != "https" {
		return "Logo URL must use https"
	}
	if u.User != nil {
		return "Logo URL must not contain credentials"
	}
	if strings.Contains(raw, "#") {
		return "Logo URL must not contain a fragment"
	}
	return ""
}
