// Package events defines the domain-event contract shared by every module.
//
// A module records what happened with a Recorder inside the same database
// transaction as the change itself, so an event exists exactly when the change
// committed. The compliance module implements Recorder: it writes the audit
// rows and (later) fans the event out to webhooks. Nothing is audited or sent
// by a side path.
package events

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ActorType says who caused an event.
type ActorType string

// Actor types.
const (
	ActorUser          ActorType = "user"
	ActorPlatformOwner ActorType = "platform_owner"
	ActorAPIKey        ActorType = "api_key"
	ActorSCIM          ActorType = "scim"
	ActorSystem        ActorType = "system"
)

// Stream selects the audit trail an event is written to. Most events belong
// to exactly one stream; the zero value lets the Recorder decide from the
// event's fields (an OrgID means the organization stream).
type Stream string

// Audit streams (spec §11, §12.2, §12.3).
const (
	StreamAuto         Stream = ""
	StreamOrganization Stream = "organization"
	StreamPlatform     Stream = "platform"
)

// Event is one thing that happened, in the vocabulary of the Audit Events
// Reference (spec §12). Type is the literal action name, e.g. "org.created"
// or "approve_organization".
type Event struct {
	Type       string
	Stream     Stream
	OrgID      *uuid.UUID
	ActorID    *uuid.UUID
	ActorType  ActorType
	TargetType string
	TargetID   string
	IP         string
	UserAgent  string
	// Success is false for recorded failures (a failed login, a refused
	// action). Nil means true.
	Success *bool
	Details map[string]any
	// OccurredAt defaults to the recorder's clock when zero.
	OccurredAt time.Time
}

// Succeeded reports the event's outcome, treating an unset Success as true.
func (e Event) Succeeded() bool { return e.Success == nil || *e.Success }

// Recorder records events inside the caller's transaction. Implementations
// must not commit or roll back tx, and must fail (so the caller rolls back)
// rather than drop an event.
type Recorder interface {
	Record(ctx context.Context, tx pgx.Tx, e Event) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, tx pgx.Tx, e Event) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, tx pgx.Tx, e Event) error { return f(ctx, tx, e) }
