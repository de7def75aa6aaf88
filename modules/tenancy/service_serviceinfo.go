package tenancy

import (
	"context"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// ServiceAPIKey is the caller of the Service API info endpoints: a
// service API key, scoped to its organization and service. Both come from
// the verified key, never from the request.
type ServiceAPIKey struct {
	OrgID     uuid.UUID
	ServiceID uuid.UUID
	APIKeyID  uuid.UUID
	Meta      RequestMeta
}

// ServiceInfo returns the key's own service (spec §9.1 GET
// /api/service/info). The organization must be active.
// Errors: ErrOrgNotFound, *OrgNotActiveError, ErrServiceNotFound.
func (s *Service) ServiceInfo(ctx context.Context, k ServiceAPIKey) (Application, error) {
	if _, err := s.keyOrg(ctx, s.store, k); err != nil {
		return Application{}, err
	}
	return s.store.ServiceGetByID(ctx, k.OrgID, k.ServiceID)
}

// UpdateServiceInfo renames the key's own service (spec §9.1 PATCH
// /api/service/info). A nil name is refused; a name equal to the current
// one records nothing. service.updated, with the changed fields and the
// key as actor, is recorded in the same transaction.
// Errors: ErrOrgNotFound, *OrgNotActiveError, ErrNoFieldsToUpdate,
// ErrServiceNotFound, *ValidationError / ValidationErrors.
func (s *Service) UpdateServiceInfo(ctx context.Context, k ServiceAPIKey, name *string) (Application, error) {
	var out Application
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		org, err := s.keyOrg(ctx, st, k)
		if err != nil {
			return err
		}
		if name == nil {
			return ErrNoFieldsToUpdate
		}
		cur, err := st.ServiceLockByID(ctx, k.OrgID, k.ServiceID)
		if err != nil {
			return err
		}
		next, changed, err := applyApplicationUpdate(cur, ApplicationUpdate{Name: name})
		if err != nil {
			return err
		}
		out = cur
		if len(changed) == 0 {
			return nil
		}
		next.UpdatedAt = s.now()
		if out, err = st.ServiceSave(ctx, next); err != nil {
			return err
		}
		details := map[string]any{
			"service_slug": out.Slug, "service_name": out.Name, "changed_fields": changed, "api_key_id": k.APIKeyID.String(),
		}
		if slices.Contains(changed, "name") {
			details["old_name"] = cur.Name
		}
		orgID := org.ID
		return s.record(ctx, tx, events.Event{
			Type: "service.updated", Stream: events.StreamOrganization, OrgID: &orgID, ActorType: events.ActorAPIKey,
			TargetType: "service", TargetID: out.ID.String(), IP: k.Meta.IP, UserAgent: k.Meta.UserAgent, Details: details,
		})
	})
	return out, err
}

// keyOrg loads the key's organization and applies the active-organization
// gate. The authenticator already refuses keys of inactive organizations;
// this guards against a status change since the key was verified.
func (s *Service) keyOrg(ctx context.Context, st *Store, k ServiceAPIKey) (Organization, error) {
	org, err := st.OrgGetByID(ctx, k.OrgID)
	if err != nil {
		return Organization{}, err
	}
	if err := requireActive(org); err != nil {
		return Organization{}, err
	}
	return org, nil
}

// ---- store

// ServiceGetByID finds an organization's service by id, or returns
// ErrServiceNotFound.
func (s *Store) ServiceGetByID(ctx context.Context, orgID, id uuid.UUID) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s
		WHERE s.org_id = $1 AND s.id = $2`, orgID, id))
}

// ServiceLockByID finds an organization's service by id and locks its row
// against concurrent changes until the transaction ends (see
// ServiceLockBySlug).
func (s *Store) ServiceLockByID(ctx context.Context, orgID, id uuid.UUID) (Application, error) {
	return scanService(s.db.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services s
		WHERE s.org_id = $1 AND s.id = $2 FOR NO KEY UPDATE`, orgID, id))
}
