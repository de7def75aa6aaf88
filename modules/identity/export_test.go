package identity

import (
	"context"
	"net/http"

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

// SetHTTPClient replaces the client that talks to the OAuth providers
// (Deps.HTTPClient), so tests can reach a fake provider on loopback. Call
// it before the first request.
func (m *Module) SetHTTPClient(c *http.Client) { m.svc.httpClient = c }

// ProviderTokenAD is the associated data a provider token of an identity is
// encrypted with (kind is "access" or "refresh").
func ProviderTokenAD(userID uuid.UUID, provider string, orgID, serviceID *uuid.UUID, kind string) string {
	return string(providerTokenAD(userID, provider, orgID, serviceID, kind))
}

// OAuthStateLifetime, DeviceCodeLifetime and PreauthLifetime are the flows'
// lifetimes; tests step past them with the fake clock.
const (
	OAuthStateLifetime = stateLifetime
	DeviceCodeLifetime = deviceCodeLifetime
	PreauthLifetime    = preauthLifetime
)
