package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// Service holds the billing business rules. The Service API methods take
// the calling key as a ServiceKey and touch nothing outside its service.
type Service struct {
	pool     *pgxpool.Pool
	store    *Store
	recorder events.Recorder
	plans    Plans        // nil until wired: the subscription writes fail
	users    ServiceUsers // nil until wired: the subscription writes fail
	logger   *slog.Logger
	nowFunc  func() time.Time
}

func (s *Service) now() time.Time { return s.nowFunc().UTC() }

// ListServiceSubscriptions returns one page of the key's service's
// subscriptions (oldest first) with their plan names, and their total.
func (s *Service) ListServiceSubscriptions(ctx context.Context, k ServiceKey, f SubscriptionFilter) ([]Subscription, int, error) {
	list, total, err := s.store.SubscriptionList(ctx, k.OrgID, k.ServiceID, f)
	if err != nil {
		return nil, 0, err
	}
	if err := s.fillPlanNames(ctx, k.OrgID, list); err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// GetServiceSubscription returns the user's subscription to the key's
// service, or ErrSubscriptionNotFound (also for users of other services and
// organizations).
func (s *Service) GetServiceSubscription(ctx context.Context, k ServiceKey, userID uuid.UUID) (Subscription, error) {
	x, err := s.store.SubscriptionGet(ctx, k.OrgID, k.ServiceID, userID)
	if err != nil {
		return Subscription{}, err
	}
	return s.withPlanName(ctx, x)
}

// SetServiceSubscription creates or replaces the user's subscription to the
// key's service (spec §9.1 POST): plan, status (default active) and period
// end (default now + 30 days). The plan must be a plan of the key's service
// and the user a user of it. It records subscription.created for a new
// row, and subscription.updated (subscription.canceled when the status
// becomes canceled) when an existing row changed. created reports whether
// the row is new.
// Errors: ErrPlanNotFound, ErrPlanNotInService, ErrUserNotFound,
// ErrNotConfigured.
func (s *Service) SetServiceSubscription(ctx context.Context, k ServiceKey, in NewSubscription) (Subscription, bool, error) {
	if s.plans == nil || s.users == nil {
		return Subscription{}, false, ErrNotConfigured
	}
	plan, err := s.plans.OrgPlan(ctx, k.OrgID, in.PlanID)
	if err != nil {
		return Subscription{}, false, err
	}
	if plan.ServiceID != k.ServiceID {
		return Subscription{}, false, ErrPlanNotInService
	}
	now := s.now()
	status := StatusActive
	if in.Status != nil {
		status = *in.Status
	}
	end := now.Add(DefaultPeriod)
	if in.CurrentPeriodEnd != nil {
		end = in.CurrentPeriodEnd.UTC()
	}
	planID := plan.ID
	var out Subscription
	var created bool
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.users.RequireServiceUserTx(ctx, tx, k.OrgID, k.ServiceID, in.UserID); err != nil {
			return err
		}
		st := s.store.WithTx(tx)
		next := Subscription{
			ID: newID(), OrgID: k.OrgID, UserID: in.UserID, ServiceID: k.ServiceID, PlanID: &planID,
			Status: status, CurrentPeriodEnd: &end, CreatedAt: now, UpdatedAt: now,
		}
		cur, err := st.SubscriptionLock(ctx, k.OrgID, k.ServiceID, in.UserID)
		if errors.Is(err, ErrSubscriptionNotFound) {
			var inserted bool
			if out, inserted, err = st.SubscriptionInsert(ctx, next); err != nil {
				return err
			}
			if inserted {
				created = true
				out.PlanName = &plan.Name
				return s.record(ctx, tx, subscriptionEvent("subscription.created", k, out, nil))
			}
			// A concurrent call inserted the row first: replace it.
			cur, err = st.SubscriptionLock(ctx, k.OrgID, k.ServiceID, in.UserID)
		}
		if err != nil {
			return err
		}
		next.ID, next.CreatedAt, next.PlanName = cur.ID, cur.CreatedAt, &plan.Name
		out, err = s.replace(ctx, tx, k, cur, next)
		return err
	})
	if err != nil {
		return Subscription{}, false, fmt.Errorf("set subscription: %w", err)
	}
	out.PlanName = &plan.Name
	return out, created, nil
}

// UpdateServiceSubscription changes the status and/or period end of the
// user's subscription to the key's service (spec §9.1 PATCH) and records
// subscription.updated (subscription.canceled when the status becomes
// canceled) when something changed.
// Errors: ErrNoFieldsToUpdate, ErrSubscriptionNotFound.
func (s *Service) UpdateServiceSubscription(ctx context.Context, k ServiceKey, userID uuid.UUID, u SubscriptionUpdate) (Subscription, error) {
	if u.isZero() {
		return Subscription{}, ErrNoFieldsToUpdate
	}
	var out Subscription
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.store.WithTx(tx).SubscriptionLock(ctx, k.OrgID, k.ServiceID, userID)
		if err != nil {
			return err
		}
		next := cur
		if u.Status != nil {
			next.Status = *u.Status
		}
		if u.CurrentPeriodEnd != nil {
			next.CurrentPeriodEnd = utc(u.CurrentPeriodEnd)
		}
		out, err = s.replace(ctx, tx, k, cur, next)
		return err
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("update subscription: %w", err)
	}
	return s.withPlanName(ctx, out)
}

// DeleteServiceSubscription deletes the user's subscription to the key's
// service (spec §9.1 DELETE) and records subscription.canceled with
// "deleted": true. Errors: ErrSubscriptionNotFound.
func (s *Service) DeleteServiceSubscription(ctx context.Context, k ServiceKey, userID uuid.UUID) error {
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		gone, err := s.store.WithTx(tx).SubscriptionDelete(ctx, k.OrgID, k.ServiceID, userID)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, subscriptionEvent("subscription.canceled", k, gone, map[string]any{"deleted": true}))
	})
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return nil
}

