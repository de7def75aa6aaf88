package tenancy

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The HTTP layer maps each to the reference's status and
// message (http_errors.go).
var (
	// ErrOrgNotFound: no organization has this slug or id.
	ErrOrgNotFound = errors.New("organization not found")
	// ErrSlugTaken: another organization already uses the slug.
	ErrSlugTaken = errors.New("organization slug taken")
	// ErrNotMember: the caller has no membership in the organization.
	ErrNotMember = errors.New("not a member of this organization")
	// ErrNotPlatformOwner: the caller is not a platform owner.
	ErrNotPlatformOwner = errors.New("platform owner access required")
	// ErrCannotManageSettings: the caller's role lacks org.settings.manage.
	ErrCannotManageSettings = errors.New("insufficient permissions to manage organization settings")
	// ErrCannotChangeRoles: the caller's role lacks org.roles.manage.
	ErrCannotChangeRoles = errors.New("insufficient permissions to change member roles")
	// ErrOwnerChangesPrivileged: only the owner changes the role of an owner
	// or admin, or grants admin or owner.
	ErrOwnerChangesPrivileged = errors.New("only owners can change the roles of owners and admins")
	// ErrCannotRemoveMembers: the caller's role lacks org.members.manage.
	ErrCannotRemoveMembers = errors.New("insufficient permissions to remove members")
	// ErrOwnerRemovesPrivileged: only the owner removes owners and admins.
	ErrOwnerRemovesPrivileged = errors.New("only owners can remove other owners and admins")
	// ErrOwnerOnlyDelete: only the owner deletes the organization.
	ErrOwnerOnlyDelete = errors.New("only the organization owner can delete the organization")
	// ErrOwnerOnlyTransfer: only the owner transfers ownership.
	ErrOwnerOnlyTransfer = errors.New("only the organization owner can transfer ownership")
	// ErrMemberNotFound: the target user has no membership in the organization.
	ErrMemberNotFound = errors.New("member not found")
	// ErrInvalidRole: the role is not a role of the organization.
	ErrInvalidRole = errors.New("invalid role")
	// ErrOwnRoleChange: callers cannot change their own role.
	ErrOwnRoleChange = errors.New("cannot change your own role")
	// ErrSelfRemoval: callers cannot remove themselves.
	ErrSelfRemoval = errors.New("cannot remove yourself")
	// ErrRemoveOwner: the owner cannot be removed; ownership must move first.
	ErrRemoveOwner = errors.New("cannot remove the organization owner")
	// ErrAlreadyOwner: the ownership target already owns the organization.
	ErrAlreadyOwner = errors.New("already the owner")
	// ErrTierNotFound: no tier has this id.
	ErrTierNotFound = errors.New("organization tier not found")
	// ErrUserNotFound is returned by Users implementations for a user that
	// does not exist (or is deleted).
	ErrUserNotFound = errors.New("user not found")
	// ErrEndUserCannotCreateOrg: a service-scoped (end-user) token cannot
	// create organizations; only platform accounts administer them.
	ErrEndUserCannotCreateOrg = errors.New("end users cannot create organizations")
	// ErrLastPlatformOwner is returned by Users.SetPlatformOwnerTx when the
	// demotion would leave the platform without an owner.
	ErrLastPlatformOwner = errors.New("cannot demote the last platform owner")
	// ErrAlreadyPlatformOwner: the user to promote already is one.
	ErrAlreadyPlatformOwner = errors.New("user is already a platform owner")
	// ErrNotAPlatformOwner: the user to demote is not one.
	ErrNotAPlatformOwner = errors.New("user is not a platform owner")
	// ErrDemoteSelf: platform owners cannot demote themselves.
	ErrDemoteSelf = errors.New("cannot demote yourself")

	// ErrServiceNotFound: the organization has no service with this slug
	// (or no service has this client id).
	ErrServiceNotFound = errors.New("service not found")
	// ErrServiceSlugTaken: another service of the organization uses the slug.
	ErrServiceSlugTaken = errors.New("service slug taken")
	// ErrCannotCreateServices: the caller's role lacks services.create.
	ErrCannotCreateServices = errors.New("insufficient permissions to create services")
	// ErrCannotViewService: the caller's role lacks services.view.
	ErrCannotViewService = errors.New("insufficient permissions to view this service")
	// ErrCannotManageService: the caller's role lacks services.manage.
	ErrCannotManageService = errors.New("insufficient permissions to update this service")
	// ErrOwnerOnlyServiceDelete: only the owner deletes services.
	ErrOwnerOnlyServiceDelete = errors.New("only organization owners can delete services")
	// ErrServiceHasSubscriptions: a service with active subscriptions stays.
	ErrServiceHasSubscriptions = errors.New("cannot delete service with active subscriptions")
	// ErrNoFieldsToUpdate: a PATCH named no field.
	ErrNoFieldsToUpdate = errors.New("no fields to update")
	// ErrPlanNotFound: the service has no plan with this id.
	ErrPlanNotFound = errors.New("plan not found")
	// ErrPlanNameTaken: another plan of the service has the name.
	ErrPlanNameTaken = errors.New("plan name taken")
	// ErrPlanHasSubscriptions: a plan with active subscriptions stays.
	ErrPlanHasSubscriptions = errors.New("cannot delete plan with active subscriptions")
	// ErrDefaultPlanRequired: the default plan's flag moves by making
	// another plan the default; it is not cleared on its own.
	ErrDefaultPlanRequired = errors.New("a service keeps a default plan")
	// ErrDeleteDefaultPlan: the default plan is deleted only after another
	// plan became the default.
	ErrDeleteDefaultPlan = errors.New("cannot delete the default plan")

	// ErrInvitationNotFound: no pending invitation has this id (in this
	// organization) or token; answered invitations count as absent.
	ErrInvitationNotFound = errors.New("invitation not found or already processed")
	// ErrInvitationExists: the address already has a pending, unexpired
	// invitation to the organization.
	ErrInvitationExists = errors.New("invitation already sent")
	// ErrInvitationExpired: the invitation is past its expiry.
	ErrInvitationExpired = errors.New("invitation has expired")
	// ErrInvitationEmailMismatch: the caller is not the platform user with
	// the invited address.
	ErrInvitationEmailMismatch = errors.New("this invitation belongs to another email address")
	// ErrAlreadyMember: the invited user is already a member.
	ErrAlreadyMember = errors.New("user is already a member of this organization")
	// ErrInvalidInvitationRole: the role is not invitable (owner, or not a
	// role of the organization).
	ErrInvalidInvitationRole = errors.New("invalid invitation role")
	// ErrCannotCreateInvitations: the caller's role lacks org.members.manage.
	ErrCannotCreateInvitations = errors.New("insufficient permissions to create invitations")
	// ErrCannotInviteRole: the caller's role cannot grant the invited role.
	ErrCannotInviteRole = errors.New("insufficient permissions to invite members with this role")
	// ErrCannotViewInvitations: the caller's role lacks org.members.view and
	// org.members.manage.
	ErrCannotViewInvitations = errors.New("insufficient permissions to view invitations")
	// ErrCannotManageInvitations: the caller's role lacks org.members.manage.
	ErrCannotManageInvitations = errors.New("insufficient permissions to manage invitations")
	// ErrInviteeNotRegistered: an administrator accepts on behalf of an
	// address that has no platform account yet.
	ErrInviteeNotRegistered = errors.New("the invited user has no account yet")

	// ErrAPIKeyNotFound: the service has no API key with this id (or no
	// key has this prefix).
	ErrAPIKeyNotFound = errors.New("api key not found")
	// ErrCannotManageAPIKeys: the caller's role lacks services.manage,
	// which managing and reading a service's API keys need.
	ErrCannotManageAPIKeys = errors.New("insufficient permissions to manage api keys for this service")
)

