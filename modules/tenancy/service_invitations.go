package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
	platformmail "github.com/authos/authos/platform/mail"
)

// Invitation lifetime (spec §1.9, §6.2) and how the email words it.
const (
	invitationLifetime     = 7 * 24 * time.Hour
	invitationLifetimeText = "7 days"
	invitationTokenBytes   = 32
)

// normalizeInvitationEmail validates an invited address and returns it
// trimmed; its case is kept, comparisons ignore it.
func normalizeInvitationEmail(raw string) (string, error) {
	e := strings.TrimSpace(raw)
	bad := &ValidationError{Field: "body.email", Message: "Invalid email format"}
	if len(e) < 3 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>") {
		return "", bad
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") || !strings.Contains(e, "@") {
		return "", bad
	}
	return e, nil
}

// parseInvitableRole returns the invitable role named s: admin or member
// (custom roles join them when organization_roles arrives). Owner is never
// invitable; ownership moves by transfer.
func parseInvitableRole(s string) (Role, error) {
	r, err := ParseRole(strings.TrimSpace(s))
	if err != nil || r == RoleOwner {
		return "", ErrInvalidInvitationRole
	}
	return r, nil
}

// canInvite reports whether a member with role r may invite (or accept on
// behalf of) someone with role target: it needs org.members.manage, and
// granting admin needs a privileged role itself. Owner is never granted by
// invitation.
func (r Role) canInvite(target Role) bool {
	switch {
	case !r.Grants(CapOrgMembersManage), target == RoleOwner:
		return false
	case target == RoleAdmin:
		return r.privileged()
	}
	return true
}

// invitationEvent builds an organization-stream event about an invitation.
// A nil actor is the system (the expiry sweep) or an anonymous invitee
// (decline by token).
func invitationEvent(typ string, inv Invitation, a *Actor, actorType events.ActorType, details map[string]any) events.Event {
	orgID := inv.OrgID
	e := events.Event{
		Type: typ, Stream: events.StreamOrganization, OrgID: &orgID, ActorType: actorType,
		TargetType: "invitation", TargetID: inv.ID.String(), Details: details,
	}
	if a != nil {
		if a.UserID != uuid.Nil {
			id := a.UserID
			e.ActorID = &id
		}
		e.IP, e.UserAgent = a.Meta.IP, a.Meta.UserAgent
	}
	return e
}

func invitationDetails(inv Invitation) map[string]any {
	return map[string]any{"invitation_id": inv.ID.String(), "email": inv.Email, "role": string(inv.Role)}
}

// CreateInvitation invites email to the organization with roleName (spec
// §6.1). The caller needs org.members.manage and a role that can grant the
// invited one; the organization must be active. The token is random, stored
// as its SHA-256, returned here once and emailed once: the email.send job
// is inserted in the invitation's transaction, with the
// <dashboard>/invitations/accept?token=… link. A pending invitation of the
// same address that has expired without the sweep noticing yet is expired
// first.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotCreateInvitations,
// *OrgNotActiveError, ErrInvalidInvitationRole, ErrCannotInviteRole,
// *ValidationError (email), ErrAlreadyMember, ErrInvitationExists.
func (s *Service) CreateInvitation(ctx context.Context, a Actor, slug, email, roleName string) (CreatedInvitation, error) {
	if s.queue == nil || s.ring == nil || s.cfg.DashboardBaseURL == "" {
		return CreatedInvitation{}, errors.New("create invitation: email queue, key ring and dashboard URL are required")
	}
	var out CreatedInvitation
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, false, false)
		if err != nil {
			return err
		}
		caller := *ac.membership
		if !caller.Role.Grants(CapOrgMembersManage) {
			return ErrCannotCreateInvitations
		}
		if err := requireActive(ac.org); err != nil {
			return err
		}
		role, err := parseInvitableRole(roleName)
		if err != nil {
			return err
		}
		if !caller.Role.canInvite(role) {
			return ErrCannotInviteRole
		}
		if email, err = normalizeInvitationEmail(email); err != nil {
			return err
		}
		if err := s.refuseMember(ctx, st, ac.org.ID, email); err != nil {
			return err
		}
		now := s.now()
		if err := s.clearStalePending(ctx, tx, ac.org.ID, email, now); err != nil {
			return err
		}
		inviterID := a.UserID
		token := crypto.RandomToken(invitationTokenBytes)
		inv, err := st.InvitationInsert(ctx, Invitation{
			ID: newID(), OrgID: ac.org.ID, Email: email, Role: role, InvitedBy: &inviterID,
			ExpiresAt: now.Add(invitationLifetime), CreatedAt: now,
		}, crypto.HashToken(token))
		if err != nil {
			return err
		}
		users, err := s.loadUsers(ctx, a.UserID)
		if err != nil {
			return err
		}
		inviter := userOrID(users, a.UserID)
		if inviter.Email == "" {
			inviter.Email = a.Email
		}
		if err := s.enqueueInvitationEmail(ctx, tx, ac.org, inv, inviter, token); err != nil {
			return err
		}
		out = CreatedInvitation{Invitation: inv, Inviter: inviter, Token: token}
		return s.record(ctx, tx, orgEvent("user.invited", ac.org, a, events.ActorUser, "invitation", inv.ID.String(),
			map[string]any{"email": inv.Email, "role": string(inv.Role), "invitation_id": inv.ID.String()}))
	})
	if err != nil {
		return CreatedInvitation{}, err
	}
	return out, nil
}

