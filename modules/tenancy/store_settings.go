package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// The organization settings that reach outside AuthOS: SMTP (spec §4.3)
// and the custom domain (§4.4). They are columns of organizations; these
// statements read and write only them, so the organization row type stays
// free of secrets.

// smtpRow is an organization's stored SMTP settings. Host is nil when none
// are configured; the password is ciphertext under KeyID.
type smtpRow struct {
	Host              *string
	Port              *int
	Username          *string
	PasswordEncrypted []byte
	KeyID             *string
	FromEmail         *string
	FromName          *string
}

// OrgSMTPGet returns an organization's stored SMTP settings, or
// ErrOrgNotFound.
func (s *Store) OrgSMTPGet(ctx context.Context, orgID uuid.UUID) (smtpRow, error) {
	var r smtpRow
	err := s.db.QueryRow(ctx, `SELECT smtp_host, smtp_port, smtp_username, smtp_password_encrypted, smtp_encryption_key_id,
			smtp_from_email, smtp_from_name
		FROM organizations WHERE id = $1`, orgID).
		Scan(&r.Host, &r.Port, &r.Username, &r.PasswordEncrypted, &r.KeyID, &r.FromEmail, &r.FromName)
	return r, mapOrgErr(err)
}

// OrgSetSMTP overwrites an organization's SMTP settings; a nil Host clears
// them all. Callers lock the row first.
func (s *Store) OrgSetSMTP(ctx context.Context, orgID uuid.UUID, r smtpRow, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE organizations SET smtp_host = $2, smtp_port = $3, smtp_username = $4,
			smtp_password_encrypted = $5, smtp_encryption_key_id = $6, smtp_from_email = $7, smtp_from_name = $8, updated_at = $9
		WHERE id = $1`, orgID, r.Host, r.Port, r.Username, r.PasswordEncrypted, r.KeyID, r.FromEmail, r.FromName, now)
	if err != nil {
		return mapOrgErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrOrgNotFound
	}
	return nil
}

// domainRow is an organization's custom domain and its verification state.
type domainRow struct {
	Domain     *string
	Token      *string
	Verified   bool
	VerifiedAt *time.Time
	Method     *string // "dns" or "http" once verified
	Failures   int     // consecutive failed re-checks of a verified domain
	CheckedAt  *time.Time
}

const domainColumns = `custom_domain, domain_verification_token, domain_verified, domain_verified_at,
	domain_verification_method, domain_check_failures, domain_checked_at`

func scanDomain(row pgx.Row) (domainRow, error) {
	var d domainRow
	err := row.Scan(&d.Domain, &d.Token, &d.Verified, &d.VerifiedAt, &d.Method, &d.Failures, &d.CheckedAt)
	return d, mapDomainErr(err)
}

// mapDomainErr maps the custom-domain uniqueness violation to
// ErrDomainTaken, and the rest as organization errors.
func mapDomainErr(err error) error {
	mapped := db.MapError(err)
	if errors.Is(mapped, db.ErrUnique) && db.ConstraintName(mapped) == "organizations_custom_domain_key" {
		return ErrDomainTaken
	}
	return mapOrgErr(err)
}

// OrgDomainGet returns an organization's domain state, or ErrOrgNotFound.
func (s *Store) OrgDomainGet(ctx context.Context, orgID uuid.UUID) (domainRow, error) {
	return scanDomain(s.db.QueryRow(ctx, `SELECT `+domainColumns+` FROM organizations WHERE id = $1`, orgID))
}

// OrgSetDomain gives an organization a new, unverified custom domain with
// its verification token; a nil domain (and token) removes it. A domain
// another organization uses returns ErrDomainTaken. Callers lock the row
// first.
func (s *Store) OrgSetDomain(ctx context.Context, orgID uuid.UUID, domain, token *string, now time.Time) (domainRow, error) {
	return scanDomain(s.db.QueryRow(ctx, `UPDATE organizations SET custom_domain = $2, domain_verification_token = $3,
			domain_verified = false, domain_verified_at = NULL, domain_verification_method = NULL,
			domain_check_failures = 0, domain_checked_at = NULL, updated_at = $4
		WHERE id = $1
		RETURNING `+domainColumns, orgID, domain, token, now))
}

// OrgMarkDomainVerified marks the organization's domain verified by method
// ("dns" or "http") and starts its re-check schedule. Callers lock the row
// first.
func (s *Store) OrgMarkDomainVerified(ctx context.Context, orgID uuid.UUID, method string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE organizations SET domain_verified = true, domain_verified_at = $2,
			domain_verification_method = $3, domain_check_failures = 0, domain_checked_at = $2, updated_at = $2
		WHERE id = $1 AND custom_domain IS NOT NULL`, orgID, now, method)
	if err != nil {
		return mapOrgErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoCustomDomain
	}
	return nil
}

// dueDomain is a verified domain whose periodic re-check is due.
type dueDomain struct {
	OrgID  uuid.UUID
	Domain string
	Token  string
}

// DomainsClaimDue claims up to limit verified domains last checked at or
// before cutoff (never checked first), stamping them checked at now so that
// a concurrent run skips them. The checks run after this statement commits:
// no transaction stays open across the network calls.
func (s *Store) DomainsClaimDue(ctx context.Context, cutoff, now time.Time, limit int) ([]dueDomain, error) {
	rows, err := s.db.Query(ctx, `UPDATE organizations o SET domain_checked_at = $2
		WHERE o.id IN (
			SELECT id FROM organizations
			WHERE domain_verified AND (domain_checked_at IS NULL OR domain_checked_at <= $1)
			ORDER BY domain_checked_at NULLS FIRST, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED)
		RETURNING o.id, o.custom_domain, o.domain_verification_token`, cutoff, now, limit)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (dueDomain, error) {
		var d dueDomain
		err := r.Scan(&d.OrgID, &d.Domain, &d.Token)
		return d, err
	})
}

// OrgLockDomain locks an organization's row and returns its domain state.
func (s *Store) OrgLockDomain(ctx context.Context, orgID uuid.UUID) (domainRow, error) {
	return scanDomain(s.db.QueryRow(ctx, `SELECT `+domainColumns+` FROM organizations WHERE id = $1 FOR UPDATE`, orgID))
}

// OrgSetDomainCheckFailures records the consecutive failed re-checks of a
// verified domain; lost also marks it unverified (and resets the count).
// Callers lock the row first.
func (s *Store) OrgSetDomainCheckFailures(ctx context.Context, orgID uuid.UUID, failures int, lost bool, now time.Time) error {
	q := `UPDATE organizations SET domain_check_failures = $2 WHERE id = $1`
	args := []any{orgID, failures}
	if lost {
		q = `UPDATE organizations SET domain_verified = false, domain_verified_at = NULL, domain_verification_method = NULL,
			domain_check_failures = 0, updated_at = $2 WHERE id = $1`
		args = []any{orgID, now}
	}
	_, err := s.db.Exec(ctx, q, args...)
	return mapOrgErr(err)
}

// VerifiedDomains returns the verified custom domains of active
// organizations: the origins dynamic CORS allows.
func (s *Store) VerifiedDomains(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT custom_domain FROM organizations
		WHERE domain_verified AND custom_domain IS NOT NULL AND status = 'active'`)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
