package tenancy

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// ListMembers returns one page of an organization's members (oldest
// first, optionally of one role) with the team limit; the caller must be a
// member. Errors: ErrOrgNotFound, ErrNotMember.
func (s *Service) ListMembers(ctx context.Context, a Actor, slug string, role Role, page, limit int) (MemberList, error) {
	ac, err := s.resolve(ctx, s.store, slug, a, false, false)
	if err != nil {
		return MemberList{}, err
	}
	ms, total, err := s.store.MembershipList(ctx, ac.org.ID, role, limit, pageOffset(page, limit))
	if err != nil {
		return MemberList{}, err
	}
	current := total
	if role != "" {
		if current, err = s.store.MembershipCount(ctx, ac.org.ID); err != nil {
			return MemberList{}, err
		}
	}
	ids := make([]uuid.UUID, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.UserID)
	}
	users, err := s.loadUsers(ctx, ids...)
	if err != nil {
		return MemberList{}, err
	}
	out := MemberList{Members: make([]Member, 0, len(ms)), Total: total}
	for _, m := range ms {
		u, ok := users[m.UserID]
		if !ok {
			u = UserInfo{ID: m.UserID}
		}
		out.Members = append(out.Members, Member{User: u, Membership: m})
	}
	out.Limit, err = s.teamLimit(ctx, ac.org, current)
	return out, err
}

// teamLimit computes max_users and where it comes from (spec §1.7, §4.2).
func (s *Service) teamLimit(ctx context.Context, org Organization, current int) (TeamLimit, error) {
	if org.MaxUsers != nil {
		return TeamLimit{Current: current, Max: *org.MaxUsers, Source: "custom"}, nil
	}
	tier, err := s.store.TierGet(ctx, org.TierID)
	if errors.Is(err, ErrTierNotFound) {
		return TeamLimit{Current: current, Max: fallbackMaxUsers, Source: "default"}, nil
	}
	if err != nil {
		return TeamLimit{}, err
	}
	return TeamLimit{Current: current, Max: tier.DefaultMaxUsers, Source: tier.Name}, nil
}

// ChangeMemberRole changes a member's role (spec §4.2). The caller needs
// org.roles.manage; changing an owner's or admin's role, or granting admin
// or owner, is reserved to the owner. Granting owner transfers ownership:
// the previous owner becomes admin. Nobody changes their own role.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotChangeRoles, ErrInvalidRole,
// ErrOwnRoleChange, ErrMemberNotFound, ErrOwnerChangesPrivileged.
func (s *Service) ChangeMemberRole(ctx context.Context, a Actor, slug string, targetID uuid.UUID, roleName string) (Member, error) {
	var out Member
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		caller := *ac.membership
		if !caller.Role.Grants(CapOrgRolesManage) {
			return ErrCannotChangeRoles
		}
		role, err := ParseRole(strings.TrimSpace(roleName))
		if err != nil {
			return err
		}
		if targetID == a.UserID {
			return ErrOwnRoleChange
		}
		target, err := st.MembershipLock(ctx, ac.org.ID, targetID)
		if err != nil {
			return err
		}
		if (target.Role.privileged() || role.privileged()) && caller.Role != RoleOwner {
			return ErrOwnerChangesPrivileged
		}
		users, err := s.loadUsers(ctx, caller.UserID, target.UserID)
		if err != nil {
			return err
		}
		out = Member{User: userOrID(users, target.UserID), Membership: target}
		switch {
		case target.Role == role:
			return nil
		case role == RoleOwner:
			out.Membership, err = s.transferOwnership(ctx, tx, ac.org, a, caller, target, users)
			return err
		}
		out.Membership, err = st.MembershipSetRole(ctx, ac.org.ID, target.UserID, role, s.now())
		if err != nil {
			return err
		}
		return s.record(ctx, tx, roleChangedEvents(ac.org, a, out.User, target.Role, role)...)
	})
	return out, err
}

// TransferOwnership makes the member with newOwnerEmail the owner; the
// caller, who must be the owner, becomes admin.
// Errors: ErrOrgNotFound, ErrNotMember, ErrOwnerOnlyTransfer,
// ErrMemberNotFound (no such user, or not a member), ErrAlreadyOwner.
func (s *Service) TransferOwnership(ctx context.Context, a Actor, slug, newOwnerEmail string) (Member, error) {
	var out Member
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		caller := *ac.membership
		if caller.Role != RoleOwner {
			return ErrOwnerOnlyTransfer
		}
		u, err := s.users.PlatformUserByEmail(ctx, strings.TrimSpace(newOwnerEmail))
		if errors.Is(err, ErrUserNotFound) {
			return ErrMemberNotFound
		}
		if err != nil {
			return err
		}
		if u.ID == a.UserID {
			return ErrAlreadyOwner
		}
		target, err := st.MembershipLock(ctx, ac.org.ID, u.ID)
		if err != nil {
			return err
		}
		users, err := s.loadUsers(ctx, caller.UserID, target.UserID)
		if err != nil {
			return err
		}
		users[u.ID] = u
		out.User = u
		out.Membership, err = s.transferOwnership(ctx, tx, ac.org, a, caller, target, users)
		return err
	})
	return out, err
}

