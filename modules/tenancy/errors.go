package tenancy

import (
	"errors"
	"fmt"
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
	// ErrLastPlatformOwner is returned by Users.SetPlatformOwnerTx when the
	// demotion would leave the platform without an owner.
	ErrLastPlatformOwner = errors.New("cannot demote the last platform owner")
	// ErrAlreadyPlatformOwner: the user to promote already is one.
	ErrAlreadyPlatformOwner = errors.New("user is already a platform owner")
	// ErrNotAPlatformOwner: the user to demote is not one.
	ErrNotAPlatformOwner = errors.New("user is not a platform owner")
	// ErrDemoteSelf: platform owners cannot demote themselves.
	ErrDemoteSelf = errors.New("cannot demote yourself")
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
