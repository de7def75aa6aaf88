package identity

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// Test-only access to the module's internals, for the external identity_test
// package.

// IssueSession starts a platform session for the user as a login by method
// (e.g. "github") would, so tests can act as accounts that have no password.
func (m *Module) IssueSession(ctx context.Context, userID uuid.UUID, method string) (Tokens, error) {
	u, err := NewStore(m.svc.pool).UserGetByID(ctx, userID)
	if err != nil {
		return Tokens{}, err
	}
	return m.svc.issueSession(ctx, u, Scope{}, method, RequestMeta{})
}

// SendResetWorker returns the identity.send_password_reset worker.
func (m *Module) SendResetWorker() river.Worker[SendPasswordResetArgs] {
	return &sendResetWorker{svc: m.svc}
}

// ResendVerificationWorker returns the identity.resend_verification worker.
func (m *Module) ResendVerificationWorker() river.Worker[ResendVerificationArgs] {
	return &resendVerificationWorker{svc: m.svc}
}

// SigningKeyAD is the associated data a signing key's private half is
// sealed with.
func SigningKeyAD(kid string) []byte { return keyAD(kid) }

// DefaultRefreshGrace is the window in which replaying a rotated refresh
// token counts as a lost race rather than reuse. It is not configurable
// through Config; tests step past it with the fake clock.
const DefaultRefreshGrace = defaultRefreshGrace
