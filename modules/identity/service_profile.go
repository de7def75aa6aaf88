package identity

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// Profile is what GET /api/user shows.
type Profile struct {
	User
	Org, Service string
	Permissions  []string
	PendingEmail string
}

// GetProfile returns the caller's profile in the context of its session.
func (s *Service) GetProfile(ctx context.Context, userID uuid.UUID, org, service string) (Profile, error) {
	u, err := NewStore(s.pool).UserGetByID(ctx, userID)
	if err != nil {
		return Profile{}, err
	}
	return Profile{User: u, Org: org, Service: service, Permissions: []string{}}, nil
}

func profileFromActive(a activeSession, org, service string) Profile {
	return Profile{
		User: User{ID: a.UserID, OrgID: a.OrgID, Email: a.Email, IsPlatformOwner: a.IsPlatformOwner, EmailVerifiedAt: a.EmailVerifiedAt, CreatedAt: a.CreatedAt},
		Org:  org, Service: service, Permissions: []string{},
	}
}

// ChangeEmail starts an email change: the new address gets a verification
// link and replaces the old one only once verified, so a typo never locks
// the account out.
func (s *Service) ChangeEmail(ctx context.Context, userID uuid.UUID, newEmail string, meta RequestMeta) (Profile, error) {
	email, err := normalizeEmail(newEmail)
	if err != nil {
		return Profile{}, err
	}
	if !s.cfg.EmailEnabled {
		return Profile{}, ErrEmailDisabled
	}
	var p Profile
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		u, err := st.UserGetByID(ctx, userID)
		if err != nil {
			return err
		}
		p = Profile{User: u, Permissions: []string{}}
		if equalFold(u.Email, email) {
			return nil
		}
		other, err := st.UserGetByEmail(ctx, u.OrgID, email)
		if err == nil && other.ID != u.ID {
			return ErrEmailTaken
		}
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return err
		}
		p.PendingEmail = email
		if err := s.issueVerification(ctx, tx, u, email, Scope{}); err != nil {
			return err
		}
		return s.record(ctx, tx, userEvent("settings.updated", u, Scope{OrgID: u.OrgID}, meta, map[string]any{"field": "email", "pending": true}))
	})
	return p, err
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
