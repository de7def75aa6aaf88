package billing

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/authos/authos/platform/httpapi"
)

// Service API permissions of the subscription endpoints (spec §8.2).
const (
	permReadSubscriptions   = "read:subscriptions"
	permWriteSubscriptions  = "write:subscriptions"
	permDeleteSubscriptions = "delete:subscriptions"
)

// serviceAPITag groups the Service API operations (X-Api-Key).
const serviceAPITag = "Service API"

const (
	msgSubscriptionNotFound = "Subscription not found for this user"
	msgPlanNotFound         = "Plan not found"
	msgPlanNotInService     = "Plan does not belong to this service"
	msgUserNotFound         = "User not found or has not authenticated with this service"
)

// ClientMeta is embedded in inputs whose handlers record who called.
type ClientMeta struct {
	UserAgent string `header:"User-Agent" hidden:"true"`
}

// SubscriptionBody is a subscription as the Service API shows it.
type SubscriptionBody struct {
	ID               string     `json:"id" format:"uuid"`
	UserID           string     `json:"user_id" format:"uuid"`
	PlanID           *string    `json:"plan_id" format:"uuid" doc:"Null once the plan was deleted"`
	PlanName         *string    `json:"plan_name"`
	Status           string     `json:"status" enum:"active,past_due,suspended,canceled"`
	CurrentPeriodEnd *time.Time `json:"current_period_end"`
}

func toSubscriptionBody(x Subscription) SubscriptionBody {
	b := SubscriptionBody{ID: x.ID.String(), UserID: x.UserID.String(), PlanName: x.PlanName, Status: string(x.Status), CurrentPeriodEnd: x.CurrentPeriodEnd}
	if x.PlanID != nil {
		id := x.PlanID.String()
		b.PlanID = &id
	}
	return b
}

// SubscriptionOutput is one subscription.
type SubscriptionOutput struct {
	Body SubscriptionBody
}

