package billing

import (
	"time"

	"github.com/google/uuid"
)

// Status is a subscription's status (spec §7.2 vocabulary).
type Status string

// Subscription statuses.
const (
	StatusActive    Status = "active"
	StatusPastDue   Status = "past_due"
	StatusSuspended Status = "suspended"
	StatusCanceled  Status = "canceled"
)

// ParseStatus returns the status named s, or ErrInvalidStatus.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusActive, StatusPastDue, StatusSuspended, StatusCanceled:
		return st, nil
	}
	return "", ErrInvalidStatus
}

// DefaultPeriod is how far current_period_end lies ahead when a Service
// API write names none (spec §9.1).
const DefaultPeriod = 30 * 24 * time.Hour

// Subscription is a user's subscription to a service: one per (user,
// service).
type Subscription struct {
	ID        uuid.UUID
	OrgID     uuid.UUID
	UserID    uuid.UUID
	ServiceID uuid.UUID
	// PlanID is nil once the plan was deleted (ended subscriptions keep
	// their row).
	PlanID *uuid.UUID
	// PlanName is filled by the listing methods from the tenancy module's
	// plans; nil when the plan is gone.
	PlanName         *string
	Status           Status
	CurrentPeriodEnd *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RequestMeta is what the HTTP layer knows about the caller's connection.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// ServiceKey is the caller of the Service API: an API key, scoped to its
// organization and service. Both come from the verified key, never from
// the request.
type ServiceKey struct {
	OrgID     uuid.UUID
	ServiceID uuid.UUID
	APIKeyID  uuid.UUID
	Meta      RequestMeta
}

// SubscriptionFilter selects a page of a service's subscriptions.
type SubscriptionFilter struct {
	Status Status // "" = any
	Limit  int
	Offset int
}

// NewSubscription is the input of SetSubscription: nil Status means
// active and nil CurrentPeriodEnd means now + DefaultPeriod.
type NewSubscription struct {
	UserID           uuid.UUID
	PlanID           uuid.UUID
	Status           *Status
	CurrentPeriodEnd *time.Time
}

// SubscriptionUpdate is the input of UpdateSubscription: nil fields are
// left alone.
type SubscriptionUpdate struct {
	Status           *Status
	CurrentPeriodEnd *time.Time
}

func (u SubscriptionUpdate) isZero() bool { return u.Status == nil && u.CurrentPeriodEnd == nil }

// PlanInfo is what billing needs to know about a plan of the tenancy module.
type PlanInfo struct {
	ID        uuid.UUID
	ServiceID uuid.UUID
	Name      string
}

// SubscriptionCounts are a service's subscription totals.
type SubscriptionCounts struct {
	Total  int
	Active int
}
