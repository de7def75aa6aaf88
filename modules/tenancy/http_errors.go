package tenancy

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// CodeOrganizationNotActive is the error_code of the active-organization
// gate (spec §1.3, §1.6).
const CodeOrganizationNotActive = "ORGANIZATION_NOT_ACTIVE"

// CodeServiceLimitExceeded is the error_code of the tier's service limit
// (spec §1.3, §1.7).
const CodeServiceLimitExceeded = "SERVICE_LIMIT_EXCEEDED"

// CodeTeamLimitExceeded is the error_code of the team size limit on
// invitation acceptance (spec §1.3, §4.2).
const CodeTeamLimitExceeded = "TEAM_LIMIT_EXCEEDED"

// CodeFeatureNotAvailableInTier is the error_code of the tier feature
// gate (spec §1.3, §1.7).
const CodeFeatureNotAvailableInTier = "FEATURE_NOT_AVAILABLE_IN_TIER"

// CodeInvitationExpired is the error_code of an expired invitation (spec
// §1.3, §6.1).
const CodeInvitationExpired = "INVITATION_EXPIRED"

func badRequest(msg string) error {
	return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, msg)
}

func forbidden(msg string) error {
	return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, msg)
}

func notFound(msg string) error {
	return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msg)
}

func conflict(msg string) error {
	return httpapi.NewError(http.StatusConflict, httpapi.CodeDuplicateConstraint, msg)
}

// toHTTPError maps the module's errors to the reference's statuses and
// messages. Unknown errors pass through and become a logged 500.
func toHTTPError(err error) error {
	var (
		verr     *ValidationError
		verrs    ValidationErrors
		limit    *OrgLimitError
		svcLimit *ServiceLimitError
		team     *TeamLimitError
		gate     *OrgNotActiveError
		trans    *TransitionError
		feature  *FeatureNotAvailableError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrEndUserCannotCreateOrg):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "End-user accounts cannot create organizations")
	case errors.As(err, &verrs):
		details := make([]*huma.ErrorDetail, 0, len(verrs))
		for _, v := range verrs {
			details = append(details, &huma.ErrorDetail{Location: v.Field, Message: v.Message})
		}
		return httpapi.NewError(http.StatusUnprocessableEntity, httpapi.CodeValidationError, "Validation failed").WithDetails(details...)
	case errors.As(err, &verr):
		return httpapi.NewError(http.StatusUnprocessableEntity, httpapi.CodeValidationError, "Validation failed").
			WithDetails(&huma.ErrorDetail{Location: verr.Field, Message: verr.Message})
	case errors.As(err, &svcLimit):
		return httpapi.NewError(http.StatusBadRequest, CodeServiceLimitExceeded,
			fmt.Sprintf("Organization has reached maximum service limit (%d/%d)", svcLimit.Current, svcLimit.Max))
	case errors.As(err, &team):
		return httpapi.NewError(http.StatusBadRequest, CodeTeamLimitExceeded, "Team limit reached")
	case errors.Is(err, ErrInvitationExpired):
		return httpapi.NewError(http.StatusBadRequest, CodeInvitationExpired, "Invitation has expired")
	case errors.Is(err, ErrAlreadyMember):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeDuplicateConstraint, "User is already a member of this organization")
	case errors.As(err, &limit):
		return badRequest(fmt.Sprintf("You have reached the maximum number of organizations (%d) you can create.", limit.Max))
	case errors.As(err, &gate):
		return httpapi.NewError(http.StatusForbidden, CodeOrganizationNotActive, "Organization is not active. Current status: "+string(gate.Status))
	case errors.As(err, &feature):
		return httpapi.NewError(http.StatusForbidden, CodeFeatureNotAvailableInTier,
			"The feature '"+feature.Feature+"' is not available on your current plan. Please upgrade to access it.")
	case errors.As(err, &trans):
		switch trans.Transition {
		case "suspend":
			return badRequest("Organization is already suspended")
		case "activate":
			return badRequest("Organization is not suspended")
		}
		return badRequest("Organization is not in pending status")
	}
	if msg, ok := messageFor(err); ok {
		return msg
	}
	return err
}

