package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authos/authos/platform/db"
)

// DBTX is a pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the tenancy module's SQL. Every statement is parameterised and
// every membership statement names its organization; rows are converted to
// domain types here and never leave this file.
type Store struct{ db DBTX }

// NewStore returns a store on a pool or transaction.
func NewStore(d DBTX) *Store { return &Store{db: d} }

// WithTx returns a store bound to tx.
func (s *Store) WithTx(tx pgx.Tx) *Store { return &Store{db: tx} }

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func mapOrgErr(err error) error {
	err = db.MapError(err)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrOrgNotFound
	case errors.Is(err, db.ErrUnique) && db.ConstraintName(err) == "organizations_slug_key":
		return ErrSlugTaken
	case errors.Is(err, db.ErrForeignKey) && db.ConstraintName(err) == "organizations_tier_id_fkey":
		return ErrTierNotFound
	}
	return err
}

// ---- tiers

const tierColumns = `t.id, t.name, t.display_name, t.default_max_services, t.default_max_users, t.features, t.price_cents, t.currency, t.created_at`

func scanTier(row pgx.Row) (Tier, error) {
	var t Tier
	var features []byte
	if err := row.Scan(&t.ID, &t.Name, &t.DisplayName, &t.DefaultMaxServices, &t.DefaultMaxUsers, &features, &t.PriceCents, &t.Currency, &t.CreatedAt); err != nil {
		return t, err
	}
	if err := json.Unmarshal(features, &t.Features); err != nil {
		return t, fmt.Errorf("decode tier %s features: %w", t.ID, err)
	}
	return t, nil
}

// TierList returns every tier, cheapest first.
func (s *Store) TierList(ctx context.Context) ([]Tier, error) {
	rows, err := s.db.Query(ctx, `SELECT `+tierColumns+` FROM organization_tiers t ORDER BY t.price_cents, t.id`)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tier, error) { return scanTier(r) })
}

// TierGet returns a tier, or ErrTierNotFound.
func (s *Store) TierGet(ctx context.Context, id string) (Tier, error) {
	t, err := scanTier(s.db.QueryRow(ctx, `SELECT `+tierColumns+` FROM organization_tiers t WHERE t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrTierNotFound
	}
	return t, db.MapError(err)
}

// ---- organizations

const orgColumns = `o.id, o.slug, o.name, o.owner_user_id, o.status, o.tier_id, o.max_services, o.max_users,
	o.approved_by, o.approved_at, o.rejected_by, o.rejected_at, o.rejection_reason, o.custom_domain, o.domain_verified,
	o.domain_verification_token, o.brand_logo_url, o.brand_primary_color, o.feature_overrides, o.created_at, o.updated_at`

// orgDest returns the scan destinations of orgColumns; finish decodes what
// needs decoding once the row is scanned.
func orgDest(o *Organization) (dest []any, finish func() error) {
	var overrides []byte
	dest = []any{&o.ID, &o.Slug, &o.Name, &o.OwnerUserID, &o.Status, &o.TierID, &o.MaxServices, &o.MaxUsers,
		&o.ApprovedBy, &o.ApprovedAt, &o.RejectedBy, &o.RejectedAt, &o.RejectionReason, &o.CustomDomain, &o.DomainVerified,
		&o.DomainToken, &o.BrandLogoURL, &o.BrandColor, &overrides, &o.CreatedAt, &o.UpdatedAt}
	return dest, func() error {
		if overrides == nil {
			return nil
		}
		var fo FeatureOverrides
		if err := json.Unmarshal(overrides, &fo); err != nil {
			return fmt.Errorf("decode feature overrides of %s: %w", o.ID, err)
		}
		o.FeatureOverrides = &fo
		return nil
	}
}

func scanOrg(row pgx.Row) (Organization, error) {
	var o Organization
	dest, finish := orgDest(&o)
	if err := row.Scan(dest...); err != nil {
		return o, mapOrgErr(err)
	}
	return o, finish()
}

// OrgInsert creates an organization. A slug already in use (in any case)
// returns ErrSlugTaken.
func (s *Store) OrgInsert(ctx context.Context, o Organization) (Organization, error) {
	const q = `INSERT INTO organizations AS o (id, slug, name, owner_user_id, status, tier_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		RETURNING ` + orgColumns
	return scanOrg(s.db.QueryRow(ctx, q, o.ID, o.Slug, o.Name, o.OwnerUserID, o.Status, o.TierID, o.CreatedAt))
}

// OrgGetBySlug finds an organization by slug, case-insensitively.
func (s *Store) OrgGetBySlug(ctx context.Context, slug string) (Organization, error) {
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE lower(o.slug) = lower($1)`, slug))
}

// OrgGetByID finds an organization by id.
func (s *Store) OrgGetByID(ctx context.Context, id uuid.UUID) (Organization, error) {
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1`, id))
}

// OrgLockByID finds an organization by id and locks its row until the
// transaction ends (read-modify-write).
func (s *Store) OrgLockByID(ctx context.Context, id uuid.UUID) (Organization, error) {
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1 FOR UPDATE`, id))
}

// OrgLockBySlug finds an organization by slug and locks its row.
func (s *Store) OrgLockBySlug(ctx context.Context, slug string) (Organization, error) {
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE lower(o.slug) = lower($1) FOR UPDATE`, slug))
}

// OrgSave writes the columns this module's lifecycle manages (name, owner,
// status, tier and limits, approval and rejection, feature overrides) and
// returns the stored row. Callers lock the row first.
func (s *Store) OrgSave(ctx context.Context, o Organization) (Organization, error) {
	var overrides []byte
	if o.FeatureOverrides != nil {
		b, err := json.Marshal(o.FeatureOverrides)
		if err != nil {
			return o, fmt.Errorf("encode feature overrides: %w", err)
		}
		overrides = b
	}
	const q = `UPDATE organizations AS o SET name = $2, owner_user_id = $3, status = $4, tier_id = $5, max_services = $6,
			max_users = $7, approved_by = $8, approved_at = $9, rejected_by = $10, rejected_at = $11, rejection_reason = $12,
			feature_overrides = $13, updated_at = $14
		WHERE o.id = $1
		RETURNING ` + orgColumns
	return scanOrg(s.db.QueryRow(ctx, q, o.ID, o.Name, o.OwnerUserID, o.Status, o.TierID, o.MaxServices, o.MaxUsers,
		o.ApprovedBy, o.ApprovedAt, o.RejectedBy, o.RejectedAt, o.RejectionReason, overrides, o.UpdatedAt))
}

// OrgSetBranding overwrites an organization's logo URL and primary color
// (nil clears either) and returns the stored row. Callers lock the row
// first.
func (s *Store) OrgSetBranding(ctx context.Context, id uuid.UUID, logoURL, color *string, now time.Time) (Organization, error) {
	const q = `UPDATE organizations AS o SET brand_logo_url = $2, brand_primary_color = $3, updated_at = $4
		WHERE o.id = $1
		RETURNING ` + orgColumns
	return scanOrg(s.db.QueryRow(ctx, q, id, logoURL, color, now))
}

// OrgDelete deletes an organization; every org-owned row cascades.
func (s *Store) OrgDelete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM organizations WHERE id = $1`, id)
	if err != nil {
		return mapOrgErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrOrgNotFound
	}
	return nil
}

// OrgCountOwnedBy counts the organizations userID owns.
func (s *Store) OrgCountOwnedBy(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM organizations WHERE owner_user_id = $1`, userID).Scan(&n)
	return n, db.MapError(err)
}

// summaryQuery selects organizations with their membership and service
// counts and their tier.
const summaryQuery = `SELECT ` + orgColumns + `,
		(SELECT count(*) FROM memberships mc WHERE mc.org_id = o.id),
		(SELECT count(*) FROM services sc WHERE sc.org_id = o.id),
		t.id IS NOT NULL, coalesce(t.id, ''), coalesce(t.name, ''), coalesce(t.display_name, ''),
		coalesce(t.default_max_services, 0), coalesce(t.default_max_users, 0), coalesce(t.features, '{}'::jsonb),
		coalesce(t.price_cents, 0), coalesce(t.currency, ''), coalesce(t.created_at, o.created_at)
	FROM organizations o LEFT JOIN organization_tiers t ON t.id = o.tier_id`

func scanSummary(row pgx.Row) (OrgSummary, error) {
	var sum OrgSummary
	var hasTier bool
	var t Tier
	var features []byte
	dest, finish := orgDest(&sum.Org)
	dest = append(dest, &sum.MembershipCount, &sum.ServiceCount, &hasTier, &t.ID, &t.Name, &t.DisplayName, &t.DefaultMaxServices,
		&t.DefaultMaxUsers, &features, &t.PriceCents, &t.Currency, &t.CreatedAt)
	if err := row.Scan(dest...); err != nil {
		return sum, mapOrgErr(err)
	}
	if err := finish(); err != nil {
		return sum, err
	}
	if hasTier {
		if err := json.Unmarshal(features, &t.Features); err != nil {
			return sum, fmt.Errorf("decode tier %s features: %w", t.ID, err)
		}
		sum.Tier = &t
	}
	return sum, nil
}

// OrgSummaryByID returns an organization with its counts and tier.
func (s *Store) OrgSummaryByID(ctx context.Context, id uuid.UUID) (OrgSummary, error) {
	return scanSummary(s.db.QueryRow(ctx, summaryQuery+` WHERE o.id = $1`, id))
}

// OrgListForUser returns the organizations userID is a member of, in the
// order the memberships were created, optionally filtered by status.
func (s *Store) OrgListForUser(ctx context.Context, userID uuid.UUID, status OrgStatus, limit, offset int) ([]OrgSummary, error) {
	const q = summaryQuery + ` JOIN memberships m ON m.org_id = o.id
		WHERE m.user_id = $1 AND ($2 = '' OR o.status = $2)
		ORDER BY m.created_at, m.id
		LIMIT $3 OFFSET $4`
	rows, err := s.db.Query(ctx, q, userID, string(status), limit, offset)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrgSummary, error) { return scanSummary(r) })
}

// OrgListPlatform returns one page of every organization (newest first)
// with its tier, and the total matching the filter.
func (s *Store) OrgListPlatform(ctx context.Context, f PlatformOrgFilter) ([]OrgSummary, int, error) {
	const where = ` WHERE ($1 = '' OR o.status = $1) AND ($2 = '' OR o.tier_id = $2)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM organizations o`+where, string(f.Status), f.TierID).Scan(&total); err != nil {
		return nil, 0, db.MapError(err)
	}
	rows, err := s.db.Query(ctx, summaryQuery+where+` ORDER BY o.created_at DESC, o.id DESC LIMIT $3 OFFSET $4`,
		string(f.Status), f.TierID, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, db.MapError(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrgSummary, error) { return scanSummary(r) })
	return list, total, err
}

// ---- memberships

const membershipColumns = `id, org_id, user_id, role, created_at`

func scanMembership(row pgx.Row) (Membership, error) {
	var m Membership
	err := row.Scan(&m.ID, &m.OrgID, &m.UserID, &m.Role, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrMemberNotFound
	}
	return m, db.MapError(err)
}

// MembershipInsert adds a member to an organization.
func (s *Store) MembershipInsert(ctx context.Context, m Membership) (Membership, error) {
	const q = `INSERT INTO memberships (id, org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		RETURNING ` + membershipColumns
	return scanMembership(s.db.QueryRow(ctx, q, m.ID, m.OrgID, m.UserID, m.Role, m.CreatedAt))
}

// MembershipGet returns userID's membership in orgID, or ErrMemberNotFound.
func (s *Store) MembershipGet(ctx context.Context, orgID, userID uuid.UUID) (Membership, error) {
	return scanMembership(s.db.QueryRow(ctx, `SELECT `+membershipColumns+` FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID))
}

// MembershipLock returns userID's membership in orgID and locks it.
func (s *Store) MembershipLock(ctx context.Context, orgID, userID uuid.UUID) (Membership, error) {
	return scanMembership(s.db.QueryRow(ctx, `SELECT `+membershipColumns+` FROM memberships WHERE org_id = $1 AND user_id = $2 FOR UPDATE`, orgID, userID))
}

// MembershipList returns one page of an organization's memberships (oldest
// first), optionally of one role, and the total matching.
func (s *Store) MembershipList(ctx context.Context, orgID uuid.UUID, role Role, limit, offset int) ([]Membership, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND ($2 = '' OR role = $2)`, orgID, string(role)).Scan(&total); err != nil {
		return nil, 0, db.MapError(err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+membershipColumns+` FROM memberships
		WHERE org_id = $1 AND ($2 = '' OR role = $2)
		ORDER BY created_at, id LIMIT $3 OFFSET $4`, orgID, string(role), limit, offset)
	if err != nil {
		return nil, 0, db.MapError(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) { return scanMembership(r) })
	return list, total, err
}

// MembershipCount counts an organization's members.
func (s *Store) MembershipCount(ctx context.Context, orgID uuid.UUID) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1`, orgID).Scan(&n)
	return n, db.MapError(err)
}

// MembershipSetRole changes a member's role and returns the membership.
func (s *Store) MembershipSetRole(ctx context.Context, orgID, userID uuid.UUID, role Role, now time.Time) (Membership, error) {
	const q = `UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2 RETURNING ` + membershipColumns
	return scanMembership(s.db.QueryRow(ctx, q, orgID, userID, role, now))
}

// MembershipDelete removes a member from an organization.
func (s *Store) MembershipDelete(ctx context.Context, orgID, userID uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	if err != nil {
		return db.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrMemberNotFound
	}
	return nil
}
