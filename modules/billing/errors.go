package billing

import "errors"

// Sentinel errors. The HTTP layer maps each to the reference's status and
// message.
var (
	// ErrSubscriptionNotFound: the user has no subscription to the service.
	ErrSubscriptionNotFound = errors.New("subscription not found")
	// ErrPlanNotFound: the organization has no plan with this id. Plans
	// implementations return it too.
	ErrPlanNotFound = errors.New("plan not found")
	// ErrPlanNotInService: the plan belongs to another service of the
	// organization.
	ErrPlanNotInService = errors.New("plan does not belong to this service")
	// ErrUserNotFound: the user is not a user of the service (holds no
	// identity issued for it). ServiceUsers implementations return it.
	ErrUserNotFound = errors.New("user is not a user of this service")
	// ErrInvalidStatus: the status is not in the vocabulary.
	ErrInvalidStatus = errors.New("invalid subscription status")
	// ErrNoFieldsToUpdate: a PATCH named no field.
	ErrNoFieldsToUpdate = errors.New("no fields to update")
	// ErrNotConfigured: a dependency on another module was not wired by
	// the composition root.
	ErrNotConfigured = errors.New("billing: dependency not configured")
)