// ServiceUserUnlinkedTx deletes, inside the identity module's unlink
// transaction, the user's subscription to the service, recording
// subscription.canceled with "deleted": true and reason "user_unlinked".
// A user without a subscription is no error. It implements the identity
// module's unlink hook (through cmd/*'s adapter, which passes it as is).
func (s *Service) ServiceUserUnlinkedTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID, apiKeyID uuid.UUID) error {
	gone, err := s.store.WithTx(tx).SubscriptionDelete(ctx, orgID, serviceID, userID)
	if errors.Is(err, ErrSubscriptionNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete unlinked user's subscription: %w", err)
	}
	k := ServiceKey{OrgID: orgID, ServiceID: serviceID, APIKeyID: apiKeyID}
	return s.record(ctx, tx, subscriptionEvent("subscription.canceled", k, gone, map[string]any{"deleted": true, "reason": "user_unlinked"}))
}

// UserSubscriptions returns the subscriptions of users to the
// organization's services, oldest first, without plan names (the tenancy
// module, which owns plans, names them).
func (s *Service) UserSubscriptions(ctx context.Context, orgID uuid.UUID, userIDs []uuid.UUID) ([]Subscription, error) {
	return s.store.SubscriptionsOfUsers(ctx, orgID, userIDs)
}

// ServiceSubscriptionCounts counts a service's subscriptions and its
// active ones (spec §9.1 analytics).
func (s *Service) ServiceSubscriptionCounts(ctx context.Context, orgID, serviceID uuid.UUID) (SubscriptionCounts, error) {
	return s.store.SubscriptionCounts(ctx, orgID, serviceID)
}

// replace writes next over cur when they differ and records the event.
func (s *Service) replace(ctx context.Context, tx pgx.Tx, k ServiceKey, cur, next Subscription) (Subscription, error) {
	changed := changedFields(cur, next)
	if len(changed) == 0 {
		return cur, nil
	}
	next.UpdatedAt = s.now()
	out, err := s.store.WithTx(tx).SubscriptionSave(ctx, next)
	if err != nil {
		return Subscription{}, err
	}
	out.PlanName = next.PlanName
	typ := "subscription.updated"
	if out.Status == StatusCanceled && cur.Status != StatusCanceled {
		typ = "subscription.canceled"
	}
	extra := map[string]any{"changed_fields": changed, "old_status": string(cur.Status)}
	return out, s.record(ctx, tx, subscriptionEvent(typ, k, out, extra))
}

// changedFields names the fields in which next differs from cur.
func changedFields(cur, next Subscription) []string {
	var out []string
	if (cur.PlanID == nil) != (next.PlanID == nil) || (cur.PlanID != nil && *cur.PlanID != *next.PlanID) {
		out = append(out, "plan_id")
	}
	if cur.Status != next.Status {
		out = append(out, "status")
	}
	a, b := cur.CurrentPeriodEnd, next.CurrentPeriodEnd
	if (a == nil) != (b == nil) || (a != nil && !a.Equal(*b)) {
		out = append(out, "current_period_end")
	}
	return out
}

// subscriptionEvent builds a subscription event caused by an API key.
func subscriptionEvent(typ string, k ServiceKey, x Subscription, extra map[string]any) events.Event {
	details := map[string]any{
		"subscription_id": x.ID.String(), "user_id": x.UserID.String(), "service_id": x.ServiceID.String(),
		"status": string(x.Status), "api_key_id": k.APIKeyID.String(),
	}
	if x.PlanID != nil {
		details["plan_id"] = x.PlanID.String()
	}
	if x.PlanName != nil {
		details["plan_name"] = *x.PlanName
	}
	if x.CurrentPeriodEnd != nil {
		details["current_period_end"] = x.CurrentPeriodEnd.UTC().Format(time.RFC3339)
	}
	for key, v := range extra {
		details[key] = v
	}
	orgID := x.OrgID
	return events.Event{
		Type: typ, Stream: events.StreamOrganization, OrgID: &orgID, ActorType: events.ActorAPIKey,
		TargetType: "subscription", TargetID: x.ID.String(), IP: k.Meta.IP, UserAgent: k.Meta.UserAgent, Details: details,
	}
}

// record writes an event in tx.
func (s *Service) record(ctx context.Context, tx pgx.Tx, e events.Event) error {
	if err := s.recorder.Record(ctx, tx, e); err != nil {
		return fmt.Errorf("record %s: %w", e.Type, err)
	}
	return nil
}

// withPlanName fills one subscription's plan name.
func (s *Service) withPlanName(ctx context.Context, x Subscription) (Subscription, error) {
	list := []Subscription{x}
	if err := s.fillPlanNames(ctx, x.OrgID, list); err != nil {
		return Subscription{}, err
	}
	return list[0], nil
}

// fillPlanNames sets PlanName from the tenancy module's plans.
func (s *Service) fillPlanNames(ctx context.Context, orgID uuid.UUID, list []Subscription) error {
	var ids []uuid.UUID
	for _, x := range list {
		if x.PlanID != nil {
			ids = append(ids, *x.PlanID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if s.plans == nil {
		return ErrNotConfigured
	}
	names, err := s.plans.PlanNames(ctx, orgID, ids)
	if err != nil {
		return fmt.Errorf("load plan names: %w", err)
	}
	for i := range list {
		if list[i].PlanID == nil {
			continue
		}
		if n, ok := names[*list[i].PlanID]; ok {
			list[i].PlanName = &n
		}
	}
	return nil
}
