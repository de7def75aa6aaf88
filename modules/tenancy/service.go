package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/events"
)

// Service holds the tenancy business rules. Every method takes the caller
// as an Actor and checks authorization itself: the HTTP layer only
// authenticates.
type Service struct {
	pool     *pgxpool.Pool
	store    *Store
	recorder events.Recorder
	users    Users
	sessions Sessions
	logger   *slog.Logger
	nowFunc  func() time.Time
	cfg      Config
	queue    *jobs.Client    // nil: invitations cannot be created
	ring     *crypto.KeyRing // seals email data
	apiKeys  *apiKeyCache    // X-Api-Key verification cache; see apikey_auth.go
}

func (s *Service) now() time.Time { return s.nowFunc().UTC() }

// ---- validation

var slugPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{3,50}$`)

// reservedSlugs may not name an organization (spec §4.1).
func reservedSlugs() []string {
	return []string{"api", "www", "mail", "ftp", "admin", "root", "support", "help", "docs", "blog", "news",
		"status", "health", "ping", "cdn", "assets", "static"}
}

// validateSlug checks the slug rules: 3 to 50 of [A-Za-z0-9_-], not a
// reserved word in any case.
func validateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return &ValidationError{Field: "body.slug", Message: "Slug must be 3 to 50 characters of letters, digits, '-' and '_'"}
	}
	if slices.Contains(reservedSlugs(), strings.ToLower(slug)) {
		return &ValidationError{Field: "body.slug", Message: "This slug is reserved"}
	}
	return nil
}

// normalizeName trims a name and checks its length (2 to 100 characters).
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 2 || n > 100 {
		return "", &ValidationError{Field: "body.name", Message: "Name must be 2 to 100 characters"}
	}
	return name, nil
}

// ---- access

// access is the caller's standing in an organization: a membership, or
// none when a platform owner acts without one.
type access struct {
	org        Organization
	membership *Membership
}

// actorType is how the caller appears in the organization's audit trail.
func (ac access) actorType() events.ActorType {
	if ac.membership == nil {
		return events.ActorPlatformOwner
	}
	return events.ActorUser
}

// resolve loads the organization named by slug (locking it when lock) and
// the caller's membership. Non-members get ErrNotMember unless allowPO and
// the caller is a platform owner.
func (s *Service) resolve(ctx context.Context, st *Store, slug string, a Actor, lock, allowPO bool) (access, error) {
	var org Organization
	var err error
	if lock {
		org, err = st.OrgLockBySlug(ctx, slug)
	} else {
		org, err = st.OrgGetBySlug(ctx, slug)
	}
	if err != nil {
		return access{}, err
	}
	m, err := st.MembershipGet(ctx, org.ID, a.UserID)
	switch {
	case errors.Is(err, ErrMemberNotFound):
		if allowPO && a.IsPlatformOwner {
			return access{org: org}, nil
		}
		return access{}, ErrNotMember
	case err != nil:
		return access{}, err
	}
	return access{org: org, membership: &m}, nil
}

// requireActive is the active-organization gate (spec §1.6).
func requireActive(o Organization) error {
	if o.Status != StatusActive {
		return &OrgNotActiveError{Status: o.Status}
	}
	return nil
}

// ---- events

// orgEvent builds an organization-stream event caused by the caller.
func orgEvent(typ string, org Organization, a Actor, actorType events.ActorType, targetType, targetID string, details map[string]any) events.Event {
	id := a.UserID
	orgID := org.ID
	return events.Event{
		Type: typ, Stream: events.StreamOrganization, OrgID: &orgID, ActorID: &id, ActorType: actorType,
		TargetType: targetType, TargetID: targetID, IP: a.Meta.IP, UserAgent: a.Meta.UserAgent, Details: details,
	}
}

// platformEvent builds a platform-stream event caused by a platform owner.
func platformEvent(typ string, a Actor, targetType, targetID string, details map[string]any) events.Event {
	id := a.UserID
	return events.Event{
		Type: typ, Stream: events.StreamPlatform, ActorID: &id, ActorType: events.ActorPlatformOwner,
		TargetType: targetType, TargetID: targetID, IP: a.Meta.IP, UserAgent: a.Meta.UserAgent, Details: details,
	}
}

// record writes events in tx, in order.
func (s *Service) record(ctx context.Context, tx pgx.Tx, evs ...events.Event) error {
	for _, e := range evs {
		if err := s.recorder.Record(ctx, tx, e); err != nil {
			return fmt.Errorf("record %s: %w", e.Type, err)
		}
	}
	return nil
}

// loadUsers returns the live users among ids; a missing user is absent
// from the map.
func (s *Service) loadUsers(ctx context.Context, ids ...uuid.UUID) (map[uuid.UUID]UserInfo, error) {
	users, err := s.users.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	if users == nil {
		users = map[uuid.UUID]UserInfo{}
	}
	return users, nil
}

// ---- pagination

// pageOffset turns a 1-based page and a limit into an offset.
func pageOffset(page, limit int) int {
	if page < 1 {
		page = 1
	}
	return (page - 1) * limit
}