// refuseMember returns ErrAlreadyMember when email is a platform user who
// already belongs to orgID.
func (s *Service) refuseMember(ctx context.Context, st *Store, orgID uuid.UUID, email string) error {
	u, err := s.users.PlatformUserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up invitee: %w", err)
	}
	_, err = st.MembershipGet(ctx, orgID, u.ID)
	switch {
	case err == nil:
		return ErrAlreadyMember
	case errors.Is(err, ErrMemberNotFound):
		return nil
	}
	return err
}

// clearStalePending expires, in tx, a pending invitation of email to orgID
// that is past its expiry, so that a new one can be sent; a live one
// returns ErrInvitationExists.
func (s *Service) clearStalePending(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, email string, now time.Time) error {
	st := s.store.WithTx(tx)
	old, err := st.InvitationPendingForEmail(ctx, orgID, email)
	switch {
	case errors.Is(err, ErrInvitationNotFound):
		return nil
	case err != nil:
		return err
	case old.ExpiresAt.After(now):
		return ErrInvitationExists
	}
	old, err = st.InvitationRespond(ctx, orgID, old.ID, InvitationExpired, now)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, invitationEvent("invitation.expired", old, nil, events.ActorSystem, invitationDetails(old)))
}

// enqueueInvitationEmail inserts, in tx, the email.send job carrying the
// invitation link. The token only travels sealed in the job's data.
func (s *Service) enqueueInvitationEmail(ctx context.Context, tx pgx.Tx, org Organization, inv Invitation, inviter UserInfo, token string) error {
	b := platformmail.Branding{AppName: "AuthOS"}
	if org.BrandColor != nil {
		b.BrandColor = *org.BrandColor
	}
	if org.BrandLogoURL != nil {
		b.LogoURL = *org.BrandLogoURL
	}
	orgID := org.ID
	args, err := jobs.NewEmail(s.ring, &orgID, inv.Email, platformmail.TemplateInvitation, platformmail.InvitationData{
		Branding: b, OrgName: org.Name, InviterEmail: inviter.Email, Role: string(inv.Role),
		Link: s.InvitationAcceptURL(token), ExpiresIn: invitationLifetimeText,
	})
	if err != nil {
		return fmt.Errorf("build invitation email: %w", err)
	}
	if _, err := s.queue.InsertTx(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("enqueue invitation email: %w", err)
	}
	return nil
}

// InvitationAcceptURL is the dashboard page that accepts the invitation of
// token: <dashboard>/invitations/accept?token=….
func (s *Service) InvitationAcceptURL(token string) string {
	return s.cfg.DashboardBaseURL + "/invitations/accept?token=" + url.QueryEscape(token)
}

// ListInvitations returns one page of an organization's invitations of
// every status, newest first, with their inviters; never a token. The
// caller needs org.members.view or org.members.manage (spec §22.1 #24).
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotViewInvitations.
func (s *Service) ListInvitations(ctx context.Context, a Actor, slug string, page, limit int) ([]OrgInvitation, error) {
	ac, err := s.resolve(ctx, s.store, slug, a, false, false)
	if err != nil {
		return nil, err
	}
	if r := ac.membership.Role; !r.Grants(CapOrgMembersView) && !r.Grants(CapOrgMembersManage) {
		return nil, ErrCannotViewInvitations
	}
	list, err := s.store.InvitationListByOrg(ctx, ac.org.ID, limit, pageOffset(page, limit))
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(list))
	for _, inv := range list {
		if inv.InvitedBy != nil {
			ids = append(ids, *inv.InvitedBy)
		}
	}
	users, err := s.loadUsers(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]OrgInvitation, 0, len(list))
	for _, inv := range list {
		oi := OrgInvitation{Invitation: inv}
		if inv.InvitedBy != nil {
			if u, ok := users[*inv.InvitedBy]; ok {
				oi.Inviter = &u
			}
		}
		out = append(out, oi)
	}
	return out, nil
}

