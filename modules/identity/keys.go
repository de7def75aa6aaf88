package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
)

// KeyConfig is how signing keys are created or imported (JWT_* settings).
type KeyConfig struct {
	Algorithm string // ES256 or RS256
	// ImportPrivatePEM and ImportKID import an operator-provided key as the
	// first active key instead of generating one.
	ImportPrivatePEM []byte
	ImportKID        string
	// PreviousPublic are extra verification-only keys (JWT_PREVIOUS_PUBLIC_KEYS_JSON).
	PreviousPublic []token.Key
	// TokenLifetime bounds how long a rotated-out key must keep verifying.
	TokenLifetime time.Duration
}

// ParsePreviousPublicKeys decodes JWT_PREVIOUS_PUBLIC_KEYS_JSON ({kid: base64-PEM}).
func ParsePreviousPublicKeys(raw string) ([]token.Key, error) {
	if raw == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("JWT_PREVIOUS_PUBLIC_KEYS_JSON: %w", err)
	}
	if len(m) > 10 {
		return nil, errors.New("JWT_PREVIOUS_PUBLIC_KEYS_JSON: at most 10 keys")
	}
	keys := make([]token.Key, 0, len(m))
	for kid, b64 := range m {
		pemBytes, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("JWT_PREVIOUS_PUBLIC_KEYS_JSON[%s]: %w", kid, err)
		}
		k, err := token.ParsePublicKeyPEM(pemBytes, kid)
		if err != nil {
			return nil, fmt.Errorf("JWT_PREVIOUS_PUBLIC_KEYS_JSON[%s]: %w", kid, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// KeyManager keeps the issuer's key set in sync with jwt_signing_keys: it
// creates the first key, reloads after another replica or `authos keys
// rotate` changed the set, and rotates.
type KeyManager struct {
	pool    *pgxpool.Pool
	ring    *crypto.KeyRing
	cfg     KeyConfig
	issuer  *token.Issuer
	logger  *slog.Logger
	nowFunc func() time.Time

	mu         sync.Mutex
	lastReload time.Time
}

func keyAD(kid string) []byte { return []byte("jwt_signing_keys:" + kid) }

// loadKeySet reads the stored keys, creating the first one when there is none.
func (m *KeyManager) loadKeySet(ctx context.Context) (token.KeySet, error) {
	store := NewStore(m.pool)
	stored, err := store.KeyList(ctx)
	if err != nil {
		return token.KeySet{}, err
	}
	if len(stored) == 0 || stored[0].Status != "active" {
		if err := m.createFirstKey(ctx); err != nil {
			return token.KeySet{}, err
		}
		if stored, err = store.KeyList(ctx); err != nil {
			return token.KeySet{}, err
		}
	}
	var set token.KeySet
	cutoff := m.nowFunc().Add(-m.cfg.TokenLifetime - time.Minute)
	for i, sk := range stored {
		if sk.Status == "previous" && sk.RotatedOutAt != nil && sk.RotatedOutAt.Before(cutoff) {
			continue // every token it signed has expired
		}
		if i == 0 {
			priv, err := m.ring.Decrypt(sk.PrivateEnc, sk.EncKeyID, keyAD(sk.KID))
			if err != nil {
				return set, fmt.Errorf("decrypt signing key %s: %w", sk.KID, err)
			}
			k, err := token.ParsePrivateKeyPEM(priv, sk.KID)
			if err != nil {
				return set, fmt.Errorf("parse signing key %s: %w", sk.KID, err)
			}
			set.Active = k
			continue
		}
		k, err := token.ParsePublicKeyPEM([]byte(sk.PublicPEM), sk.KID)
		if err != nil {
			return set, fmt.Errorf("parse public key %s: %w", sk.KID, err)
		}
		set.Previous = append(set.Previous, k)
	}
	set.Previous = append(set.Previous, m.cfg.PreviousPublic...)
	return set, nil
}

func (m *KeyManager) createFirstKey(ctx context.Context) error {
	var k token.Key
	var err error
	if len(m.cfg.ImportPrivatePEM) > 0 {
		k, err = token.ParsePrivateKeyPEM(m.cfg.ImportPrivatePEM, m.cfg.ImportKID)
	} else {
		k, err = token.GenerateKey(token.Algorithm(m.cfg.Algorithm))
	}
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	sk, err := m.seal(k)
	if err != nil {
		return err
	}
	err = NewStore(m.pool).KeyInsertActive(ctx, sk)
	if errors.Is(err, db.ErrUnique) {
		return nil // another replica created it first
	}
	if err == nil {
		m.logger.Info("created the first JWT signing key", "kid", k.KID, "algorithm", string(k.Algorithm))
	}
	return err
}

func (m *KeyManager) seal(k token.Key) (StoredKey, error) {
	priv, err := k.PrivatePEM()
	if err != nil {
		return StoredKey{}, err
	}
	pub, err := k.PublicPEM()
	if err != nil {
		return StoredKey{}, err
	}
	enc, encID, err := m.ring.Encrypt(priv, keyAD(k.KID))
	if err != nil {
		return StoredKey{}, fmt.Errorf("encrypt signing key: %w", err)
	}
	return StoredKey{KID: k.KID, Algorithm: string(k.Algorithm), PrivateEnc: enc, EncKeyID: encID, PublicPEM: string(pub), CreatedAt: m.nowFunc()}, nil
}

// Reload re-reads the key set into the issuer.
func (m *KeyManager) Reload(ctx context.Context) error {
	set, err := m.loadKeySet(ctx)
	if err != nil {
		return err
	}
	if err := m.issuer.SetKeys(set); err != nil {
		return err
	}
	m.mu.Lock()
	m.lastReload = m.nowFunc()
	m.mu.Unlock()
	return nil
}

// ReloadIfStale reloads at most once per minGap; used when a token names a
// kid this process does not know yet.
func (m *KeyManager) ReloadIfStale(ctx context.Context, minGap time.Duration) {
	m.mu.Lock()
	stale := m.nowFunc().Sub(m.lastReload) >= minGap
	m.mu.Unlock()
	if stale {
		if err := m.Reload(ctx); err != nil {
			m.logger.Warn("reload signing keys", "error", err)
		}
	}
}

// RunReloader reloads the key set every interval until ctx ends, so every
// replica picks up a rotation without a restart.
func (m *KeyManager) RunReloader(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Reload(ctx); err != nil {
				m.logger.Warn("reload signing keys", "error", err)
			}
		}
	}
}

// Rotate makes a new active key; the previous active key keeps verifying
// (and stays in the JWKS) until every token it signed has expired.
func (m *KeyManager) Rotate(ctx context.Context) (string, error) {
	k, err := token.GenerateKey(token.Algorithm(m.cfg.Algorithm))
	if err != nil {
		return "", err
	}
	sk, err := m.seal(k)
	if err != nil {
		return "", err
	}
	now := m.nowFunc()
	err = db.InTx(ctx, m.pool, func(tx pgx.Tx) error {
		s := NewStore(tx)
		if _, err := tx.Exec(ctx, "LOCK TABLE jwt_signing_keys IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		if _, err := s.KeyRetireBefore(ctx, now.Add(-m.cfg.TokenLifetime-time.Minute)); err != nil {
			return err
		}
		if err := s.KeyDemoteActive(ctx, now); err != nil {
			return err
		}
		return s.KeyInsertActive(ctx, sk)
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	return k.KID, m.Reload(ctx)
}
