package tenancy

import (
	"slices"
	"strings"
)

// Features are a tier's feature flags and quotas (spec §1.7).
type Features struct {
	AllowCustomDomain      bool     `json:"allow_custom_domain"`
	AllowSAMLIdP           bool     `json:"allow_saml_idp"`
	AllowSCIM              bool     `json:"allow_scim"`
	AllowSIEM              bool     `json:"allow_siem"`
	AllowBranding          bool     `json:"allow_branding"`
	AllowPasskeys          bool     `json:"allow_passkeys"`
	AllowedSocialProviders []string `json:"allowed_social_providers"`
	// MaxMAU is the monthly-active-user quota; <= 0 is unlimited.
	MaxMAU       int  `json:"max_mau"`
	AllowOverage bool `json:"allow_overage"`
}

// FeatureOverrides are the platform owner's per-organization feature
// settings; nil fields are not set. They are stored as given and merged
// field by field; Widen applies them so that they only ever widen the
// tier's features: a false flag, a provider list without the tier's
// providers or a smaller MAU quota is harmless, it just grants nothing
// beyond the tier.
type FeatureOverrides struct {
	AllowCustomDomain      *bool    `json:"allow_custom_domain,omitempty"`
	AllowSAMLIdP           *bool    `json:"allow_saml_idp,omitempty"`
	AllowSCIM              *bool    `json:"allow_scim,omitempty"`
	AllowSIEM              *bool    `json:"allow_siem,omitempty"`
	AllowBranding          *bool    `json:"allow_branding,omitempty"`
	AllowPasskeys          *bool    `json:"allow_passkeys,omitempty"`
	AllowedSocialProviders []string `json:"allowed_social_providers,omitempty"`
	MaxMAU                 *int     `json:"max_mau,omitempty"`
	AllowOverage           *bool    `json:"allow_overage,omitempty"`
}

// SocialProviders are the provider names a feature list may allow.
func SocialProviders() []string { return []string{"github", "google", "microsoft", "oidc"} }

// IsZero reports whether o sets nothing.
func (o FeatureOverrides) IsZero() bool {
	return o.AllowCustomDomain == nil && o.AllowSAMLIdP == nil && o.AllowSCIM == nil && o.AllowSIEM == nil &&
		o.AllowBranding == nil && o.AllowPasskeys == nil && o.AllowedSocialProviders == nil && o.MaxMAU == nil &&
		o.AllowOverage == nil
}

// Merge returns o with every field that patch sets replaced by patch's.
func (o FeatureOverrides) Merge(patch FeatureOverrides) FeatureOverrides {
	pick := func(dst **bool, src *bool) {
		if src != nil {
			v := *src
			*dst = &v
		}
	}
	pick(&o.AllowCustomDomain, patch.AllowCustomDomain)
	pick(&o.AllowSAMLIdP, patch.AllowSAMLIdP)
	pick(&o.AllowSCIM, patch.AllowSCIM)
	pick(&o.AllowSIEM, patch.AllowSIEM)
	pick(&o.AllowBranding, patch.AllowBranding)
	pick(&o.AllowPasskeys, patch.AllowPasskeys)
	pick(&o.AllowOverage, patch.AllowOverage)
	if patch.AllowedSocialProviders != nil {
		o.AllowedSocialProviders = slices.Clone(patch.AllowedSocialProviders)
	}
	if patch.MaxMAU != nil {
		v := *patch.MaxMAU
		o.MaxMAU = &v
	}
	return o
}

// normalizeProviders lowercases, validates and de-duplicates provider names.
func normalizeProviders(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if !slices.Contains(SocialProviders(), p) {
			return nil, &ValidationError{Field: "body.allowed_social_providers",
				Message: "unknown provider " + p + "; use " + strings.Join(SocialProviders(), ", ")}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Widen returns the features the organization has: the tier's, widened by
// the overrides. Flags are OR-ed, providers united, and the MAU quota is
// the larger one, where <= 0 (unlimited) is the largest.
func (f Features) Widen(o *FeatureOverrides) Features {
	out := f
	out.AllowedSocialProviders = slices.Clone(f.AllowedSocialProviders)
	if o == nil {
		return out
	}
	or := func(dst *bool, v *bool) {
		if v != nil && *v {
			*dst = true
		}
	}
	or(&out.AllowCustomDomain, o.AllowCustomDomain)
	or(&out.AllowSAMLIdP, o.AllowSAMLIdP)
	or(&out.AllowSCIM, o.AllowSCIM)
	or(&out.AllowSIEM, o.AllowSIEM)
	or(&out.AllowBranding, o.AllowBranding)
	or(&out.AllowPasskeys, o.AllowPasskeys)
	or(&out.AllowOverage, o.AllowOverage)
	for _, p := range o.AllowedSocialProviders {
		if !slices.Contains(out.AllowedSocialProviders, p) {
			out.AllowedSocialProviders = append(out.AllowedSocialProviders, p)
		}
	}
	if o.MaxMAU != nil && out.MaxMAU > 0 && (*o.MaxMAU <= 0 || *o.MaxMAU > out.MaxMAU) {
		out.MaxMAU = *o.MaxMAU
		if out.MaxMAU < 0 {
			out.MaxMAU = 0
		}
	}
	return out
}
