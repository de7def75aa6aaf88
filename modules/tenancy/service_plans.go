package tenancy

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// Plan is a price point of a service (spec §5). Exactly one plan of a
// service is its default: new services get "free".
type Plan struct {
	ID            uuid.UUID
	OrgID         uuid.UUID
	ServiceID     uuid.UUID
	Name          string
	Description   *string
	PriceCents    int64
	Currency      string // ISO 4217, lowercase
	Features      []string
	StripePriceID *string // the billing provider's price id
	IsDefault     bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PlanSummary is a plan with its active-subscription count.
type PlanSummary struct {
	Plan              Plan
	SubscriptionCount int
}

// NewPlan is the input of CreatePlan.
type NewPlan struct {
	Name          string
	Description   *string
	PriceCents    int64
	Currency      string
	Features      []string
	StripePriceID *string
	IsDefault     bool
}

// PlanUpdate is the input of UpdatePlan: nil fields are left alone; an
// empty Description or StripePriceID clears it. IsDefault true makes the
// plan the default (the flag moves); false on the default plan is refused.
type PlanUpdate struct {
	Name          *string
	Description   *string
	PriceCents    *int64
	Currency      *string
	Features      []string
	StripePriceID *string
	IsDefault     *bool
}

func (u PlanUpdate) isZero() bool {
	return u.Name == nil && u.Description == nil && u.PriceCents == nil && u.Currency == nil && u.Features == nil &&
		u.StripePriceID == nil && u.IsDefault == nil
}

// Plan field limits.
const (
	maxPlanName        = 100
	maxPlanDescription = 1000
	maxPlanFeatures    = 100
	maxPlanFeature     = 200
	// maxPriceCents keeps prices exact in JSON numbers (below 2^53).
	maxPriceCents = 1 << 50
)

var (
	currencyPattern = regexp.MustCompile(`^[a-z]{3}$`)
	priceIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
)

// planService resolves the organization, applies the gate and the
// capability, and loads the service (locked when lock) the plans belong to.
func (s *Service) planService(ctx context.Context, st *Store, a Actor, orgSlug, serviceSlug string, c Capability, lock bool) (access, Application, error) {
	ac, err := s.serviceAccess(ctx, st, orgSlug, a, false)
	if err != nil {
		return access{}, Application{}, err
	}
	if !ac.can(c) {
		if c == CapServicesView {
			return access{}, Application{}, ErrCannotViewService
		}
		return access{}, Application{}, ErrCannotManageService
	}
	var app Application
	if lock {
		// Plan changes of one service are serialised, so the default flag
		// moves atomically.
		app, err = st.ServiceLockBySlug(ctx, ac.org.ID, serviceSlug)
	} else {
		app, err = st.ServiceGetBySlug(ctx, ac.org.ID, serviceSlug)
	}
	return ac, app, err
}

// ListPlans returns a service's plans, cheapest first, with their active
// subscription counts; the caller needs services.view.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotViewService, ErrServiceNotFound.
func (s *Service) ListPlans(ctx context.Context, a Actor, orgSlug, serviceSlug string) ([]PlanSummary, error) {
	ac, app, err := s.planService(ctx, s.store, a, orgSlug, serviceSlug, CapServicesView, false)
	if err != nil {
		return nil, err
	}
	return s.store.PlanList(ctx, ac.org.ID, app.ID)
}

// GetPlan returns one plan of a service; the caller needs services.view.
// Errors: as ListPlans, and ErrPlanNotFound (also for another service's plan).
func (s *Service) GetPlan(ctx context.Context, a Actor, orgSlug, serviceSlug string, planID uuid.UUID) (PlanSummary, error) {
	ac, app, err := s.planService(ctx, s.store, a, orgSlug, serviceSlug, CapServicesView, false)
	if err != nil {
		return PlanSummary{}, err
	}
	return s.store.PlanGet(ctx, ac.org.ID, app.ID, planID)
}

// CreatePlan adds a plan to a service; the caller needs services.manage.
// A default plan takes the flag from the previous default (recorded as its
// plan.updated).
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageService, ErrServiceNotFound, ValidationErrors,
// ErrPlanNameTaken.
func (s *Service) CreatePlan(ctx context.Context, a Actor, orgSlug, serviceSlug string, in NewPlan) (PlanSummary, error) {
	var out PlanSummary
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, app, err := s.planService(ctx, st, a, orgSlug, serviceSlug, CapServicesManage, true)
		if err != nil {
			return err
		}
		p, err := validateNewPlan(in)
		if err != nil {
			return err
		}
		now := s.now()
		var evs []events.Event
		if p.IsDefault {
			if evs, err = s.clearDefault(ctx, st, ac, a, app, now); err != nil {
				return err
			}
		}
		p.ID, p.OrgID, p.ServiceID, p.CreatedAt = newID(), ac.org.ID, app.ID, now
		if out.Plan, err = st.PlanInsert(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, append(evs, planEvent("plan.created", ac, a, app, out.Plan, nil))...)
	})
	return out, err
}

