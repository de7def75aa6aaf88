package tenancy

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/authos/authos/platform/httpapi"
)

// ClientMeta is embedded in inputs whose handlers record who called.
type ClientMeta struct {
	UserAgent string `header:"User-Agent" hidden:"true"`
}

// actorFrom turns the authenticated principal into the service's Actor.
func actorFrom(ctx context.Context, m ClientMeta) Actor {
	p := httpapi.MustPrincipal(ctx)
	a := Actor{UserID: p.UserID, Email: p.Email, IsPlatformOwner: p.IsPlatformOwner, EndUser: p.ServiceID != nil, Meta: RequestMeta{UserAgent: m.UserAgent}}
	if ip, ok := httpapi.ClientIPFrom(ctx); ok {
		a.Meta.IP = ip.String()
	}
	return a
}

// pathID parses a path id. Anything that is not a UUID names nothing and
// becomes uuid.Nil, which no row has: the service then answers its usual
// 404, after its authorization checks.
func pathID(raw string) uuid.UUID {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// OrganizationBody is the organization object (spec §4.1). SMTP settings
// are never serialized.
type OrganizationBody struct {
	ID                      string     `json:"id" format:"uuid"`
	Slug                    string     `json:"slug"`
	Name                    string     `json:"name"`
	OwnerUserID             *string    `json:"owner_user_id" format:"uuid" doc:"Null once the owner's account is gone"`
	Status                  string     `json:"status" enum:"pending,active,suspended,rejected"`
	TierID                  string     `json:"tier_id"`
	MaxServices             *int       `json:"max_services,omitempty" doc:"Override of the tier's service limit"`
	MaxUsers                *int       `json:"max_users,omitempty" doc:"Override of the tier's member limit"`
	ApprovedBy              *string    `json:"approved_by,omitempty" format:"uuid"`
	ApprovedAt              *time.Time `json:"approved_at,omitempty"`
	RejectedBy              *string    `json:"rejected_by,omitempty" format:"uuid"`
	RejectedAt              *time.Time `json:"rejected_at,omitempty"`
	RejectionReason         *string    `json:"rejection_reason,omitempty"`
	CustomDomain            *string    `json:"custom_domain,omitempty"`
	DomainVerified          bool       `json:"domain_verified"`
	DomainVerificationToken *string    `json:"domain_verification_token,omitempty"`
	BrandLogoURL            *string    `json:"brand_logo_url,omitempty"`
	BrandPrimaryColor       *string    `json:"brand_primary_color,omitempty"`
	FeatureOverrides        *string    `json:"feature_overrides,omitempty" doc:"Feature overrides as JSON text (AuthOS compatibility)"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func idString(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

func toOrganizationBody(o Organization) OrganizationBody {
	b := OrganizationBody{
		ID: o.ID.String(), Slug: o.Slug, Name: o.Name, OwnerUserID: idString(o.OwnerUserID), Status: string(o.Status),
		TierID: o.TierID, MaxServices: o.MaxServices, MaxUsers: o.MaxUsers, ApprovedBy: idString(o.ApprovedBy),
		ApprovedAt: o.ApprovedAt, RejectedBy: idString(o.RejectedBy), RejectedAt: o.RejectedAt, RejectionReason: o.RejectionReason,
		CustomDomain: o.CustomDomain, DomainVerified: o.DomainVerified, DomainVerificationToken: o.DomainToken,
		BrandLogoURL: o.BrandLogoURL, BrandPrimaryColor: o.BrandColor, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
	if o.FeatureOverrides != nil {
		if raw, err := json.Marshal(o.FeatureOverrides); err == nil {
			s := string(raw)
			b.FeatureOverrides = &s
		}
	}
	return b
}

// FeaturesBody is a tier's feature set (spec §1.7).
type FeaturesBody struct {
	AllowCustomDomain      bool     `json:"allow_custom_domain"`
	AllowSAMLIdP           bool     `json:"allow_saml_idp"`
	AllowSCIM              bool     `json:"allow_scim"`
	AllowSIEM              bool     `json:"allow_siem"`
	AllowBranding          bool     `json:"allow_branding"`
	AllowPasskeys          bool     `json:"allow_passkeys"`
	AllowedSocialProviders []string `json:"allowed_social_providers"`
	MaxMAU                 int      `json:"max_mau" doc:"Monthly active users; 0 or less is unlimited"`
	AllowOverage           bool     `json:"allow_overage"`
}

// TierBody is a tier (spec §1.7, §20.2).
type TierBody struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	DisplayName        string       `json:"display_name"`
	DefaultMaxServices int          `json:"default_max_services"`
	DefaultMaxUsers    int          `json:"default_max_users"`
	Features           FeaturesBody `json:"features"`
	PriceCents         int          `json:"price_cents"`
	Currency           string       `json:"currency"`
	CreatedAt          time.Time    `json:"created_at"`
}

func toTierBody(t Tier) TierBody {
	providers := t.Features.AllowedSocialProviders
	if providers == nil {
		providers = []string{}
	}
	return TierBody{
		ID: t.ID, Name: t.Name, DisplayName: t.DisplayName, DefaultMaxServices: t.DefaultMaxServices,
		DefaultMaxUsers: t.DefaultMaxUsers, PriceCents: t.PriceCents, Currency: t.Currency, CreatedAt: t.CreatedAt,
		Features: FeaturesBody{
			AllowCustomDomain: t.Features.AllowCustomDomain, AllowSAMLIdP: t.Features.AllowSAMLIdP, AllowSCIM: t.Features.AllowSCIM,
			AllowSIEM: t.Features.AllowSIEM, AllowBranding: t.Features.AllowBranding, AllowPasskeys: t.Features.AllowPasskeys,
			AllowedSocialProviders: providers, MaxMAU: t.Features.MaxMAU, AllowOverage: t.Features.AllowOverage,
		},
	}
}

func toTierBodyPtr(t *Tier) *TierBody {
	if t == nil {
		return nil
	}
	b := toTierBody(*t)
	return &b
}

// OrgSummaryBody is an organization as its members see it.
type OrgSummaryBody struct {
	Organization    OrganizationBody `json:"organization"`
	MembershipCount int              `json:"membership_count"`
	ServiceCount    int              `json:"service_count"`
	Tier            *TierBody        `json:"tier,omitempty"`
}

func toOrgSummaryBody(s OrgSummary) OrgSummaryBody {
	return OrgSummaryBody{
		Organization: toOrganizationBody(s.Org), MembershipCount: s.MembershipCount, ServiceCount: s.ServiceCount,
		Tier: toTierBodyPtr(s.Tier),
	}
}

// UserBody is a user as organizations and the platform owner see it.
type UserBody struct {
	ID              string    `json:"id" format:"uuid"`
	Email           string    `json:"email"`
	IsPlatformOwner bool      `json:"is_platform_owner"`
	CreatedAt       time.Time `json:"created_at"`
}

func toUserBody(u UserInfo) UserBody {
	return UserBody{ID: u.ID.String(), Email: u.Email, IsPlatformOwner: u.IsPlatformOwner, CreatedAt: u.CreatedAt}
}

// MembershipBody is a membership.
type MembershipBody struct {
	ID        string    `json:"id" format:"uuid"`
	OrgID     string    `json:"org_id" format:"uuid"`
	UserID    string    `json:"user_id" format:"uuid"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func toMembershipBody(m Membership) MembershipBody {
	return MembershipBody{ID: m.ID.String(), OrgID: m.OrgID.String(), UserID: m.UserID.String(), Role: string(m.Role), CreatedAt: m.CreatedAt}
}

// MemberBody is a member with their user.
type MemberBody struct {
	User       UserBody       `json:"user"`
	Membership MembershipBody `json:"membership"`
}

func toMemberBody(m Member) MemberBody {
	return MemberBody{User: toUserBody(m.User), Membership: toMembershipBody(m.Membership)}
}

// NullOutput is a 200 answer whose body is JSON null (the reference's
// answer to deletions and removals).
type NullOutput struct {
	Body *struct{}
}