// CancelInvitation cancels a pending invitation of the organization (spec
// §6.1 "POST …/invitations/{id}"); the caller needs org.members.manage.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageInvitations,
// ErrInvitationNotFound (absent, of another organization, or answered).
func (s *Service) CancelInvitation(ctx context.Context, a Actor, slug string, id uuid.UUID) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, false, false)
		if err != nil {
			return err
		}
		if !ac.membership.Role.Grants(CapOrgMembersManage) {
			return ErrCannotManageInvitations
		}
		inv, err := st.InvitationRespond(ctx, ac.org.ID, id, InvitationCancelled, s.now())
		if err != nil {
			return err
		}
		return s.record(ctx, tx, invitationEvent("invitation.revoked", inv, &a, events.ActorUser, invitationDetails(inv)))
	})
}

// AcceptInvitationOnBehalf accepts a pending invitation of the
// organization for its invitee, who must already have a platform account
// (spec §6.1 admin accept). The caller needs org.members.manage and a role
// that can grant the invited one.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageInvitations,
// ErrInvitationNotFound, ErrCannotInviteRole, ErrInviteeNotRegistered, and
// those of the acceptance itself (ErrInvitationExpired, *OrgNotActiveError,
// ErrAlreadyMember, *TeamLimitError).
func (s *Service) AcceptInvitationOnBehalf(ctx context.Context, a Actor, slug string, id uuid.UUID) (AcceptedInvitation, error) {
	var out AcceptedInvitation
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, false)
		if err != nil {
			return err
		}
		caller := *ac.membership
		if !caller.Role.Grants(CapOrgMembersManage) {
			return ErrCannotManageInvitations
		}
		inv, err := st.InvitationLock(ctx, ac.org.ID, id)
		if err != nil {
			return err
		}
		if inv.Status != InvitationPending && inv.Status != InvitationExpired {
			return ErrInvitationNotFound
		}
		if !caller.Role.canInvite(inv.Role) {
			return ErrCannotInviteRole
		}
		invitee, err := s.users.PlatformUserByEmail(ctx, inv.Email)
		if errors.Is(err, ErrUserNotFound) {
			return ErrInviteeNotRegistered
		}
		if err != nil {
			return fmt.Errorf("look up invitee: %w", err)
		}
		out, err = s.acceptLocked(ctx, tx, ac.org, inv, invitee, a)
		return err
	})
	return out, err
}

// AcceptInvitationByToken accepts the invitation of an emailed token for
// the caller, who must be the platform user with the invited address
// (spec §6.1, §6.2). The token is only compared through its hash.
// Errors: ErrInvitationNotFound (unknown token, or answered),
// ErrInvitationEmailMismatch, ErrInvitationExpired, *OrgNotActiveError,
// ErrAlreadyMember, *TeamLimitError.
func (s *Service) AcceptInvitationByToken(ctx context.Context, a Actor, token string) (AcceptedInvitation, error) {
	inv, err := s.store.InvitationGetByTokenHash(ctx, crypto.HashToken(token))
	if err != nil {
		return AcceptedInvitation{}, err
	}
	return s.acceptAsInvitee(ctx, a, inv)
}

// AcceptInvitation accepts an invitation by id for the caller, who must be
// the platform user with the invited address. Errors: those of
// AcceptInvitationByToken.
func (s *Service) AcceptInvitation(ctx context.Context, a Actor, id uuid.UUID) (AcceptedInvitation, error) {
	inv, err := s.store.InvitationGet(ctx, id)
	if err != nil {
		return AcceptedInvitation{}, err
	}
	return s.acceptAsInvitee(ctx, a, inv)
}

// acceptAsInvitee checks that the caller is the invitee and accepts.
func (s *Service) acceptAsInvitee(ctx context.Context, a Actor, inv Invitation) (AcceptedInvitation, error) {
	invitee, err := s.checkInvitee(ctx, a, inv)
	if err != nil {
		return AcceptedInvitation{}, err
	}
	var out AcceptedInvitation
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		// Organization first, then invitation: the order every path locks in.
		org, err := st.OrgLockByID(ctx, inv.OrgID)
		if err != nil {
			return err
		}
		locked, err := st.InvitationLock(ctx, org.ID, inv.ID)
		if err != nil {
			return err
		}
		out, err = s.acceptLocked(ctx, tx, org, locked, invitee, a)
		return err
	})
	return out, err
}