// UpdatePlan changes a plan; the caller needs services.manage. A request
// naming no field is refused; one that changes nothing records nothing.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageService, ErrNoFieldsToUpdate, ErrServiceNotFound,
// ErrPlanNotFound, ValidationErrors, ErrPlanNameTaken, ErrDefaultPlanRequired.
func (s *Service) UpdatePlan(ctx context.Context, a Actor, orgSlug, serviceSlug string, planID uuid.UUID, u PlanUpdate) (PlanSummary, error) {
	var out PlanSummary
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, app, err := s.planService(ctx, st, a, orgSlug, serviceSlug, CapServicesManage, true)
		if err != nil {
			return err
		}
		if u.isZero() {
			return ErrNoFieldsToUpdate
		}
		cur, err := st.PlanLock(ctx, ac.org.ID, app.ID, planID)
		if err != nil {
			return err
		}
		next, changed, err := applyPlanUpdate(cur, u)
		if err != nil {
			return err
		}
		if len(changed) == 0 {
			out, err = st.PlanGet(ctx, ac.org.ID, app.ID, cur.ID)
			return err
		}
		now := s.now()
		var evs []events.Event
		if next.IsDefault && !cur.IsDefault {
			if evs, err = s.clearDefault(ctx, st, ac, a, app, now); err != nil {
				return err
			}
		}
		next.UpdatedAt = now
		saved, err := st.PlanSave(ctx, next)
		if err != nil {
			return err
		}
		evs = append(evs, planEvent("plan.updated", ac, a, app, saved, changed))
		if err := s.record(ctx, tx, evs...); err != nil {
			return err
		}
		out, err = st.PlanGet(ctx, ac.org.ID, app.ID, saved.ID)
		return err
	})
	return out, err
}

// DeletePlan deletes a plan; the caller needs services.manage. The default
// plan and plans with active subscriptions stay.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageService, ErrServiceNotFound, ErrPlanNotFound,
// ErrDeleteDefaultPlan, ErrPlanHasSubscriptions.
func (s *Service) DeletePlan(ctx context.Context, a Actor, orgSlug, serviceSlug string, planID uuid.UUID) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, app, err := s.planService(ctx, st, a, orgSlug, serviceSlug, CapServicesManage, true)
		if err != nil {
			return err
		}
		// Locked exclusively: a subscription to the plan cannot start
		// between the count and the deletion.
		p, err := st.PlanLock(ctx, ac.org.ID, app.ID, planID)
		if err != nil {
			return err
		}
		if p.IsDefault {
			return ErrDeleteDefaultPlan
		}
		sum, err := st.PlanGet(ctx, ac.org.ID, app.ID, p.ID)
		if err != nil {
			return err
		}
		if sum.SubscriptionCount > 0 {
			return ErrPlanHasSubscriptions
		}
		if err := st.PlanDelete(ctx, ac.org.ID, app.ID, p.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, planEvent("plan.deleted", ac, a, app, p, nil))
	})
}

// clearDefault clears the service's default plan flag and returns the
// plan.updated events of the plans it was cleared on.
func (s *Service) clearDefault(ctx context.Context, st *Store, ac access, a Actor, app Application, now time.Time) ([]events.Event, error) {
	cleared, err := st.PlanClearDefault(ctx, ac.org.ID, app.ID, now)
	if err != nil {
		return nil, err
	}
	evs := make([]events.Event, 0, len(cleared))
	for _, p := range cleared {
		evs = append(evs, planEvent("plan.updated", ac, a, app, p, []string{"is_default"}))
	}
	return evs, nil
}

// planEvent builds an organization-stream event about a plan; changed,
// when given, lists the fields an update changed.
func planEvent(typ string, ac access, a Actor, app Application, p Plan, changed []string) events.Event {
	details := map[string]any{
		"service_id": app.ID.String(), "service_slug": app.Slug, "plan_id": p.ID.String(), "plan_name": p.Name,
		"price_cents": p.PriceCents, "currency": p.Currency, "is_default": p.IsDefault,
	}
	if changed != nil {
		details["changed_fields"] = changed
	}
	return orgEvent(typ, ac.org, a, ac.actorType(), "plan", p.ID.String(), details)
}

// ---- validation