// OrgLimitError is returned when the caller already owns the maximum
// number of organizations (MAX_ORGS_PER_USER).
type OrgLimitError struct {
	Max int
}

func (e *OrgLimitError) Error() string {
	return fmt.Sprintf("organization limit of %d reached", e.Max)
}

// OrgNotActiveError is returned when an operation needs an active
// organization (spec §1.6).
type OrgNotActiveError struct {
	Status OrgStatus
}

func (e *OrgNotActiveError) Error() string {
	return fmt.Sprintf("organization is not active: %s", e.Status)
}

// ServiceLimitError is returned when the organization already has as many
// services as its tier (or its override) allows (spec §1.7).
type ServiceLimitError struct {
	Current int
	Max     int
}

func (e *ServiceLimitError) Error() string {
	return fmt.Sprintf("service limit reached (%d/%d)", e.Current, e.Max)
}

// TransitionError is a refused lifecycle transition: the organization is
// not in a status the transition starts from.
type TransitionError struct {
	Transition string // approve, reject, suspend, activate
	Status     OrgStatus
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s an organization in status %s", e.Transition, e.Status)
}

// ValidationError is a rejected input field, answered as 422 naming the
// field (Field is the request location, e.g. "body.slug").
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

// ValidationErrors are several rejected input fields, answered as one 422
// listing each of them.
type ValidationErrors []*ValidationError