// checkInvitee returns the caller's account when the caller is the
// platform user with the invited address (case-insensitively) and the
// invitation can still be answered. Answered invitations are reported as
// absent before anything else, so nothing about them leaks.
func (s *Service) checkInvitee(ctx context.Context, a Actor, inv Invitation) (UserInfo, error) {
	if inv.Status != InvitationPending && inv.Status != InvitationExpired {
		return UserInfo{}, ErrInvitationNotFound
	}
	u, err := s.users.PlatformUserByEmail(ctx, inv.Email)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return UserInfo{}, ErrInvitationEmailMismatch
	case err != nil:
		return UserInfo{}, fmt.Errorf("look up invitee: %w", err)
	case u.ID != a.UserID:
		return UserInfo{}, ErrInvitationEmailMismatch
	}
	return u, nil
}

// expired reports whether inv can no longer be answered because of its age.
func (s *Service) expired(inv Invitation) bool {
	return inv.Status == InvitationExpired || !s.now().Before(inv.ExpiresAt)
}

// acceptLocked accepts inv for invitee in tx; org and inv are locked by the
// caller. It checks the invitation is pending and unexpired, the
// organization active, the invitee not a member yet and the team limit,
// then creates the membership with the invited role and records
// member.added, user.joined and invitation.accepted, caused by a.
func (s *Service) acceptLocked(ctx context.Context, tx pgx.Tx, org Organization, inv Invitation, invitee UserInfo, a Actor) (AcceptedInvitation, error) {
	st := s.store.WithTx(tx)
	switch {
	case inv.Status != InvitationPending && inv.Status != InvitationExpired:
		return AcceptedInvitation{}, ErrInvitationNotFound
	case s.expired(inv):
		return AcceptedInvitation{}, ErrInvitationExpired
	}
	if err := requireActive(org); err != nil {
		return AcceptedInvitation{}, err
	}
	_, err := st.MembershipGet(ctx, org.ID, invitee.ID)
	switch {
	case err == nil:
		return AcceptedInvitation{}, ErrAlreadyMember
	case !errors.Is(err, ErrMemberNotFound):
		return AcceptedInvitation{}, err
	}
	count, err := st.MembershipCount(ctx, org.ID)
	if err != nil {
		return AcceptedInvitation{}, err
	}
	limit, err := s.teamLimit(ctx, org, count)
	if err != nil {
		return AcceptedInvitation{}, err
	}
	if count >= limit.Max {
		return AcceptedInvitation{}, &TeamLimitError{Current: count, Max: limit.Max}
	}
	now := s.now()
	m, err := st.MembershipInsert(ctx, Membership{ID: newID(), OrgID: org.ID, UserID: invitee.ID, Role: inv.Role, CreatedAt: now})
	if errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "memberships_org_user_key" {
		return AcceptedInvitation{}, ErrAlreadyMember
	}
	if err != nil {
		return AcceptedInvitation{}, err
	}
	inv, err = st.InvitationRespond(ctx, org.ID, inv.ID, InvitationAccepted, now)
	if err != nil {
		return AcceptedInvitation{}, err
	}
	email := invitee.Email
	if email == "" {
		email = inv.Email
	}
	userID, invID := invitee.ID.String(), inv.ID.String()
	err = s.record(ctx, tx,
		orgEvent("member.added", org, a, events.ActorUser, "user", userID, map[string]any{
			"user_email": email, "role": string(inv.Role), "invitation_id": invID,
		}),
		orgEvent("user.joined", org, a, events.ActorUser, "user", userID, map[string]any{
			"invitation_id": invID, "user_email": email,
		}),
		invitationEvent("invitation.accepted", inv, &a, events.ActorUser, map[string]any{
			"invitation_id": invID, "email": inv.Email, "role": string(inv.Role), "user_id": userID,
		}))
	if err != nil {
		return AcceptedInvitation{}, err
	}
	return AcceptedInvitation{Invitation: inv, Org: org, Membership: m}, nil
}

