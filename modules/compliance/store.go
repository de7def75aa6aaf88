package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// DBTX is a pool or a transaction.
type DBTX = db.DBTX

// Store reads and writes the audit tables.
type Store struct{ db DBTX }

// NewStore returns a store on a pool or transaction.
func NewStore(d DBTX) *Store { return &Store{db: d} }

// WithTx returns a store bound to tx.
func (s *Store) WithTx(tx pgx.Tx) *Store { return &Store{db: tx} }

func detailsJSON(d map[string]any) ([]byte, error) {
	if d == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode details: %w", err)
	}
	return b, nil
}

// InsertOrganizationAudit writes one organization_audit_log row.
func (s *Store) InsertOrganizationAudit(ctx context.Context, id uuid.UUID, e events.Event) error {
	details, err := detailsJSON(e.Details)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO organization_audit_log
			(id, org_id, actor_user_id, actor_type, action, target_type, target_id, details, ip_address, user_agent, success, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	_, err = s.db.Exec(ctx, q, id, *e.OrgID, e.ActorID, string(e.ActorType), e.Type, e.TargetType, e.TargetID,
		details, e.IP, truncate(e.UserAgent, 512), e.Succeeded(), e.OccurredAt.UTC())
	return db.MapError(err)
}

// InsertPlatformAudit writes one platform_audit_log row.
func (s *Store) InsertPlatformAudit(ctx context.Context, id uuid.UUID, e events.Event) error {
	details, err := detailsJSON(e.Details)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO platform_audit_log
			(id, platform_owner_id, action, target_type, target_id, metadata, ip_address, user_agent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err = s.db.Exec(ctx, q, id, e.ActorID, e.Type, e.TargetType, e.TargetID, details, e.IP, truncate(e.UserAgent, 512), e.OccurredAt.UTC())
	return db.MapError(err)
}

// AuditEntry is one stored audit row of either stream.
type AuditEntry struct {
	ID         uuid.UUID
	OrgID      *uuid.UUID
	ActorID    *uuid.UUID
	ActorType  string
	Action     string
	TargetType string
	TargetID   string
	Details    map[string]any
	IP         string
	UserAgent  string
	Success    bool
	CreatedAt  time.Time
}

// ListOrganizationAudit returns an organization's newest audit rows, optionally filtered by action.
func (s *Store) ListOrganizationAudit(ctx context.Context, orgID uuid.UUID, action string, limit int) ([]AuditEntry, error) {
	const q = `
		SELECT id, org_id, actor_user_id, actor_type, action, target_type, target_id, details, ip_address, user_agent, success, created_at
		FROM organization_audit_log
		WHERE org_id = $1 AND ($2 = '' OR action = $2)
		ORDER BY created_at DESC, id DESC
		LIMIT $3`
	rows, err := s.db.Query(ctx, q, orgID, action, limit)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var a AuditEntry
		var raw []byte
		err := row.Scan(&a.ID, &a.OrgID, &a.ActorID, &a.ActorType, &a.Action, &a.TargetType, &a.TargetID, &raw, &a.IP, &a.UserAgent, &a.Success, &a.CreatedAt)
		if err == nil {
			err = json.Unmarshal(raw, &a.Details)
		}
		return a, err
	})
}

// ListPlatformAudit returns the newest platform audit rows, optionally filtered by action.
func (s *Store) ListPlatformAudit(ctx context.Context, action string, limit int) ([]AuditEntry, error) {
	const q = `
		SELECT id, platform_owner_id, action, target_type, target_id, metadata, ip_address, user_agent, created_at
		FROM platform_audit_log
		WHERE ($1 = '' OR action = $1)
		ORDER BY created_at DESC, id DESC
		LIMIT $2`
	rows, err := s.db.Query(ctx, q, action, limit)
	if err != nil {
		return nil, db.MapError(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		a := AuditEntry{Success: true, ActorType: string(events.ActorPlatformOwner)}
		var raw []byte
		err := row.Scan(&a.ID, &a.ActorID, &a.Action, &a.TargetType, &a.TargetID, &raw, &a.IP, &a.UserAgent, &a.CreatedAt)
		if err == nil {
			err = json.Unmarshal(raw, &a.Details)
		}
		return a, err
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
