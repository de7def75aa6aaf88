package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// DBTX is a pool or a transaction.
type DBTX = db.DBTX

// Store is the billing module's SQL. Every statement names the
// organization; rows are converted to domain types here and never leave
// this file.
type Store struct{ db DBTX }

// NewStore returns a store on a pool or transaction.
func NewStore(d DBTX) *Store { return &Store{db: d} }

// WithTx returns a store bound to tx.
func (s *Store) WithTx(tx pgx.Tx) *Store { return &Store{db: tx} }

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// mapSubscriptionErr maps the subscription statements' errors: no row is
// ErrSubscriptionNotFound and a plan that vanished under the plan foreign
// key is ErrPlanNotFound.
func mapSubscriptionErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrSubscriptionNotFound
	case errors.Is(err, db.ErrForeignKey) && db.ConstraintName(err) == "subscriptions_plan_fkey":
		return ErrPlanNotFound
	}
	return err
}

const subscriptionColumns = `id, org_id, user_id, service_id, plan_id, status, current_period_end, created_at, updated_at`

func scanSubscription(row pgx.Row) (Subscription, error) {
	var x Subscription
	err := row.Scan(&x.ID, &x.OrgID, &x.UserID, &x.ServiceID, &x.PlanID, &x.Status, &x.CurrentPeriodEnd, &x.CreatedAt, &x.UpdatedAt)
	return x, mapSubscriptionErr(err)
}

func collectSubscriptions(rows pgx.Rows, err error) ([]Subscription, error) {
	if err != nil {
		return nil, mapSubscriptionErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SubscriptionList returns one page of a service's subscriptions (of one
// status when f.Status is set), oldest first, and their total count.
func (s *Store) SubscriptionList(ctx context.Context, orgID, serviceID uuid.UUID, f SubscriptionFilter) ([]Subscription, int, error) {
	const filter = `org_id = $1 AND service_id = $2 AND ($3::text = '' OR status = $3::text)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE `+filter, orgID, serviceID, string(f.Status)).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count subscriptions: %w", db.MapError(err))
	}
	list, err := collectSubscriptions(s.db.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE `+filter+`
		ORDER BY created_at, id LIMIT $4 OFFSET $5`, orgID, serviceID, string(f.Status), f.Limit, f.Offset))
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	return list, total, nil
}

// SubscriptionGet returns the user's subscription to the service, or
// ErrSubscriptionNotFound.
func (s *Store) SubscriptionGet(ctx context.Context, orgID, serviceID, userID uuid.UUID) (Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE org_id = $1 AND service_id = $2 AND user_id = $3`, orgID, serviceID, userID))
}

// SubscriptionLock is SubscriptionGet locking the row until the
// transaction ends.
func (s *Store) SubscriptionLock(ctx context.Context, orgID, serviceID, userID uuid.UUID) (Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE org_id = $1 AND service_id = $2 AND user_id = $3 FOR UPDATE`, orgID, serviceID, userID))
}

// SubscriptionInsert creates a subscription unless the user already has
// one to the service (a concurrent insert won): inserted is false then, and
// the caller locks and updates the existing row instead.
func (s *Store) SubscriptionInsert(ctx context.Context, x Subscription) (out Subscription, inserted bool, err error) {
	out, err = scanSubscription(s.db.QueryRow(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (user_id, service_id) DO NOTHING
		RETURNING `+subscriptionColumns, x.ID, x.OrgID, x.UserID, x.ServiceID, x.PlanID, string(x.Status), x.CurrentPeriodEnd, x.CreatedAt))
	if errors.Is(err, ErrSubscriptionNotFound) {
		return Subscription{}, false, nil
	}
	if err != nil {
		return Subscription{}, false, err
	}
	return out, true, nil
}

// SubscriptionSave writes a subscription's plan, status and period end.
func (s *Store) SubscriptionSave(ctx context.Context, x Subscription) (Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `UPDATE subscriptions SET plan_id = $4, status = $5, current_period_end = $6, updated_at = $7
		WHERE org_id = $1 AND service_id = $2 AND id = $3
		RETURNING `+subscriptionColumns, x.OrgID, x.ServiceID, x.ID, x.PlanID, string(x.Status), x.CurrentPeriodEnd, x.UpdatedAt))
}

// SubscriptionDelete deletes the user's subscription to the service and
// returns it, or ErrSubscriptionNotFound.
func (s *Store) SubscriptionDelete(ctx context.Context, orgID, serviceID, userID uuid.UUID) (Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `DELETE FROM subscriptions WHERE org_id = $1 AND service_id = $2 AND user_id = $3
		RETURNING `+subscriptionColumns, orgID, serviceID, userID))
}

// SubscriptionsOfUsers returns the subscriptions of users to the
// organization's services, oldest first.
func (s *Store) SubscriptionsOfUsers(ctx context.Context, orgID uuid.UUID, userIDs []uuid.UUID) ([]Subscription, error) {
	if len(userIDs) == 0 {
		return []Subscription{}, nil
	}
	list, err := collectSubscriptions(s.db.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE org_id = $1 AND user_id = ANY($2) ORDER BY created_at, id`, orgID, userIDs))
	if err != nil {
		return nil, fmt.Errorf("list users' subscriptions: %w", err)
	}
	return list, nil
}

// SubscriptionCounts counts a service's subscriptions and its active ones.
func (s *Store) SubscriptionCounts(ctx context.Context, orgID, serviceID uuid.UUID) (SubscriptionCounts, error) {
	var c SubscriptionCounts
	err := s.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = $3) FROM subscriptions
		WHERE org_id = $1 AND service_id = $2`, orgID, serviceID, string(StatusActive)).Scan(&c.Total, &c.Active)
	if err != nil {
		return SubscriptionCounts{}, fmt.Errorf("count subscriptions: %w", db.MapError(err))
	}
	return c, nil
}

// utc drops the location of a timestamp for storage and comparison.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