// ListMyInvitations returns the caller's pending, unexpired invitations:
// those of the caller's address, case-insensitively, oldest first. A caller
// who is not a platform-level user (an organization's end user) has none.
func (s *Service) ListMyInvitations(ctx context.Context, a Actor) ([]UserInvitation, error) {
	me, err := s.users.GetUser(ctx, a.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return []UserInvitation{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load caller: %w", err)
	}
	platformUser, err := s.users.PlatformUserByEmail(ctx, me.Email)
	if errors.Is(err, ErrUserNotFound) || (err == nil && platformUser.ID != a.UserID) {
		return []UserInvitation{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up caller: %w", err)
	}
	return s.store.InvitationListPendingByEmail(ctx, me.Email, s.now())
}

// DeclineInvitation declines an invitation by id for the caller, who must
// be the platform user with the invited address; it records
// invitation.declined.
// Errors: ErrInvitationNotFound, ErrInvitationEmailMismatch, ErrInvitationExpired.
func (s *Service) DeclineInvitation(ctx context.Context, a Actor, id uuid.UUID) error {
	inv, err := s.store.InvitationGet(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.checkInvitee(ctx, a, inv); err != nil {
		return err
	}
	return s.decline(ctx, inv, &a)
}

// DeclineInvitationByToken declines the invitation of an emailed token
// without authentication: holding the token is the proof (spec §6.1). It
// records invitation.declined with no actor.
// Errors: ErrInvitationNotFound, ErrInvitationExpired.
func (s *Service) DeclineInvitationByToken(ctx context.Context, meta RequestMeta, token string) error {
	inv, err := s.store.InvitationGetByTokenHash(ctx, crypto.HashToken(token))
	if err != nil {
		return err
	}
	if inv.Status != InvitationPending && inv.Status != InvitationExpired {
		return ErrInvitationNotFound
	}
	return s.decline(ctx, inv, &Actor{Meta: meta})
}

func (s *Service) decline(ctx context.Context, inv Invitation, a *Actor) error {
	if s.expired(inv) {
		return ErrInvitationExpired
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		declined, err := s.store.WithTx(tx).InvitationRespond(ctx, inv.OrgID, inv.ID, InvitationDeclined, s.now())
		if err != nil {
			return err
		}
		return s.record(ctx, tx, invitationEvent("invitation.declined", declined, a, events.ActorUser, invitationDetails(declined)))
	})
}

// AcceptPendingInvitationsTx accepts, inside the caller's transaction, every
// pending unexpired invitation of email for the platform user userID: the
// identity module calls it when the user proves the address (email
// verification), which is safer than trusting an address at registration.
// Invitations that cannot be accepted now (team limit reached,
// organization not active, already a member) stay pending; each acceptance
// runs in a savepoint, so a skipped one leaves no trace. It records the
// events of an acceptance by the user. Unexpected errors are returned.
func (s *Service) AcceptPendingInvitationsTx(ctx context.Context, tx pgx.Tx, userID uuid.UUID, email string) error {
	now := s.now()
	list, err := s.store.WithTx(tx).InvitationPendingIDsByEmail(ctx, email, now)
	if err != nil {
		return fmt.Errorf("list pending invitations: %w", err)
	}
	a := Actor{UserID: userID, Email: email}
	invitee := UserInfo{ID: userID, Email: email}
	for _, inv := range list {
		err := db.InTx(ctx, tx, func(sp pgx.Tx) error {
			st := s.store.WithTx(sp)
			org, err := st.OrgLockByID(ctx, inv.OrgID)
			if err != nil {
				return err
			}
			locked, err := st.InvitationLock(ctx, org.ID, inv.ID)
			if err != nil {
				return err
			}
			_, err = s.acceptLocked(ctx, sp, org, locked, invitee, a)
			return err
		})
		var (
			team *TeamLimitError
			gate *OrgNotActiveError
		)
		switch {
		case err == nil:
		case errors.As(err, &team), errors.As(err, &gate), errors.Is(err, ErrAlreadyMember),
			errors.Is(err, ErrInvitationNotFound), errors.Is(err, ErrInvitationExpired), errors.Is(err, ErrOrgNotFound):
			s.logger.InfoContext(ctx, "pending invitation left pending", "invitation_id", inv.ID, "org_id", inv.OrgID, "reason", err.Error())
		default:
			return fmt.Errorf("accept invitation %s: %w", inv.ID, err)
		}
	}
	return nil
}

// expireBatchSize is how many invitations one sweep transaction expires.
const expireBatchSize = 500

// ExpireInvitations marks every pending invitation past its expiry as
// expired and records invitation.expired for each, one transaction per
// batch, and returns how many it expired. It is idempotent: an invitation
// expires once, and answered ones are never touched.
func (s *Service) ExpireInvitations(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			list, err := s.store.WithTx(tx).InvitationExpireBatch(ctx, s.now(), expireBatchSize)
			if err != nil {
				return err
			}
			n = len(list)
			for _, inv := range list {
				if err := s.record(ctx, tx, invitationEvent("invitation.expired", inv, nil, events.ActorSystem, invitationDetails(inv))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("expire invitations: %w", err)
		}
		total += n
		if n < expireBatchSize {
			return total, nil
		}
	}
}
