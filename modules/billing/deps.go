package billing

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Plans is billing's view of the tenancy module's plans. cmd/* passes an
// adapter over the tenancy service.
type Plans interface {
	// OrgPlan returns the organization's plan with this id, whatever its
	// service, or ErrPlanNotFound (also for another organization's plan).
	OrgPlan(ctx context.Context, orgID, planID uuid.UUID) (PlanInfo, error)
	// PlanNames returns the names of the organization's plans among ids;
	// absent ids are left out.
	PlanNames(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]string, error)
}

// ServiceUsers is billing's view of the identity module's users of a
// service. cmd/* passes an adapter over the identity service.
type ServiceUsers interface {
	// RequireServiceUserTx returns ErrUserNotFound unless userID is a user
	// of the organization's service, and keeps the user from being
	// unlinked until tx ends.
	RequireServiceUserTx(ctx context.Context, tx pgx.Tx, orgID, serviceID, userID uuid.UUID) error
}