func (e ValidationErrors) Error() string {
	msgs := make([]string, 0, len(e))
	for _, v := range e {
		msgs = append(msgs, v.Error())
	}
	return strings.Join(msgs, "; ")
}

// add appends err's validation errors to e and reports whether err was
// nil. Validation helpers only return validation errors; anything else is
// kept as a message on the body.
func (e *ValidationErrors) add(err error) bool {
	var v *ValidationError
	var vs ValidationErrors
	switch {
	case err == nil:
		return true
	case errors.As(err, &vs):
		*e = append(*e, vs...)
	case errors.As(err, &v):
		*e = append(*e, v)
	default:
		*e = append(*e, &ValidationError{Field: "body", Message: err.Error()})
	}
	return false
}

// orNil returns e as an error, or nil when it holds nothing.
func (e ValidationErrors) orNil() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// TeamLimitError is returned when accepting an invitation would take the
// organization past its max_users (spec §1.7, §4.2).
type TeamLimitError struct {
	Current int
	Max     int
}

func (e *TeamLimitError) Error() string {
	return fmt.Sprintf("team limit reached (%d/%d)", e.Current, e.Max)
}

// FeatureNotAvailableError is returned when the organization's tier,
// widened by its feature overrides, lacks a feature the operation needs
// (spec §1.7). Feature is the feature's display name, e.g. "Custom
// Branding".
type FeatureNotAvailableError struct {
	Feature string
}

func (e *FeatureNotAvailableError) Error() string {
	return fmt.Sprintf("feature %q is not available on the organization's tier", e.Feature)
}

// Errors of the organization settings that reach outside AuthOS: SMTP and
// the custom domain (spec §4.3, §4.4).
var (
	// ErrDomainTaken: another organization already uses the custom domain.
	ErrDomainTaken = errors.New("domain already in use by another organization")
	// ErrNoCustomDomain: verification was asked of an organization without a
	// custom domain.
	ErrNoCustomDomain = errors.New("no custom domain configured")
	// ErrNoVerificationToken: the custom domain has no verification token.
	ErrNoVerificationToken = errors.New("no verification token found")
	// ErrDomainMembersOnly: the custom domain is shown to members (and
	// platform owners) only.
	ErrDomainMembersOnly = errors.New("you must be a member of this organization")
	// ErrSMTPNotConfigured: the organization has no SMTP settings to test.
	ErrSMTPNotConfigured = errors.New("smtp is not configured for this organization")
	// ErrEncryptionUnavailable: the module has no key ring to encrypt or
	// decrypt tenant secrets with.
	ErrEncryptionUnavailable = errors.New("encryption is not available")
)

// TargetRefusedError is returned when a host an organization configured
// (its SMTP server, its custom domain) is or resolves to an address the
// outbound policy refuses: loopback, private, link-local or cloud metadata
// (spec §1.11). Addr and Class name the address and its kind, when known.
type TargetRefusedError struct {
	Host  string
	Addr  string // "" when unknown
	Class string // e.g. "loopback", "private", "a cloud metadata address"
}

func (e *TargetRefusedError) Error() string {
	switch {
	case e.Addr == "":
		return "host " + e.Host + " resolves to an address that is not allowed"
	case e.Addr == e.Host:
		return "host " + e.Host + " (" + e.Class + ") is not allowed"
	}
	return "host " + e.Host + " resolves to " + e.Addr + " (" + e.Class + "), which is not allowed"
}
