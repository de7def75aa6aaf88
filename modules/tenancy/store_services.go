package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// Services, plans and the subscription counts their guards need. Every
// statement names the organization (and the service, for plans).

func mapServiceErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrServiceNotFound
	case errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "services_org_slug_key":
		return ErrServiceSlugTaken
	}
	return err
}

func mapPlanErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrPlanNotFound
	case errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "plans_service_name_key":
		return ErrPlanNameTaken
	}
	return err
}

// encodeList stores a string list as a JSON array ([] for nil).
func encodeList(list []string) ([]byte, error) {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode list: %w", err)
	}
	return b, nil
}

func decodeList(raw []byte) ([]string, error) {
	out := []string{}
	if len(raw) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return out, nil
}

// ---- services

const serviceColumns = `s.id, s.org_id, s.slug, s.name, s.service_type, s.client_id, s.redirect_uris, s.device_activation_uri,
	s.github_scopes, s.google_scopes, s.microsoft_scopes, s.resource_uris, s.created_at, s.updated_at`

// serviceDest returns the scan destinations of serviceColumns and the
// decoder of the JSON columns.
func serviceDest(a *Application) (dest []any, finish func() error) {
	var redirects, github, google, microsoft, resources []byte
	dest = []any{&a.ID, &a.OrgID, &a.Slug, &a.Name, &a.Type, &a.ClientID, &redirects, &a.DeviceActivationURI,
		&github, &google, &microsoft, &resources, &a.CreatedAt, &a.UpdatedAt}
	return dest, func() error {
		var err error
		for _, f := range []struct {
			dst *[]string
			raw []byte
		}{{&a.RedirectURIs, redirects}, {&a.GithubScopes, github}, {&a.GoogleScopes, google}, {&a.MicrosoftScopes, microsoft}, {&a.ResourceURIs, resources}} {
			if *f.dst, err = decodeList(f.raw); err != nil {
				return fmt.Errorf("service %s: %w", a.ID, err)
			}
		}
		return nil
	}
}

func scanService(row pgx.Row) (Application, error) {
	var a Application
	dest, finish := serviceDest(&a)
	if err := row.Scan(dest...); err != nil {
		return a, mapServiceErr(err)
	}
	return a, finish()
}

// serviceListArgs encodes the JSON columns of a service.
func serviceListArgs(a Application) ([]any, error) {
	out := make([]any, 0, 4)
	for _, l := range [][]string{a.RedirectURIs, a.GithubScopes, a.GoogleScopes, a.MicrosoftScopes} {
		b, err := encodeList(l)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ServiceInsert creates a service with the hash of its client secret. A
// slug the organization already uses (in any case) returns
// ErrServiceSlugTaken.
func (s *Store) ServiceInsert(ctx context.Context, a Application, secretHash string) (Application, error) {
	lists, err := serviceListArgs(a)
	if err != nil {
		return a, err
	}
	const q = `INSERT INTO services AS s (id, org_id, slug, name, service_type, client_id, client_secret_hash, redirect_uris,
			device_activation_uri, github_scopes, google_scopes, microsoft_scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
		RETURNING ` + serviceColumns
	return scanService(s.db.QueryRow(ctx, q, a.ID, a.OrgID, a.Slug, a.Name, a.Type, a.ClientID, secretHash, lists[0],
		a.DeviceActivationURI, lists[1], lists[2], lists[3], a.CreatedAt))
}

// ServiceGetBySlug finds an organization's service by slug,
// case-insensitively, or returns ErrServiceNotFound.
func (s *Store) ServiceGetBySlug(ctx context.Context, orgID uuid.UUID, slug string) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s
		WHERE s.org_id = $1 AND lower(s.slug) = lower($2)`, orgID, slug))
}

// ServiceLockBySlug finds an organization's service and locks its row
// against concurrent changes until the transaction ends. The lock does not
// block rows that merely reference the service (plans, subscriptions).
func (s *Store) ServiceLockBySlug(ctx context.Context, orgID uuid.UUID, slug string) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s
		WHERE s.org_id = $1 AND lower(s.slug) = lower($2) FOR NO KEY UPDATE`, orgID, slug))
}

// ServiceLockForDelete finds an organization's service and locks its row
// exclusively: rows referencing it (a new subscription) wait until the
// transaction ends, so a count taken under this lock stays true.
func (s *Store) ServiceLockForDelete(ctx context.Context, orgID uuid.UUID, slug string) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s
		WHERE s.org_id = $1 AND lower(s.slug) = lower($2) FOR UPDATE`, orgID, slug))
}

// ServiceGetByClientID finds a service by its OAuth client id (globally
// unique), or returns ErrServiceNotFound.
func (s *Store) ServiceGetByClientID(ctx context.Context, clientID string) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s WHERE s.client_id = $1`, clientID))
}

