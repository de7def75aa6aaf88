package tenancy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// OAuthProviders are the social providers an organization can bring its
// own OAuth app for (spec §4.3).
func OAuthProviders() []string { return []string{"github", "google", "microsoft"} }

// ErrOAuthCredentialsNotFound: the organization has no credentials for the
// provider.
var ErrOAuthCredentialsNotFound = errors.New("oauth credentials not found for this provider")

// ErrInvalidOAuthProvider: the provider is not github, google or microsoft.
var ErrInvalidOAuthProvider = errors.New("invalid oauth provider")

// OAuthCredentialSummary is what an administrator may read back: never the
// secret.
type OAuthCredentialSummary struct {
	Provider  string
	ClientID  string
	UpdatedAt time.Time
}

// oauthCredAD binds a sealed client secret to its organization and provider,
// so a ciphertext copied to another row does not open.
func oauthCredAD(orgID uuid.UUID, provider string) []byte {
	return []byte("org_oauth_credentials:" + orgID.String() + ":" + provider)
}

func parseOAuthProvider(p string) (string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if !slices.Contains(OAuthProviders(), p) {
		return "", ErrInvalidOAuthProvider
	}
	return p, nil
}

// SetOAuthCredentials creates or replaces an organization's OAuth app for a
// provider (org.settings.manage or a platform owner, active organization).
// The secret is sealed at rest and never returned.
//
// Errors: ErrInvalidOAuthProvider, ErrOrgNotFound, ErrNotMember,
// ErrCannotManageSettings, *OrgNotActiveError, ValidationErrors.
func (s *Service) SetOAuthCredentials(ctx context.Context, a Actor, slug, provider, clientID, secret string) (OAuthCredentialSummary, error) {
	provider, err := parseOAuthProvider(provider)
	if err != nil {
		return OAuthCredentialSummary{}, err
	}
	clientID = strings.TrimSpace(clientID)
	var errs ValidationErrors
	if clientID == "" || len(clientID) > 500 || strings.ContainsFunc(clientID, isControlOrSpace) {
		errs.add(&ValidationError{Field: "body.client_id", Message: "client_id must be 1 to 500 characters without spaces"})
	}
	if secret == "" || len(secret) > 1000 || strings.ContainsFunc(secret, isControlOrSpace) {
		errs.add(&ValidationError{Field: "body.client_secret", Message: "client_secret must be 1 to 1000 characters without spaces"})
	}
	if err := errs.orNil(); err != nil {
		return OAuthCredentialSummary{}, err
	}
	if s.ring == nil {
		return OAuthCredentialSummary{}, errors.New("set oauth credentials: no key ring")
	}
	var out OAuthCredentialSummary
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, true)
		if err != nil {
			return err
		}
		if ac.membership != nil && !ac.can(CapOrgSettingsManage) {
			return ErrCannotManageSettings
		}
		if err := requireActive(ac.org); err != nil {
			return err
		}
		sealed, err := s.ring.Seal([]byte(secret), oauthCredAD(ac.org.ID, provider))
		if err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `
			INSERT INTO org_oauth_credentials (org_id, provider, client_id, secret_sealed, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (org_id, provider) DO UPDATE SET client_id = EXCLUDED.client_id,
				secret_sealed = EXCLUDED.secret_sealed, updated_at = EXCLUDED.updated_at`,
			ac.org.ID, provider, clientID, sealed, now); err != nil {
			return db.MapError(err)
		}
		out = OAuthCredentialSummary{Provider: provider, ClientID: clientID, UpdatedAt: now}
		return s.record(ctx, tx, orgEvent("service.oauth_credentials.updated", ac.org, a, ac.actorType(), "organization", ac.org.ID.String(),
			map[string]any{"provider": provider, "client_id": clientID, "action": "set"}))
	})
	return out, err
}

// GetOAuthCredentials returns the summary of an organization's OAuth app
// for a provider. Errors: as SetOAuthCredentials, plus
// ErrOAuthCredentialsNotFound.
func (s *Service) GetOAuthCredentials(ctx context.Context, a Actor, slug, provider string) (OAuthCredentialSummary, error) {
	provider, err := parseOAuthProvider(provider)
	if err != nil {
		return OAuthCredentialSummary{}, err
	}
	ac, err := s.resolve(ctx, s.store, slug, a, false, true)
	if err != nil {
		return OAuthCredentialSummary{}, err
	}
	if ac.membership != nil && !ac.can(CapOrgSettingsManage) {
		return OAuthCredentialSummary{}, ErrCannotManageSettings
	}
	if err := requireActive(ac.org); err != nil {
		return OAuthCredentialSummary{}, err
	}
	out := OAuthCredentialSummary{Provider: provider}
	err = s.pool.QueryRow(ctx, `SELECT client_id, updated_at FROM org_oauth_credentials WHERE org_id = $1 AND provider = $2`,
		ac.org.ID, provider).Scan(&out.ClientID, &out.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return OAuthCredentialSummary{}, ErrOAuthCredentialsNotFound
	}
	return out, db.MapError(err)
}

// DeleteOAuthCredentials removes an organization's OAuth app for a
// provider: its flows use the platform's app again. Errors: as
// GetOAuthCredentials.
func (s *Service) DeleteOAuthCredentials(ctx context.Context, a Actor, slug, provider string) error {
	provider, err := parseOAuthProvider(provider)
	if err != nil {
		return err
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.resolve(ctx, st, slug, a, true, true)
		if err != nil {
			return err
		}
		if ac.membership != nil && !ac.can(CapOrgSettingsManage) {
			return ErrCannotManageSettings
		}
		if err := requireActive(ac.org); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM org_oauth_credentials WHERE org_id = $1 AND provider = $2`, ac.org.ID, provider)
		if err != nil {
			return db.MapError(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrOAuthCredentialsNotFound
		}
		return s.record(ctx, tx, orgEvent("service.oauth_credentials.updated", ac.org, a, ac.actorType(), "organization", ac.org.ID.String(),
			map[string]any{"provider": provider, "action": "deleted"}))
	})
}

// OrgOAuthCredentials returns an organization's OAuth app for a provider,
// secret included, for the identity module's flows (through an adapter in
// cmd/*; never over HTTP). found is false when the organization has none.
func (s *Service) OrgOAuthCredentials(ctx context.Context, orgID uuid.UUID, provider string) (clientID, secret string, found bool, err error) {
	var sealed string
	err = s.pool.QueryRow(ctx, `SELECT client_id, secret_sealed FROM org_oauth_credentials WHERE org_id = $1 AND provider = $2`,
		orgID, provider).Scan(&clientID, &sealed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", "", false, nil
	case err != nil:
		return "", "", false, db.MapError(err)
	}
	if s.ring == nil {
		return "", "", false, errors.New("open oauth credentials: no key ring")
	}
	raw, err := s.ring.Open(sealed, oauthCredAD(orgID, provider))
	if err != nil {
		return "", "", false, err
	}
	return clientID, string(raw), true, nil
}

// OrgOAuthProviders lists the providers an organization brought its own
// app for, in a stable order.
func (s *Service) OrgOAuthProviders(ctx context.Context, orgID uuid.UUID) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT provider FROM org_oauth_credentials WHERE org_id = $1 ORDER BY provider`, orgID)
	if err != nil {
		return nil, db.MapError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, db.MapError(err)
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }
