package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// Invitation statements. The token is only ever looked up by its hash; no
// statement returns the hash.

const invitationColumns = `i.id, i.org_id, i.email, i.role, i.invited_by, i.status, i.expires_at, i.created_at, i.responded_at`

func invitationDest(inv *Invitation) []any {
	return []any{&inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &inv.InvitedBy, &inv.Status, &inv.ExpiresAt, &inv.CreatedAt, &inv.RespondedAt}
}

func scanInvitation(row pgx.Row) (Invitation, error) {
	var inv Invitation
	err := row.Scan(invitationDest(&inv)...)
	return inv, mapInvitationErr(err)
}

func collectInvitations(rows pgx.Rows, err error) ([]Invitation, error) {
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvitation(r) })
}

func mapInvitationErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrInvitationNotFound
	case errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "organization_invitations_one_pending_key":
		return ErrInvitationExists
	case errors.Is(err, db.ErrForeignKey) && db.ConstraintName(err) == "organization_invitations_org_id_fkey":
		return ErrOrgNotFound
	}
	return err
}

// InvitationInsert stores a new pending invitation with the hash of its
// token. A pending invitation of the same address (in any case) to the
// same organization returns ErrInvitationExists.
func (s *Store) InvitationInsert(ctx context.Context, inv Invitation, tokenHash string) (Invitation, error) {
	const q = `INSERT INTO organization_invitations AS i (id, org_id, email, role, invited_by, status, token_hash, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)
		RETURNING ` + invitationColumns
	return scanInvitation(s.db.QueryRow(ctx, q, inv.ID, inv.OrgID, inv.Email, inv.Role, inv.InvitedBy, tokenHash, inv.ExpiresAt, inv.CreatedAt))
}

// InvitationGet returns an invitation by id, whatever its organization and
// status, or ErrInvitationNotFound. The invitee's endpoints use it; the
// caller then proves to be the invitee.
func (s *Store) InvitationGet(ctx context.Context, id uuid.UUID) (Invitation, error) {
	return scanInvitation(s.db.QueryRow(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i WHERE i.id = $1`, id))
}

// InvitationGetByTokenHash returns the invitation whose token hashes to
// tokenHash, or ErrInvitationNotFound.
func (s *Store) InvitationGetByTokenHash(ctx context.Context, tokenHash string) (Invitation, error) {
	return scanInvitation(s.db.QueryRow(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i WHERE i.token_hash = $1`, tokenHash))
}

// InvitationLock returns an invitation of orgID and locks its row until
// the transaction ends, or ErrInvitationNotFound.
func (s *Store) InvitationLock(ctx context.Context, orgID, id uuid.UUID) (Invitation, error) {
	return scanInvitation(s.db.QueryRow(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i
		WHERE i.id = $1 AND i.org_id = $2 FOR UPDATE`, id, orgID))
}

// InvitationPendingForEmail returns the pending invitation of email
// (case-insensitively) to orgID, or ErrInvitationNotFound.
func (s *Store) InvitationPendingForEmail(ctx context.Context, orgID uuid.UUID, email string) (Invitation, error) {
	return scanInvitation(s.db.QueryRow(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i
		WHERE i.org_id = $1 AND lower(i.email) = lower($2) AND i.status = 'pending'`, orgID, email))
}

// InvitationListByOrg returns one page of an organization's invitations of
// every status, newest first.
func (s *Store) InvitationListByOrg(ctx context.Context, orgID uuid.UUID, limit, offset int) ([]Invitation, error) {
	return collectInvitations(s.db.Query(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i
		WHERE i.org_id = $1
		ORDER BY i.created_at DESC, i.id DESC LIMIT $2 OFFSET $3`, orgID, limit, offset))
}

// InvitationListPendingByEmail returns the pending invitations of email
// (case-insensitively) that have not expired at now, oldest first, with
// their organization's slug and name.
func (s *Store) InvitationListPendingByEmail(ctx context.Context, email string, now time.Time) ([]UserInvitation, error) {
	const q = `SELECT ` + invitationColumns + `, o.slug, o.name
		FROM organization_invitations i JOIN organizations o ON o.id = i.org_id
		WHERE lower(i.email) = lower($1) AND i.status = 'pending' AND i.expires_at > $2
		ORDER BY i.created_at, i.id`
	rows, err := s.db.Query(ctx, q, email, now)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserInvitation, error) {
		var ui UserInvitation
		err := r.Scan(append(invitationDest(&ui.Invitation), &ui.OrgSlug, &ui.OrgName)...)
		return ui, db.MapError(err)
	})
}

// InvitationPendingIDsByEmail returns the ids and organizations of the
// pending invitations of email (case-insensitively) that have not expired
// at now, ordered by organization then age: the order auto-acceptance
// locks organizations in, so that concurrent acceptances cannot deadlock.
func (s *Store) InvitationPendingIDsByEmail(ctx context.Context, email string, now time.Time) ([]Invitation, error) {
	return collectInvitations(s.db.Query(ctx, `SELECT `+invitationColumns+` FROM organization_invitations i
		WHERE lower(i.email) = lower($1) AND i.status = 'pending' AND i.expires_at > $2
		ORDER BY i.org_id, i.created_at, i.id`, email, now))
}

// InvitationRespond moves a pending invitation of orgID to status at now
// and returns it; an invitation that is not pending (or not there) returns
// ErrInvitationNotFound.
func (s *Store) InvitationRespond(ctx context.Context, orgID, id uuid.UUID, status InvitationStatus, now time.Time) (Invitation, error) {
	const q = `UPDATE organization_invitations AS i SET status = $3, responded_at = $4
		WHERE i.id = $1 AND i.org_id = $2 AND i.status = 'pending'
		RETURNING ` + invitationColumns
	return scanInvitation(s.db.QueryRow(ctx, q, id, orgID, string(status), now))
}

// InvitationExpireBatch marks up to limit pending invitations whose expiry
// is at or before now as expired and returns them. Rows another
// transaction holds are skipped (they are being answered, or will be
// picked up by the next sweep).
func (s *Store) InvitationExpireBatch(ctx context.Context, now time.Time, limit int) ([]Invitation, error) {
	const q = `UPDATE organization_invitations AS i SET status = 'expired', responded_at = $1
		WHERE i.id IN (
			SELECT id FROM organization_invitations
			WHERE status = 'pending' AND expires_at <= $1
			ORDER BY expires_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		RETURNING ` + invitationColumns
	return collectInvitations(s.db.Query(ctx, q, now, limit))
}