// transferOwnership moves ownership from prev (the current owner) to
// target inside tx, with its audit rows, and returns target's membership.
func (s *Service) transferOwnership(ctx context.Context, tx pgx.Tx, org Organization, a Actor, prev, target Membership, users map[uuid.UUID]UserInfo) (Membership, error) {
	st := s.store.WithTx(tx)
	now := s.now()
	// Demote first: an organization has one owner at a time.
	if _, err := st.MembershipSetRole(ctx, org.ID, prev.UserID, RoleAdmin, now); err != nil {
		return Membership{}, err
	}
	m, err := st.MembershipSetRole(ctx, org.ID, target.UserID, RoleOwner, now)
	if err != nil {
		return Membership{}, err
	}
	newOwner := target.UserID
	org.OwnerUserID, org.UpdatedAt = &newOwner, now
	if _, err := st.OrgSave(ctx, org); err != nil {
		return Membership{}, err
	}
	prevUser, targetUser := userOrID(users, prev.UserID), userOrID(users, target.UserID)
	evs := []events.Event{orgEvent("org.ownership_transferred", org, a, events.ActorUser, "organization", org.ID.String(), map[string]any{
		"previous_owner_id": prev.UserID.String(), "previous_owner_email": prevUser.Email,
		"new_owner_id": target.UserID.String(), "new_owner_email": targetUser.Email,
	})}
	evs = append(evs, roleChangedEvents(org, a, targetUser, target.Role, RoleOwner)...)
	evs = append(evs, roleChangedEvents(org, a, prevUser, RoleOwner, RoleAdmin)...)
	return m, s.record(ctx, tx, evs...)
}

// roleChangedEvents are the audit action and the webhook-style event of a
// role change (spec §12.1).
func roleChangedEvents(org Organization, a Actor, target UserInfo, oldRole, newRole Role) []events.Event {
	id := target.ID.String()
	return []events.Event{
		orgEvent("member.role_changed", org, a, events.ActorUser, "user", id, map[string]any{
			"old_role": string(oldRole), "new_role": string(newRole), "target_user_email": target.Email,
		}),
		orgEvent("user.role_updated", org, a, events.ActorUser, "user", id, map[string]any{
			"user_email": target.Email, "old_role": string(oldRole), "new_role": string(newRole),
		}),
	}
}

// RemoveMember removes a member (spec §4.2). The caller needs
// org.members.manage; removing an owner or admin is reserved to the owner,
// the owner cannot be removed (ownership moves first) and nobody removes
// themselves here.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotRemoveMembers,
// ErrSelfRemoval, ErrMemberNotFound, ErrOwnerRemovesPrivileged, ErrRemoveOwner.
func (s *Service) RemoveMember(ctx context.Context, a Actor, slug string, targetID uuid.UUID) error {
	var revoked []uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		caller := *ac.membership
		if !caller.Role.Grants(CapOrgMembersManage) {
			return ErrCannotRemoveMembers
		}
		if targetID == a.UserID {
			return ErrSelfRemoval
		}
		target, err := st.MembershipLock(ctx, ac.org.ID, targetID)
		if err != nil {
			return err
		}
		if target.Role.privileged() && caller.Role != RoleOwner {
			return ErrOwnerRemovesPrivileged
		}
		if target.Role == RoleOwner {
			return ErrRemoveOwner
		}
		if err := st.MembershipDelete(ctx, ac.org.ID, target.UserID); err != nil {
			return err
		}
		// A removed member's org-scoped sessions end with the membership.
		if revoked, err = s.sessions.RevokeOrgSessionsTx(ctx, tx, ac.org.ID, &target.UserID, "member_removed"); err != nil {
			return err
		}
		users, err := s.loadUsers(ctx, target.UserID)
		if err != nil {
			return err
		}
		u := userOrID(users, target.UserID)
		id := target.UserID.String()
		return s.record(ctx, tx,
			orgEvent("member.removed", ac.org, a, events.ActorUser, "user", id, map[string]any{
				"removed_user_email": u.Email, "removed_role": string(target.Role), "removed_by_role": string(caller.Role),
			}),
			orgEvent("user.removed", ac.org, a, events.ActorUser, "user", id, map[string]any{
				"user_email": u.Email, "reason": "removed_by_admin",
			}))
	})
	if err != nil {
		return err
	}
	return s.sessions.ForgetSessions(ctx, revoked)
}

// userOrID returns users[id], or a UserInfo carrying only the id when the
// account is gone.
func userOrID(users map[uuid.UUID]UserInfo, id uuid.UUID) UserInfo {
	if u, ok := users[id]; ok {
		return u
	}
	return UserInfo{ID: id}
}
