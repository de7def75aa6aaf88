package tenancy

import (
	"time"

	"github.com/google/uuid"
)

// OrgStatus is an organization's lifecycle status (spec §1.6, §14.2).
type OrgStatus string

// Organization statuses.
const (
	StatusPending   OrgStatus = "pending"
	StatusActive    OrgStatus = "active"
	StatusSuspended OrgStatus = "suspended"
	StatusRejected  OrgStatus = "rejected"
)

// DefaultTierID is the tier of a new organization and of an approval that
// names none.
const DefaultTierID = "tier_free"

// Fallback limits when an organization's tier row is missing (spec §1.7).
const (
	fallbackMaxServices = 2
	fallbackMaxUsers    = 3
)

// Organization is a tenant.
type Organization struct {
	ID              uuid.UUID
	Slug            string
	Name            string
	OwnerUserID     *uuid.UUID // nil once the owner's account is gone
	Status          OrgStatus
	TierID          string
	MaxServices     *int // override of the tier's default; nil = tier's
	MaxUsers        *int
	ApprovedBy      *uuid.UUID
	ApprovedAt      *time.Time
	RejectedBy      *uuid.UUID
	RejectedAt      *time.Time
	RejectionReason *string
	CustomDomain    *string
	DomainVerified  bool
	DomainToken     *string
	BrandLogoURL    *string
	BrandColor      *string
	// FeatureOverrides is nil when the platform owner set none.
	FeatureOverrides *FeatureOverrides
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Tier is a row of organization_tiers (spec §1.7).
type Tier struct {
	ID                 string
	Name               string
	DisplayName        string
	DefaultMaxServices int
	DefaultMaxUsers    int
	Features           Features
	PriceCents         int
	Currency           string
	CreatedAt          time.Time
}

// OrgSummary is an organization as listed and fetched by its members.
type OrgSummary struct {
	Org             Organization
	MembershipCount int
	ServiceCount    int
	Tier            *Tier // nil when the tier row is missing
}

// Membership is a user's role in an organization.
type Membership struct {
	ID        uuid.UUID
	OrgID     uuid.UUID
	UserID    uuid.UUID
	Role      Role
	CreatedAt time.Time
}

// Member is a membership with its user.
type Member struct {
	User       UserInfo
	Membership Membership
}

// MemberList is one page of an organization's members with its team limit.
type MemberList struct {
	Members []Member
	Total   int
	Limit   TeamLimit
}

// TeamLimit is the organization's member count against its max_users
// (spec §4.2): Source is "custom" for an organization override, else the
// tier's name.
type TeamLimit struct {
	Current int
	Max     int
	Source  string
}

// CreatedOrg is what CreateOrganization returns: the organization, its
// owner and an org-scoped session for the creator.
type CreatedOrg struct {
	Org        Organization
	Owner      UserInfo
	Membership Membership
	Tokens     Tokens
}

// SelectedOrg is what SelectOrganization returns.
type SelectedOrg struct {
	Org        Organization
	Membership Membership
	Tokens     Tokens
}

// PlatformOrg is an organization as the platform owner lists it.
type PlatformOrg struct {
	Org   Organization
	Tier  *Tier
	Owner *UserInfo // nil when the owner is gone
}

// PlatformOrgFilter selects platform organization listings.
type PlatformOrgFilter struct {
	Status OrgStatus // "" = any
	TierID string    // "" = any
	Limit  int
	Offset int
}

// TierUpdate is the platform owner's tier assignment: the tier and the two
// limit overrides (nil clears an override).
type TierUpdate struct {
	TierID      string
	MaxServices *int
	MaxUsers    *int
}

// RequestMeta is what the HTTP layer knows about the caller's connection.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// Actor is the authenticated caller of a service method.
type Actor struct {
	UserID          uuid.UUID
	Email           string
	IsPlatformOwner bool
	// EndUser is set for a service-scoped token: an end user of some
	// organization's service, who administers nothing.
	EndUser bool
	Meta    RequestMeta
}

// InvitationStatus is where an invitation stands (spec §6.2). Only pending
// invitations can be answered; the others are history.
type InvitationStatus string

// Invitation statuses.
const (
	InvitationPending   InvitationStatus = "pending"
	InvitationAccepted  InvitationStatus = "accepted"
	InvitationDeclined  InvitationStatus = "declined"
	InvitationCancelled InvitationStatus = "cancelled"
	InvitationExpired   InvitationStatus = "expired"
)

// Invitation is an organization's invitation of an email address. Its token
// is not part of it: only the token's hash is stored, and the plaintext is
// returned once, by CreateInvitation.
type Invitation struct {
	ID          uuid.UUID
	OrgID       uuid.UUID
	Email       string
	Role        Role
	InvitedBy   *uuid.UUID // nil once the inviter's account is gone
	Status      InvitationStatus
	ExpiresAt   time.Time
	CreatedAt   time.Time
	RespondedAt *time.Time // when it left pending
}

// CreatedInvitation is what CreateInvitation returns: the invitation, its
// inviter and the plaintext token, which is never available again.
type CreatedInvitation struct {
	Invitation Invitation
	Inviter    UserInfo
	Token      string
}

// OrgInvitation is an invitation as its organization lists it, with the
// inviter (nil when the account is gone).
type OrgInvitation struct {
	Invitation Invitation
	Inviter    *UserInfo
}

// UserInvitation is a pending invitation as its invitee lists it, with the
// inviting organization.
type UserInvitation struct {
	Invitation Invitation
	OrgSlug    string
	OrgName    string
}

// AcceptedInvitation is an accepted invitation with the organization joined
// and the new membership.
type AcceptedInvitation struct {
	Invitation Invitation
	Org        Organization
	Membership Membership
}
