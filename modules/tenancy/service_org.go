package tenancy

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// CreateOrganization creates an organization owned by the caller: status
// pending, tier tier_free, the caller's owner membership and the org.created
// audit row in one transaction; then it issues the caller an org-scoped
// session (spec §4.1).
//
// Errors: *ValidationError (slug, name), *OrgLimitError, ErrSlugTaken. When
// the session cannot be issued after the commit, the organization exists
// and the error is returned: the caller can select it once it is active.
func (s *Service) CreateOrganization(ctx context.Context, a Actor, slug, name string) (CreatedOrg, error) {
	if a.EndUser {
		return CreatedOrg{}, ErrEndUserCannotCreateOrg
	}
	slug = strings.TrimSpace(slug)
	if err := validateSlug(slug); err != nil {
		return CreatedOrg{}, err
	}
	name, err := normalizeName(name)
	if err != nil {
		return CreatedOrg{}, err
	}
	owner, err := s.users.GetUser(ctx, a.UserID)
	if err != nil {
		return CreatedOrg{}, fmt.Errorf("load creator: %w", err)
	}
	var out CreatedOrg
	now := s.now()
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		// Serialise one user's creations so the cap cannot be raced past.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenancy.org_create:' || $1::text, 0))`, a.UserID); err != nil {
			return fmt.Errorf("lock creator: %w", err)
		}
		owned, err := st.OrgCountOwnedBy(ctx, a.UserID)
		if err != nil {
			return err
		}
		if owned >= s.cfg.MaxOrgsPerUser {
			return &OrgLimitError{Max: s.cfg.MaxOrgsPerUser}
		}
		ownerID := a.UserID
		org, err := st.OrgInsert(ctx, Organization{
			ID: newID(), Slug: slug, Name: name, OwnerUserID: &ownerID, Status: StatusPending, TierID: DefaultTierID, CreatedAt: now,
		})
		if err != nil {
			return err
		}
		m, err := st.MembershipInsert(ctx, Membership{ID: newID(), OrgID: org.ID, UserID: a.UserID, Role: RoleOwner, CreatedAt: now})
		if err != nil {
			return err
		}
		out = CreatedOrg{Org: org, Owner: owner, Membership: m}
		return s.record(ctx, tx, orgEvent("org.created", org, a, events.ActorUser, "organization", org.ID.String(),
			map[string]any{"org_slug": org.Slug, "org_name": org.Name}))
	})
	if err != nil {
		return CreatedOrg{}, err
	}
	out.Tokens, err = s.sessions.IssueOrgSession(ctx, a.UserID, out.Org.ID, out.Org.Slug, a.Meta.IP, a.Meta.UserAgent)
	if err != nil {
		return CreatedOrg{}, fmt.Errorf("issue session for new organization %s: %w", out.Org.ID, err)
	}
	return out, nil
}

// ListOrganizations returns the caller's organizations in the order the
// caller joined them, optionally of one status (page is 1-based).
func (s *Service) ListOrganizations(ctx context.Context, a Actor, status OrgStatus, page, limit int) ([]OrgSummary, error) {
	return s.store.OrgListForUser(ctx, a.UserID, status, limit, pageOffset(page, limit))
}

// GetOrganization returns an organization to a member or a platform owner.
// Errors: ErrOrgNotFound, ErrNotMember.
func (s *Service) GetOrganization(ctx context.Context, a Actor, slug string) (OrgSummary, error) {
	ac, err := s.resolve(ctx, s.store, slug, a, false, true)
	if err != nil {
		return OrgSummary{}, err
	}
	return s.store.OrgSummaryByID(ctx, ac.org.ID)
}

// UpdateOrganization renames an organization; the caller needs
// org.settings.manage or is a platform owner. A nil or unchanged name
// changes nothing and records nothing.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings, *ValidationError.
func (s *Service) UpdateOrganization(ctx context.Context, a Actor, slug string, name *string) (OrgSummary, error) {
	var orgID uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, true)
		if err != nil {
			return err
		}
		if ac.membership != nil && !ac.membership.Role.Grants(CapOrgSettingsManage) && !a.IsPlatformOwner {
			return ErrCannotManageSettings
		}
		orgID = ac.org.ID
		if name == nil {
			return nil
		}
		newName, err := normalizeName(*name)
		if err != nil || newName == ac.org.Name {
			return err
		}
		org := ac.org
		org.Name, org.UpdatedAt = newName, s.now()
		if _, err := st.OrgSave(ctx, org); err != nil {
			return err
		}
		target := org.ID.String()
		return s.record(ctx, tx,
			orgEvent("org.updated", org, a, ac.actorType(), "organization", target,
				map[string]any{"old_name": ac.org.Name, "new_name": newName}),
			orgEvent("organization.updated", org, a, ac.actorType(), "organization", target,
				map[string]any{"org_slug": org.Slug, "name": newName}))
	})
	if err != nil {
		return OrgSummary{}, err
	}
	return s.store.OrgSummaryByID(ctx, orgID)
}

// DeleteOrganization deletes an organization and everything it owns; only
// its owner may. The org.deleted audit row goes to the platform stream,
// because the organization's own trail is deleted with it.
// Errors: ErrOrgNotFound, ErrNotMember, ErrOwnerOnlyDelete.
func (s *Service) DeleteOrganization(ctx context.Context, a Actor, slug string) error {
	var revoked []uuid.UUID
	var orgID uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		if ac.membership.Role != RoleOwner {
			return ErrOwnerOnlyDelete
		}
		e := orgEvent("org.deleted", ac.org, a, events.ActorUser, "organization", ac.org.ID.String(),
			map[string]any{"org_id": ac.org.ID.String(), "org_slug": ac.org.Slug, "org_name": ac.org.Name})
		e.Stream, e.OrgID = events.StreamPlatform, nil
		if err := s.record(ctx, tx, e); err != nil {
			return err
		}
		if revoked, err = s.sessions.RevokeOrgSessionsTx(ctx, tx, ac.org.ID, nil, "organization_deleted"); err != nil {
			return err
		}
		orgID = ac.org.ID
		return st.OrgDelete(ctx, ac.org.ID)
	})
	if err != nil {
		return err
	}
	s.forgetAPIKeys(ctx, orgKeys(orgID))
	return s.sessions.ForgetSessions(ctx, revoked)
}

// SelectOrganization issues the caller, a member, a new session scoped to
// an active organization.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError.
func (s *Service) SelectOrganization(ctx context.Context, a Actor, slug string) (SelectedOrg, error) {
	ac, err := s.resolve(ctx, s.store, slug, a, false, false)
	if err != nil {
		return SelectedOrg{}, err
	}
	if err := requireActive(ac.org); err != nil {
		return SelectedOrg{}, err
	}
	tokens, err := s.sessions.IssueOrgSession(ctx, a.UserID, ac.org.ID, ac.org.Slug, a.Meta.IP, a.Meta.UserAgent)
	if err != nil {
		return SelectedOrg{}, fmt.Errorf("issue session for organization %s: %w", ac.org.ID, err)
	}
	return SelectedOrg{Org: ac.org, Membership: *ac.membership, Tokens: tokens}, nil
}
