package token_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

// FuzzVerify feeds arbitrary strings to Verify and UnknownKID: they never
// panic, and every failure is exactly one of ErrInvalid or ErrExpired. Seeds
// live in testdata/fuzz/FuzzVerify; a freshly signed token is added too so
// mutations start from a structurally valid one.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	key := generateKey(f, token.ES256)
	iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: key}, token.WithClock(clock.Now), token.WithCacheSize(256))
	require.NoError(f, err)
	raw, err := iss.Sign(token.TypeManagement, fullClaims(clock.Now()))
	require.NoError(f, err)
	f.Add(raw)

	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := iss.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
		if err == nil {
			require.NotNil(t, claims)
			require.NotEmpty(t, claims.Subject)
			require.Equal(t, token.UseManagement, claims.TokenUse)
			require.Equal(t, testIssuer, claims.Issuer)
		} else {
			require.Nil(t, claims)
			require.NotEqual(t, errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrExpired), err.Error())
		}
		kid, unknown := iss.UnknownKID(raw)
		if unknown {
			require.NotEmpty(t, kid)
			require.NotEqual(t, key.KID, kid)
		}
	})
}