// messageFor maps the sentinel errors.
func messageFor(err error) (error, bool) {
	table := []struct {
		err  error
		resp error
	}{
		// Deliberately vague: it does not confirm that the slug exists.
		{ErrSlugTaken, badRequest("Unable to create organization with the provided information")},
		{ErrOrgNotFound, notFound("Organization not found")},
		{ErrNotMember, forbidden("Not a member of this organization")},
		{ErrCannotManageSettings, forbidden("Insufficient permissions to manage organization settings")},
		{ErrCannotChangeRoles, forbidden("Insufficient permissions to change member roles")},
		{ErrOwnerChangesPrivileged, forbidden("Only owners can change the roles of owners and admins")},
		{ErrCannotRemoveMembers, forbidden("Insufficient permissions to remove members")},
		{ErrOwnerRemovesPrivileged, forbidden("Only owners can remove other owners and admins")},
		{ErrOwnerOnlyDelete, forbidden("Only the organization owner can delete the organization")},
		{ErrOwnerOnlyTransfer, forbidden("Only the organization owner can transfer ownership")},
		{ErrNotPlatformOwner, forbidden("Platform owner access required")},
		{ErrMemberNotFound, notFound("User is not a member of this organization")},
		{ErrInvalidRole, badRequest("Invalid role. Choose a system role or custom organization role.")},
		{ErrOwnRoleChange, badRequest("Cannot change your own role")},
		{ErrSelfRemoval, badRequest("Cannot remove yourself from the organization")},
		{ErrRemoveOwner, badRequest("Cannot remove the organization owner. Transfer ownership first.")},
		{ErrAlreadyOwner, badRequest("User is already the owner of this organization")},
		{ErrTierNotFound, notFound("Organization tier not found")},
		{ErrUserNotFound, notFound("User not found")},
		{ErrAlreadyPlatformOwner, badRequest("User is already a platform owner")},
		{ErrNotAPlatformOwner, badRequest("User is not a platform owner")},
		{ErrDemoteSelf, badRequest("Cannot demote yourself")},
		{ErrLastPlatformOwner, badRequest("Cannot demote the last platform owner")},
		{ErrServiceNotFound, notFound("Service not found")},
		{ErrServiceSlugTaken, conflict("Service with this slug already exists in this organization")},
		{ErrCannotCreateServices, forbidden("Insufficient permissions to create services")},
		{ErrCannotViewService, forbidden("Insufficient permissions to view this service")},
		{ErrCannotManageService, forbidden("Insufficient permissions to update this service")},
		{ErrOwnerOnlyServiceDelete, forbidden("Only organization owners can delete services")},
		{ErrServiceHasSubscriptions, badRequest("Cannot delete service with active subscriptions")},
		{ErrNoFieldsToUpdate, badRequest("No fields to update")},
		{ErrPlanNotFound, notFound("Plan not found")},
		{ErrPlanNameTaken, conflict("A plan with this name already exists for this service")},
		{ErrPlanHasSubscriptions, badRequest("Cannot delete plan with active subscriptions")},
		{ErrDefaultPlanRequired, badRequest("A service always has a default plan: make another plan the default instead")},
		{ErrDeleteDefaultPlan, badRequest("Cannot delete the default plan: make another plan the default first")},
		{ErrInvitationNotFound, notFound("Invitation not found or already processed")},
		{ErrInvitationExists, badRequest("Invitation already sent")},
		{ErrInvitationEmailMismatch, forbidden("This invitation belongs to another email address")},
		{ErrInvalidInvitationRole, badRequest("Invalid role. Choose admin, member, or a custom organization role.")},
		{ErrCannotCreateInvitations, forbidden("Insufficient permissions to create invitations")},
		{ErrCannotInviteRole, forbidden("Insufficient permissions to invite members with this role")},
		{ErrCannotViewInvitations, forbidden("Insufficient permissions to view invitations")},
		{ErrCannotManageInvitations, forbidden("Insufficient permissions to manage invitations")},
		{ErrInviteeNotRegistered, badRequest("The invited user has not created an account yet")},
		{ErrAPIKeyNotFound, notFound("API key not found")},
		{ErrCannotManageAPIKeys, forbidden("Insufficient permissions to manage API keys for this service")},
	}
	for _, row := range table {
		if errors.Is(err, row.err) {
			return row.resp, true
		}
	}
	return nil, false
}