func validateNewPlan(in NewPlan) (Plan, error) {
	var errs ValidationErrors
	p := Plan{IsDefault: in.IsDefault, PriceCents: in.PriceCents}
	var err error
	p.Name, err = normalizePlanName(in.Name)
	errs.add(err)
	if in.Description != nil {
		p.Description, err = normalizeDescription(*in.Description)
		errs.add(err)
	}
	errs.add(validatePrice(in.PriceCents))
	p.Currency, err = normalizeCurrency(in.Currency)
	errs.add(err)
	p.Features, err = normalizeFeatures(in.Features)
	errs.add(err)
	if in.StripePriceID != nil {
		p.StripePriceID, err = normalizePriceID(*in.StripePriceID)
		errs.add(err)
	}
	return p, errs.orNil()
}

// applyPlanUpdate returns cur with u applied and the names of the fields
// whose value changed.
func applyPlanUpdate(cur Plan, u PlanUpdate) (Plan, []string, error) {
	next := cur
	var changed []string
	var errs ValidationErrors
	note := func(field string, err error, same bool) {
		if errs.add(err) && !same {
			changed = append(changed, field)
		}
	}
	if u.Name != nil {
		name, err := normalizePlanName(*u.Name)
		next.Name = name
		note("name", err, name == cur.Name)
	}
	if u.Description != nil {
		d, err := normalizeDescription(*u.Description)
		next.Description = d
		note("description", err, equalPtr(d, cur.Description))
	}
	if u.PriceCents != nil {
		next.PriceCents = *u.PriceCents
		note("price_cents", validatePrice(*u.PriceCents), *u.PriceCents == cur.PriceCents)
	}
	if u.Currency != nil {
		c, err := normalizeCurrency(*u.Currency)
		next.Currency = c
		note("currency", err, c == cur.Currency)
	}
	if u.Features != nil {
		f, err := normalizeFeatures(u.Features)
		next.Features = f
		note("features", err, slices.Equal(f, cur.Features))
	}
	if u.StripePriceID != nil {
		id, err := normalizePriceID(*u.StripePriceID)
		next.StripePriceID = id
		note("stripe_price_id", err, equalPtr(id, cur.StripePriceID))
	}
	if len(errs) > 0 {
		return cur, nil, errs
	}
	if u.IsDefault != nil && *u.IsDefault != cur.IsDefault {
		if !*u.IsDefault {
			return cur, nil, ErrDefaultPlanRequired
		}
		next.IsDefault = true
		changed = append(changed, "is_default")
	}
	return next, changed, nil
}

func normalizePlanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > maxPlanName {
		return "", &ValidationError{Field: "body.name", Message: "Plan name must be 1 to " + strconv.Itoa(maxPlanName) + " characters"}
	}
	return name, nil
}

// normalizeDescription trims a description; an empty one is none.
func normalizeDescription(d string) (*string, error) {
	d = strings.TrimSpace(d)
	if d == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(d) > maxPlanDescription {
		return nil, &ValidationError{Field: "body.description", Message: "Description must be at most " + strconv.Itoa(maxPlanDescription) + " characters"}
	}
	return &d, nil
}

func validatePrice(c int64) error {
	if c < 0 || c > maxPriceCents {
		return &ValidationError{Field: "body.price_cents", Message: "price_cents must be between 0 and " + strconv.FormatInt(maxPriceCents, 10)}
	}
	return nil
}

func normalizeCurrency(c string) (string, error) {
	c = strings.ToLower(strings.TrimSpace(c))
	if !currencyPattern.MatchString(c) {
		return "", &ValidationError{Field: "body.currency", Message: "Currency must be a three-letter ISO 4217 code, e.g. usd"}
	}
	return c, nil
}

// normalizeFeatures trims feature names and drops duplicates; nil is none.
func normalizeFeatures(in []string) ([]string, error) {
	if len(in) > maxPlanFeatures {
		return nil, &ValidationError{Field: "body.features", Message: "At most " + strconv.Itoa(maxPlanFeatures) + " features are allowed"}
	}
	out := make([]string, 0, len(in))
	for i, f := range in {
		f = strings.TrimSpace(f)
		if n := utf8.RuneCountInString(f); n < 1 || n > maxPlanFeature {
			return nil, &ValidationError{Field: "body.features[" + strconv.Itoa(i) + "]",
				Message: "A feature is 1 to " + strconv.Itoa(maxPlanFeature) + " characters"}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// normalizePriceID trims a billing price id; an empty one is none.
func normalizePriceID(id string) (*string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, nil
	}
	if !priceIDPattern.MatchString(id) {
		return nil, &ValidationError{Field: "body.stripe_price_id", Message: "stripe_price_id must be 1 to 255 letters, digits, '_' or '-'"}
	}
	return &id, nil
}
