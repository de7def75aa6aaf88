package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// The platform owner's API (spec §14). Every method refuses callers that
// are not platform owners with ErrNotPlatformOwner, and every change writes
// its platform audit row (spec §12.3) in the transaction of the change.

func requirePlatformOwner(a Actor) error {
	if !a.IsPlatformOwner {
		return ErrNotPlatformOwner
	}
	return nil
}

// ListTiers returns every tier, cheapest first.
func (s *Service) ListTiers(ctx context.Context, a Actor) ([]Tier, error) {
	if err := requirePlatformOwner(a); err != nil {
		return nil, err
	}
	return s.store.TierList(ctx)
}

// ListPlatformOrganizations returns one page of every organization, newest
// first, with tier and owner, and the total matching the filter.
func (s *Service) ListPlatformOrganizations(ctx context.Context, a Actor, f PlatformOrgFilter) ([]PlatformOrg, int, error) {
	if err := requirePlatformOwner(a); err != nil {
		return nil, 0, err
	}
	list, total, err := s.store.OrgListPlatform(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]uuid.UUID, 0, len(list))
	for _, o := range list {
		if o.Org.OwnerUserID != nil {
			ids = append(ids, *o.Org.OwnerUserID)
		}
	}
	owners, err := s.loadUsers(ctx, ids...)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PlatformOrg, 0, len(list))
	for _, o := range list {
		po := PlatformOrg{Org: o.Org, Tier: o.Tier}
		if o.Org.OwnerUserID != nil {
			if u, ok := owners[*o.Org.OwnerUserID]; ok {
				po.Owner = &u
			}
		}
		out = append(out, po)
	}
	return out, total, nil
}

// transition runs a platform-owner change of one organization: it locks the
// row, lets change edit it (returning the audit details), saves it and
// records action, all in one transaction.
func (s *Service) transition(ctx context.Context, a Actor, id uuid.UUID, action string, change func(o *Organization) (map[string]any, error)) (Organization, error) {
	if err := requirePlatformOwner(a); err != nil {
		return Organization{}, err
	}
	var out Organization
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		org, err := st.OrgLockByID(ctx, id)
		if err != nil {
			return err
		}
		details, err := change(&org)
		if err != nil {
			return err
		}
		org.UpdatedAt = s.now()
		if out, err = st.OrgSave(ctx, org); err != nil {
			return err
		}
		// Leaving the active state ends every session scoped to the
		// organization: its members and its services' end users are
		// refused on their next request (logins are refused by the gate).
		if org.Status != StatusActive {
			if revoked, err = s.sessions.RevokeOrgSessionsTx(ctx, tx, org.ID, nil, "organization_"+string(org.Status)); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, platformEvent(action, a, "organization", org.ID.String(), details))
	})
	if err != nil {
		return out, err
	}
	s.forgetAPIKeys(ctx, orgKeys(out.ID))
	return out, s.sessions.ForgetSessions(ctx, revoked)
}

// ApproveOrganization activates a pending organization on tierID (default
// tier_free), recording who approved it and when.
// Errors: ErrOrgNotFound, *TransitionError, ErrTierNotFound.
func (s *Service) ApproveOrganization(ctx context.Context, a Actor, id uuid.UUID, tierID string) (Organization, error) {
	tierID = strings.TrimSpace(tierID)
	if tierID == "" {
		tierID = DefaultTierID
	}
	return s.transition(ctx, a, id, "approve_organization", func(o *Organization) (map[string]any, error) {
		if o.Status != StatusPending {
			return nil, &TransitionError{Transition: "approve", Status: o.Status}
		}
		if _, err := s.store.TierGet(ctx, tierID); err != nil {
			return nil, err
		}
		old, now, by := o.Status, s.now(), a.UserID
		o.Status, o.TierID, o.ApprovedBy, o.ApprovedAt = StatusActive, tierID, &by, &now
		return map[string]any{"old_status": string(old), "new_status": string(o.Status), "tier_id": tierID}, nil
	})
}