// ServiceSecretHash returns the stored hash of a client's secret, or
// ErrServiceNotFound.
func (s *Store) ServiceSecretHash(ctx context.Context, clientID string) (string, error) {
	var h string
	err := s.db.QueryRow(ctx, `SELECT client_secret_hash FROM services WHERE client_id = $1`, clientID).Scan(&h)
	return h, mapServiceErr(err)
}

// ServiceSave writes a service's editable columns (name, type, redirect
// URIs, device activation URI, scopes) and returns the stored row.
func (s *Store) ServiceSave(ctx context.Context, a Application) (Application, error) {
	lists, err := serviceListArgs(a)
	if err != nil {
		return a, err
	}
	const q = `UPDATE services AS s SET name = $3, service_type = $4, redirect_uris = $5, device_activation_uri = $6,
			github_scopes = $7, google_scopes = $8, microsoft_scopes = $9, updated_at = $10
		WHERE s.org_id = $1 AND s.id = $2
		RETURNING ` + serviceColumns
	return scanService(s.db.QueryRow(ctx, q, a.OrgID, a.ID, a.Name, a.Type, lists[0], a.DeviceActivationURI,
		lists[1], lists[2], lists[3], a.UpdatedAt))
}

// ServiceSetSecretHash replaces a service's client secret hash.
func (s *Store) ServiceSetSecretHash(ctx context.Context, orgID, id uuid.UUID, hash string, now time.Time) (Application, error) {
	const q = `UPDATE services AS s SET client_secret_hash = $3, updated_at = $4 WHERE s.org_id = $1 AND s.id = $2
		RETURNING ` + serviceColumns
	return scanService(s.db.QueryRow(ctx, q, orgID, id, hash, now))
}

// ServiceDelete deletes a service; its plans, subscriptions, sessions and
// identities cascade, its login events forget it.
func (s *Store) ServiceDelete(ctx context.Context, orgID, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM services WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return mapServiceErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrServiceNotFound
	}
	return nil
}

// ServiceCount counts an organization's services.
func (s *Store) ServiceCount(ctx context.Context, orgID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM services WHERE org_id = $1`, orgID).Scan(&n)
	return n, db.MapError(err)
}

// activeSubscription is the status the deletion guards and the listed
// subscription counts consider (spec §5.2).
const activeSubscription = "active"

// ServiceList returns one page of an organization's services (oldest
// first, optionally of one type) with their plan and active-subscription
// counts, and the total matching.
func (s *Store) ServiceList(ctx context.Context, orgID uuid.UUID, f ApplicationFilter) ([]ApplicationSummary, int, error) {
	const where = ` WHERE s.org_id = $1 AND ($2 = '' OR s.service_type = $2)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM services s`+where, orgID, string(f.Type)).Scan(&total); err != nil {
		return nil, 0, db.MapError(err)
	}
	const q = `SELECT ` + serviceColumns + `,
			(SELECT count(*) FROM plans p WHERE p.org_id = s.org_id AND p.service_id = s.id),
			(SELECT count(*) FROM subscriptions sub WHERE sub.org_id = s.org_id AND sub.service_id = s.id AND sub.status = $5)
		FROM services s` + where + `
		ORDER BY s.created_at, s.id LIMIT $3 OFFSET $4`
	rows, err := s.db.Query(ctx, q, orgID, string(f.Type), f.Limit, f.Offset, activeSubscription)
	if err != nil {
		return nil, 0, db.MapError(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApplicationSummary, error) {
		var sum ApplicationSummary
		dest, finish := serviceDest(&sum.App)
		if err := r.Scan(append(dest, &sum.PlanCount, &sum.SubscriptionCount)...); err != nil {
			return sum, db.MapError(err)
		}
		return sum, finish()
	})
	return list, total, err
}

// ServiceActiveSubscriptions counts a service's active subscriptions.
func (s *Store) ServiceActiveSubscriptions(ctx context.Context, orgID, serviceID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE org_id = $1 AND service_id = $2 AND status = $3`,
		orgID, serviceID, activeSubscription).Scan(&n)
	return n, db.MapError(err)
}

// ---- plans

const planColumns = `p.id, p.org_id, p.service_id, p.name, p.description, p.price_cents, p.currency, p.features,
	p.stripe_price_id, p.is_default, p.created_at, p.updated_at`

// planSubscriptions counts a plan's active subscriptions (argument $1 is
// the status), selected next to planColumns.
const planSubscriptions = `(SELECT count(*) FROM subscriptions sub WHERE sub.org_id = p.org_id AND sub.service_id = p.service_id
		AND sub.plan_id = p.id AND sub.status = $1)`