// ListSubscriptionsInput is GET /api/service/subscriptions.
type ListSubscriptionsInput struct {
	Status string `query:"status" enum:"active,past_due,suspended,canceled"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset int    `query:"offset" minimum:"0" default:"0"`
}

// ListSubscriptionsOutput is a page of the service's subscriptions.
type ListSubscriptionsOutput struct {
	Body struct {
		Subscriptions []SubscriptionBody `json:"subscriptions"`
		Total         int                `json:"total"`
	}
}

// SubscriptionPathInput names a user of the service. The id is a string so
// that a malformed id answers the same 404 as an unknown one.
type SubscriptionPathInput struct {
	UserID string `path:"user-id" maxLength:"64"`
}

// SetSubscriptionInput is POST /api/service/subscriptions.
type SetSubscriptionInput struct {
	ClientMeta
	Body struct {
		UserID           string `json:"user_id" format:"uuid"`
		PlanID           string `json:"plan_id" format:"uuid"`
		Status           string `json:"status,omitempty" enum:"active,past_due,suspended,canceled" doc:"Default active"`
		CurrentPeriodEnd string `json:"current_period_end,omitempty" maxLength:"64" doc:"RFC 3339; default now + 30 days"`
	}
}

// UpdateSubscriptionInput is PATCH /api/service/subscriptions/{user-id}.
type UpdateSubscriptionInput struct {
	ClientMeta
	SubscriptionPathInput
	Body struct {
		Status           string `json:"status,omitempty" enum:"active,past_due,suspended,canceled"`
		CurrentPeriodEnd string `json:"current_period_end,omitempty" maxLength:"64" doc:"RFC 3339"`
	}
}

// DeleteSubscriptionInput is DELETE /api/service/subscriptions/{user-id}.
type DeleteSubscriptionInput struct {
	ClientMeta
	SubscriptionPathInput
}

// serviceKeyFrom returns the caller's key scope when the principal is a
// service API key holding perm: 401 without a principal, 403 for any other
// principal or a key lacking perm.
func serviceKeyFrom(ctx context.Context, perm string, m ClientMeta) (ServiceKey, error) {
	p, ok := httpapi.PrincipalFrom(ctx)
	if !ok {
		return ServiceKey{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Authentication required")
	}
	if p.Kind != httpapi.PrincipalAPIKey || p.OrgID == nil || p.ServiceID == nil {
		return ServiceKey{}, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
	}
	if !p.HasPermission(perm) {
		return ServiceKey{}, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: "+perm)
	}
	k := ServiceKey{OrgID: *p.OrgID, ServiceID: *p.ServiceID, APIKeyID: p.APIKeyID, Meta: RequestMeta{UserAgent: m.UserAgent}}
	if ip, ok := httpapi.ClientIPFrom(ctx); ok {
		k.Meta.IP = ip.String()
	}
	return k, nil
}

// toHTTPError maps the module's errors to the reference's statuses and
// messages. Unknown errors pass through and become a logged 500.
func toHTTPError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSubscriptionNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	case errors.Is(err, ErrPlanNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msgPlanNotFound)
	case errors.Is(err, ErrPlanNotInService):
		return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, msgPlanNotInService)
	case errors.Is(err, ErrUserNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msgUserNotFound)
	case errors.Is(err, ErrNoFieldsToUpdate):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "No fields to update")
	}
	return err
}

// parseStatus turns an optional status field into a Status ("" is absent;
// Huma's enum already refused anything else).
func parseStatus(raw string) (*Status, error) {
	if raw == "" {
		return nil, nil
	}
	st, err := ParseStatus(raw)
	if err != nil {
		return nil, validationError("body.status", "Invalid status")
	}
	return &st, nil
}

// parsePeriodEnd parses an optional RFC 3339 current_period_end ("" is
// absent).
func parsePeriodEnd(raw string) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return nil, validationError("body.current_period_end", "Invalid current_period_end: expected an RFC 3339 timestamp such as 2026-12-31T23:59:59Z")
	}
	t = t.UTC()
	return &t, nil
}

func validationError(location, msg string) error {
	return httpapi.NewError(http.StatusUnprocessableEntity, httpapi.CodeValidationError, "Validation failed").
		WithDetails(&huma.ErrorDetail{Location: location, Message: msg})
}

func registerServiceAPIRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api)
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{serviceAPITag}
		op.Security = httpapi.Security(httpapi.SchemeAPIKey)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-service-subscriptions", Method: http.MethodGet, Path: "/api/service/subscriptions",
		Summary: "List the service's subscriptions", Description: "Needs read:subscriptions. Oldest first, optionally of one status.",
	}, func(ctx context.Context, in *ListSubscriptionsInput) (*ListSubscriptionsOutput, error) {
		k, err := serviceKeyFrom(ctx, permReadSubscriptions, ClientMeta{})
		if err != nil {
			return nil, err
		}
		list, total, err := s.ListServiceSubscriptions(ctx, k, SubscriptionFilter{Status: Status(in.Status), Limit: in.Limit, Offset: in.Offset})
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListSubscriptionsOutput{}
		out.Body.Subscriptions = make([]SubscriptionBody, 0, len(list))
		for _, x := range list {
			out.Body.Subscriptions = append(out.Body.Subscriptions, toSubscriptionBody(x))
		}
		out.Body.Total = total
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-service-subscription", Method: http.MethodGet, Path: "/api/service/subscriptions/{user-id}",
		Summary: "Get a user's subscription to the service", Description: "Needs read:subscriptions.",
	}, func(ctx context.Context, in *SubscriptionPathInput) (*SubscriptionOutput, error) {
		k, err := serviceKeyFrom(ctx, permReadSubscriptions, ClientMeta{})
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(in.UserID)
		if err != nil {
			return nil, toHTTPError(ErrSubscriptionNotFound)
		}
		x, err := s.GetServiceSubscription(ctx, k, id)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &SubscriptionOutput{Body: toSubscriptionBody(x)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "set-service-subscription", Method: http.MethodPost, Path: "/api/service/subscriptions",
		Summary: "Create or replace a user's subscription to the service",
		Description: "Needs write:subscriptions. The plan must be a plan of the key's service and the user a user of it. " +
			"One subscription per user and service: a second call replaces plan, status (default active) and " +
			"current_period_end (default now + 30 days). Records subscription.created or subscription.updated.",
	}, func(ctx context.Context, in *SetSubscriptionInput) (*SubscriptionOutput, error) {
		k, err := serviceKeyFrom(ctx, permWriteSubscriptions, in.ClientMeta)
		if err != nil {
			return nil, err
		}
		var ns NewSubscription
		if ns.UserID, err = uuid.Parse(in.Body.UserID); err != nil {
			return nil, validationError("body.user_id", "Invalid user_id: expected a UUID")
		}
		if ns.PlanID, err = uuid.Parse(in.Body.PlanID); err != nil {
			return nil, validationError("body.plan_id", "Invalid plan_id: expected a UUID")
		}
		if ns.Status, err = parseStatus(in.Body.Status); err != nil {
			return nil, err
		}
		if ns.CurrentPeriodEnd, err = parsePeriodEnd(in.Body.CurrentPeriodEnd); err != nil {
			return nil, err
		}
		x, _, err := s.SetServiceSubscription(ctx, k, ns)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &SubscriptionOutput{Body: toSubscriptionBody(x)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-service-subscription", Method: http.MethodPatch, Path: "/api/service/subscriptions/{user-id}",
		Summary:     "Update a user's subscription to the service",
		Description: "Needs write:subscriptions. Changes status and/or current_period_end; records subscription.updated (subscription.canceled when it becomes canceled).",
	}, func(ctx context.Context, in *UpdateSubscriptionInput) (*SubscriptionOutput, error) {
		k, err := serviceKeyFrom(ctx, permWriteSubscriptions, in.ClientMeta)
		if err != nil {
			return nil, err
		}
		var u SubscriptionUpdate
		if u.Status, err = parseStatus(in.Body.Status); err != nil {
			return nil, err
		}
		if u.CurrentPeriodEnd, err = parsePeriodEnd(in.Body.CurrentPeriodEnd); err != nil {
			return nil, err
		}
		id, err := uuid.Parse(in.UserID)
		if err != nil {
			return nil, toHTTPError(ErrSubscriptionNotFound)
		}
		x, err := s.UpdateServiceSubscription(ctx, k, id, u)
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &SubscriptionOutput{Body: toSubscriptionBody(x)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-service-subscription", Method: http.MethodDelete, Path: "/api/service/subscriptions/{user-id}",
		Summary: "Delete a user's subscription to the service", DefaultStatus: http.StatusNoContent,
		Description: "Needs delete:subscriptions. Records subscription.canceled with deleted: true.",
	}, func(ctx context.Context, in *DeleteSubscriptionInput) (*struct{}, error) {
		k, err := serviceKeyFrom(ctx, permDeleteSubscriptions, in.ClientMeta)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(in.UserID)
		if err != nil {
			return nil, toHTTPError(ErrSubscriptionNotFound)
		}
		if err := s.DeleteServiceSubscription(ctx, k, id); err != nil {
			return nil, toHTTPError(err)
		}
		return nil, nil
	})
}
