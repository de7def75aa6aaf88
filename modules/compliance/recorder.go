package compliance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/events"
)

// ErrUnknownEventType is returned when an event name is not in the catalogue.
var ErrUnknownEventType = errors.New("unknown event type")

// ErrEventWithoutOrg is returned for an organization-stream event that must
// name its organization but does not.
var ErrEventWithoutOrg = errors.New("organization event without organization id")

// Recorder writes audit rows for domain events inside the caller's
// transaction. It implements events.Recorder.
type Recorder struct {
	catalogue *Catalogue
	store     *Store
	nowFunc   func() time.Time
}

var _ events.Recorder = (*Recorder)(nil)

// Record validates e against the catalogue and writes it to its stream:
// organization events with an OrgID go to organization_audit_log; platform
// events go to platform_audit_log. An organization-stream event without an
// OrgID (a platform-level user logging in, for instance) has no organization
// trail to join and writes no audit row; its other consumers (login events,
// webhooks) are handled by their owners.
func (r *Recorder) Record(ctx context.Context, tx pgx.Tx, e events.Event) error {
	et, ok := r.catalogue.Lookup(e.Type)
	if !ok {
		return fmt.Errorf("record %q: %w", e.Type, ErrUnknownEventType)
	}
	stream := e.Stream
	if stream == events.StreamAuto {
		stream = et.Stream
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = r.nowFunc()
	}
	if e.ActorType == "" {
		e.ActorType = events.ActorUser
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("record %q: %w", e.Type, err)
	}
	s := r.store.WithTx(tx)
	switch stream {
	case events.StreamPlatform:
		if err := s.InsertPlatformAudit(ctx, id, e); err != nil {
			return fmt.Errorf("record %q: %w", e.Type, err)
		}
	case events.StreamOrganization:
		if e.OrgID == nil {
			return nil
		}
		if err := s.InsertOrganizationAudit(ctx, id, e); err != nil {
			return fmt.Errorf("record %q: %w", e.Type, err)
		}
	default:
		return fmt.Errorf("record %q: unknown stream %q", e.Type, stream)
	}
	return nil
}