func planDest(p *Plan) (dest []any, finish func() error) {
	var features []byte
	dest = []any{&p.ID, &p.OrgID, &p.ServiceID, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &features,
		&p.StripePriceID, &p.IsDefault, &p.CreatedAt, &p.UpdatedAt}
	return dest, func() error {
		var err error
		if p.Features, err = decodeList(features); err != nil {
			return fmt.Errorf("plan %s features: %w", p.ID, err)
		}
		return nil
	}
}

func scanPlan(row pgx.Row) (Plan, error) {
	var p Plan
	dest, finish := planDest(&p)
	if err := row.Scan(dest...); err != nil {
		return p, mapPlanErr(err)
	}
	return p, finish()
}

func scanPlanSummary(row pgx.Row) (PlanSummary, error) {
	var sum PlanSummary
	dest, finish := planDest(&sum.Plan)
	if err := row.Scan(append(dest, &sum.SubscriptionCount)...); err != nil {
		return sum, mapPlanErr(err)
	}
	return sum, finish()
}

// PlanInsert creates a plan. A name the service already uses (in any case)
// returns ErrPlanNameTaken; callers clear the previous default first.
func (s *Store) PlanInsert(ctx context.Context, p Plan) (Plan, error) {
	features, err := encodeList(p.Features)
	if err != nil {
		return p, err
	}
	const q = `INSERT INTO plans AS p (id, org_id, service_id, name, description, price_cents, currency, features,
			stripe_price_id, is_default, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		RETURNING ` + planColumns
	return scanPlan(s.db.QueryRow(ctx, q, p.ID, p.OrgID, p.ServiceID, p.Name, p.Description, p.PriceCents, p.Currency,
		features, p.StripePriceID, p.IsDefault, p.CreatedAt))
}

// PlanGet returns a service's plan with its active-subscription count, or
// ErrPlanNotFound (also for a plan of another service).
func (s *Store) PlanGet(ctx context.Context, orgID, serviceID, id uuid.UUID) (PlanSummary, error) {
	return scanPlanSummary(s.db.QueryRow(ctx, `SELECT `+planColumns+`, `+planSubscriptions+` FROM plans p
		WHERE p.org_id = $2 AND p.service_id = $3 AND p.id = $4`, activeSubscription, orgID, serviceID, id))
}

// PlanLock returns a service's plan and locks it exclusively: new
// subscriptions to it wait until the transaction ends.
func (s *Store) PlanLock(ctx context.Context, orgID, serviceID, id uuid.UUID) (Plan, error) {
	return scanPlan(s.db.QueryRow(ctx, `SELECT `+planColumns+` FROM plans p
		WHERE p.org_id = $1 AND p.service_id = $2 AND p.id = $3 FOR UPDATE`, orgID, serviceID, id))
}

// PlanList returns a service's plans with their active-subscription
// counts, cheapest first.
func (s *Store) PlanList(ctx context.Context, orgID, serviceID uuid.UUID) ([]PlanSummary, error) {
	rows, err := s.db.Query(ctx, `SELECT `+planColumns+`, `+planSubscriptions+` FROM plans p
		WHERE p.org_id = $2 AND p.service_id = $3
		ORDER BY p.price_cents, p.created_at, p.id`, activeSubscription, orgID, serviceID)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PlanSummary, error) { return scanPlanSummary(r) })
}

// PlanSave writes a plan's editable columns and returns the stored row.
func (s *Store) PlanSave(ctx context.Context, p Plan) (Plan, error) {
	features, err := encodeList(p.Features)
	if err != nil {
		return p, err
	}
	const q = `UPDATE plans AS p SET name = $4, description = $5, price_cents = $6, currency = $7, features = $8,
			stripe_price_id = $9, is_default = $10, updated_at = $11
		WHERE p.org_id = $1 AND p.service_id = $2 AND p.id = $3
		RETURNING ` + planColumns
	return scanPlan(s.db.QueryRow(ctx, q, p.OrgID, p.ServiceID, p.ID, p.Name, p.Description, p.PriceCents, p.Currency,
		features, p.StripePriceID, p.IsDefault, p.UpdatedAt))
}

// PlanClearDefault clears the default flag of a service's plans and
// returns the plans it was cleared on (at most one).
func (s *Store) PlanClearDefault(ctx context.Context, orgID, serviceID uuid.UUID, now time.Time) ([]Plan, error) {
	rows, err := s.db.Query(ctx, `UPDATE plans AS p SET is_default = false, updated_at = $3
		WHERE p.org_id = $1 AND p.service_id = $2 AND p.is_default
		RETURNING `+planColumns, orgID, serviceID, now)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Plan, error) { return scanPlan(r) })
}

// PlanDelete deletes a plan; subscriptions that still name it keep their
// row without a plan.
func (s *Store) PlanDelete(ctx context.Context, orgID, serviceID, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM plans WHERE org_id = $1 AND service_id = $2 AND id = $3`, orgID, serviceID, id)
	if err != nil {
		return mapPlanErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrPlanNotFound
	}
	return nil
}