// RejectOrganization rejects a pending organization (terminal).
// Errors: ErrOrgNotFound, *TransitionError, *ValidationError (empty reason).
func (s *Service) RejectOrganization(ctx context.Context, a Actor, id uuid.UUID, reason string) (Organization, error) {
	if err := requirePlatformOwner(a); err != nil {
		return Organization{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Organization{}, &ValidationError{Field: "body.reason", Message: "A rejection reason is required"}
	}
	return s.transition(ctx, a, id, "reject_organization", func(o *Organization) (map[string]any, error) {
		if o.Status != StatusPending {
			return nil, &TransitionError{Transition: "reject", Status: o.Status}
		}
		old, now, by := o.Status, s.now(), a.UserID
		o.Status, o.RejectedBy, o.RejectedAt, o.RejectionReason = StatusRejected, &by, &now, &reason
		return map[string]any{"old_status": string(old), "new_status": string(o.Status), "reason": reason}, nil
	})
}

// SuspendOrganization suspends an organization in any other status.
// Errors: ErrOrgNotFound, *TransitionError (already suspended).
func (s *Service) SuspendOrganization(ctx context.Context, a Actor, id uuid.UUID) (Organization, error) {
	return s.transition(ctx, a, id, "suspend_organization", func(o *Organization) (map[string]any, error) {
		if o.Status == StatusSuspended {
			return nil, &TransitionError{Transition: "suspend", Status: o.Status}
		}
		old := o.Status
		o.Status = StatusSuspended
		return map[string]any{"old_status": string(old), "new_status": string(o.Status)}, nil
	})
}

// ActivateOrganization reactivates a suspended organization.
// Errors: ErrOrgNotFound, *TransitionError (not suspended).
func (s *Service) ActivateOrganization(ctx context.Context, a Actor, id uuid.UUID) (Organization, error) {
	return s.transition(ctx, a, id, "activate_organization", func(o *Organization) (map[string]any, error) {
		if o.Status != StatusSuspended {
			return nil, &TransitionError{Transition: "activate", Status: o.Status}
		}
		old := o.Status
		o.Status = StatusActive
		return map[string]any{"old_status": string(old), "new_status": string(o.Status)}, nil
	})
}

// SetOrganizationTier assigns a tier and the limit overrides; a nil
// override is cleared, so the request states the whole assignment.
// Errors: ErrOrgNotFound, ErrTierNotFound, *ValidationError.
func (s *Service) SetOrganizationTier(ctx context.Context, a Actor, id uuid.UUID, u TierUpdate) (Organization, error) {
	if err := requirePlatformOwner(a); err != nil {
		return Organization{}, err
	}
	u.TierID = strings.TrimSpace(u.TierID)
	switch {
	case u.TierID == "":
		return Organization{}, &ValidationError{Field: "body.tier_id", Message: "tier_id is required"}
	case u.MaxServices != nil && *u.MaxServices < 0:
		return Organization{}, &ValidationError{Field: "body.max_services", Message: "max_services must not be negative"}
	case u.MaxUsers != nil && *u.MaxUsers < 1:
		return Organization{}, &ValidationError{Field: "body.max_users", Message: "max_users must be at least 1"}
	}
	return s.transition(ctx, a, id, "update_organization_tier", func(o *Organization) (map[string]any, error) {
		if _, err := s.store.TierGet(ctx, u.TierID); err != nil {
			return nil, err
		}
		old := o.TierID
		o.TierID, o.MaxServices, o.MaxUsers = u.TierID, u.MaxServices, u.MaxUsers
		return map[string]any{"old_tier_id": old, "new_tier_id": u.TierID, "max_services": u.MaxServices, "max_users": u.MaxUsers}, nil
	})
}

// SetOrganizationFeatures merges patch into the organization's feature
// overrides. Overrides only widen the tier (see Features.Widen): a false
// flag grants nothing beyond the tier, so it clears an earlier widening.
// Errors: ErrOrgNotFound, *ValidationError (unknown provider).
func (s *Service) SetOrganizationFeatures(ctx context.Context, a Actor, id uuid.UUID, patch FeatureOverrides) (Organization, error) {
	if err := requirePlatformOwner(a); err != nil {
		return Organization{}, err
	}
	if patch.AllowedSocialProviders != nil {
		providers, err := normalizeProviders(patch.AllowedSocialProviders)
		if err != nil {
			return Organization{}, err
		}
		patch.AllowedSocialProviders = providers
	}
	return s.transition(ctx, a, id, "update_organization_features", func(o *Organization) (map[string]any, error) {
		var merged FeatureOverrides
		if o.FeatureOverrides != nil {
			merged = *o.FeatureOverrides
		}
		merged = merged.Merge(patch)
		o.FeatureOverrides = &merged
		return map[string]any{"features": merged}, nil
	})
}

// DeletePlatformOrganization deletes any organization, whatever its status.
// Errors: ErrOrgNotFound.
func (s *Service) DeletePlatformOrganization(ctx context.Context, a Actor, id uuid.UUID) error {
	if err := requirePlatformOwner(a); err != nil {
		return err
	}
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		org, err := st.OrgLockByID(ctx, id)
		if err != nil {
			return err
		}
		err = s.record(ctx, tx, platformEvent("delete_organization", a, "organization", org.ID.String(),
			map[string]any{"org_slug": org.Slug, "org_name": org.Name, "status": string(org.Status)}))
		if err != nil {
			return err
		}
		if revoked, err = s.sessions.RevokeOrgSessionsTx(ctx, tx, org.ID, nil, "organization_deleted"); err != nil {
			return err
		}
		return st.OrgDelete(ctx, org.ID)
	})
	if err != nil {
		return err
	}
	s.forgetAPIKeys(ctx, orgKeys(id))
	return s.sessions.ForgetSessions(ctx, revoked)
}

