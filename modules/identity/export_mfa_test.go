package identity

import (
	"context"

	"github.com/google/uuid"
)

// Test-only access to the second-factor primitives that the login step-up
// uses, for the external identity_test package.

// VerifySecondFactor runs verifySecondFactor for the user with userID.
func (m *Module) VerifySecondFactor(ctx context.Context, userID uuid.UUID, orgID *uuid.UUID, code string, meta RequestMeta) (string, error) {
	u, err := NewStore(m.svc.pool).UserGetByID(ctx, userID)
	if err != nil {
		return "", err
	}
	return m.svc.verifySecondFactor(ctx, u, orgID, code, meta)
}

// MFAEnabled runs mfaEnabled.
func (m *Module) MFAEnabled(ctx context.Context, userID uuid.UUID) (bool, error) {
	return m.svc.mfaEnabled(ctx, userID)
}

// TOTPSecretAD is the associated data a user's TOTP secret is sealed with.
func TOTPSecretAD(userID uuid.UUID) []byte { return totpAD(userID) }

// The second-factor lockout parameters.
const (
	MFAMaxFailures  = mfaMaxFailures
	MFALockDuration = mfaLockDuration
)