// PromotePlatformOwner makes a user a platform owner.
// Errors: ErrUserNotFound, ErrAlreadyPlatformOwner.
func (s *Service) PromotePlatformOwner(ctx context.Context, a Actor, userID uuid.UUID) (UserInfo, error) {
	return s.setPlatformOwner(ctx, a, userID, true)
}

// DemotePlatformOwner removes a user's platform-owner flag; nobody demotes
// themselves and the last owner stays.
// Errors: ErrDemoteSelf, ErrUserNotFound, ErrNotAPlatformOwner, ErrLastPlatformOwner.
func (s *Service) DemotePlatformOwner(ctx context.Context, a Actor, userID uuid.UUID) (UserInfo, error) {
	if err := requirePlatformOwner(a); err != nil {
		return UserInfo{}, err
	}
	if userID == a.UserID {
		return UserInfo{}, ErrDemoteSelf
	}
	return s.setPlatformOwner(ctx, a, userID, false)
}

func (s *Service) setPlatformOwner(ctx context.Context, a Actor, userID uuid.UUID, owner bool) (UserInfo, error) {
	if err := requirePlatformOwner(a); err != nil {
		return UserInfo{}, err
	}
	u, err := s.users.GetUser(ctx, userID)
	if err != nil {
		return UserInfo{}, err
	}
	switch {
	case owner && u.IsPlatformOwner:
		return UserInfo{}, ErrAlreadyPlatformOwner
	case !owner && !u.IsPlatformOwner:
		return UserInfo{}, ErrNotAPlatformOwner
	}
	action := "promote_platform_owner"
	if !owner {
		action = "demote_platform_owner"
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.users.SetPlatformOwnerTx(ctx, tx, userID, owner); err != nil {
			return fmt.Errorf("set platform owner: %w", err)
		}
		return s.record(ctx, tx, platformEvent(action, a, "user", userID.String(), map[string]any{"user_email": u.Email}))
	})
	if err != nil {
		return UserInfo{}, err
	}
	// The owner flag is read from the live session state: make the
	// user's sessions reload it on their next request.
	if err := s.sessions.ReloadUser(ctx, userID); err != nil {
		return UserInfo{}, err
	}
	u.IsPlatformOwner = owner
	return u, nil
}

// ListPlatformUsers returns one page of platform-level users and their total.
func (s *Service) ListPlatformUsers(ctx context.Context, a Actor, limit, offset int) ([]UserInfo, int, error) {
	if err := requirePlatformOwner(a); err != nil {
		return nil, 0, err
	}
	return s.users.ListPlatformUsers(ctx, limit, offset)
}

// SearchPlatformUsers finds platform-level users by email or id.
// Errors: *ValidationError (blank query).
func (s *Service) SearchPlatformUsers(ctx context.Context, a Actor, q string, limit int) ([]UserInfo, error) {
	if err := requirePlatformOwner(a); err != nil {
		return nil, err
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, &ValidationError{Field: "query.q", Message: "Search query is required"}
	}
	return s.users.SearchPlatformUsers(ctx, q, limit)
}

// GetPlatformUser returns one user. Errors: ErrUserNotFound.
func (s *Service) GetPlatformUser(ctx context.Context, a Actor, id uuid.UUID) (UserInfo, error) {
	if err := requirePlatformOwner(a); err != nil {
		return UserInfo{}, err
	}
	u, err := s.users.GetUser(ctx, id)
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return UserInfo{}, fmt.Errorf("get user: %w", err)
	}
	return u, err
}
