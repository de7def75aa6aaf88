package tenancy

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// APIKey is a service-scoped machine credential (spec §8). The secret is
// never part of it: CreateAPIKey returns it once, and only its hash is
// stored (see APIKeyCredential).
type APIKey struct {
	ID          uuid.UUID
	OrgID       uuid.UUID
	ServiceID   uuid.UUID
	Name        string
	Prefix      string // sk_<12 hex>, the public lookup key
	Permissions []string
	LastUsedAt  *time.Time
	ExpiresAt   *time.Time // nil: never expires
	CreatedAt   time.Time
	CreatedBy   *uuid.UUID // nil once the creator's account is gone
	RevokedAt   *time.Time
}

// NewAPIKey is the input of CreateAPIKey. A nil ExpiresInDays makes a key
// that does not expire.
type NewAPIKey struct {
	Name          string
	Permissions   []string
	ExpiresInDays *int
}

// CreatedAPIKey is what CreateAPIKey returns. Secret is the full key,
// shown this once.
type CreatedAPIKey struct {
	Key    APIKey
	Secret string
}

// APIKeyFilter selects a page of a service's keys.
type APIKeyFilter struct {
	Limit  int
	Offset int
}

// APIKeyList is one page of a service's keys, newest first.
type APIKeyList struct {
	Keys  []APIKey
	Total int
}

// APIKeyCredential is what the X-Api-Key authenticator needs about a key:
// the key, the stored hash of its secret and its organization's status.
type APIKeyCredential struct {
	APIKey
	KeyHash   string
	OrgStatus OrgStatus
}

// Matches reports, in constant time, whether raw is the secret whose hash
// the credential stores.
func (c APIKeyCredential) Matches(raw string) bool {
	return crypto.Equal(crypto.HashToken(raw), c.KeyHash)
}

// API key format (spec §8.2): "sk_" + 12 hex + "_" + 64 hex.
const (
	apiKeyScheme      = "sk_"
	apiKeyPrefixBytes = 6  // 12 hex characters
	apiKeySecretBytes = 32 // 64 hex characters
	apiKeyPrefixLen   = len(apiKeyScheme) + 2*apiKeyPrefixBytes
	apiKeyLen         = apiKeyPrefixLen + 1 + 2*apiKeySecretBytes
)

// API key field limits.
const (
	maxAPIKeyName        = 100
	maxAPIKeyPermissions = 50
	maxAPIKeyExpiryDays  = 3650
	maxProviderNameLen   = 100
)

// providerPermissionPrefix starts a permission naming one provider
// (read:provider_tokens:<provider>).
const providerPermissionPrefix = "read:provider_tokens:"

var providerNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// APIKeyPermissions returns the fixed permission strings a key may hold
// (spec §8.2); read:provider_tokens:<provider> is allowed besides them.
func APIKeyPermissions() []string {
	return []string{
		"read:users", "write:users", "delete:users",
		"read:subscriptions", "write:subscriptions", "delete:subscriptions",
		"read:analytics", "read:service", "write:service", "read:provider_tokens",
	}
}

// ValidAPIKeyPermission reports whether p is an allowlisted permission:
// one of APIKeyPermissions, or read:provider_tokens:<provider> with a
// provider of letters, digits, '.', '_' and '-'.
func ValidAPIKeyPermission(p string) bool {
	if slices.Contains(APIKeyPermissions(), p) {
		return true
	}
	provider, ok := strings.CutPrefix(p, providerPermissionPrefix)
	return ok && len(provider) <= maxProviderNameLen && providerNamePattern.MatchString(provider)
}

// ParseAPIKey checks that raw has the exact key format, sk_<12 lowercase
// hex>_<64 lowercase hex>, and returns its lookup prefix sk_<12 hex>. It
// does not look the key up.
func ParseAPIKey(raw string) (prefix string, ok bool) {
	if len(raw) != apiKeyLen || !strings.HasPrefix(raw, apiKeyScheme) || raw[apiKeyPrefixLen] != '_' {
		return "", false
	}
	if !isLowerHex(raw[len(apiKeyScheme):apiKeyPrefixLen]) || !isLowerHex(raw[apiKeyPrefixLen+1:]) {
		return "", false
	}
	return raw[:apiKeyPrefixLen], true
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newAPIKeySecret returns a fresh key, its prefix and its stored hash.
func newAPIKeySecret() (key, prefix, hash string) {
	prefix = apiKeyScheme + crypto.RandomHex(apiKeyPrefixBytes)
	key = prefix + "_" + crypto.RandomHex(apiKeySecretBytes)
	return key, prefix, crypto.HashToken(key)
}

// apiKeyService resolves the organization, applies the active gate and
// services.manage (which both managing and reading keys need, spec §8.1;
// per-service grants do not exist yet), and loads the service.
func (s *Service) apiKeyService(ctx context.Context, st *Store, a Actor, orgSlug, serviceSlug string) (access, Application, error) {
	ac, err := s.serviceAccess(ctx, st, orgSlug, a, false)
	if err != nil {
		return access{}, Application{}, err
	}
	if !ac.can(CapServicesManage) {
		return access{}, Application{}, ErrCannotManageAPIKeys
	}
	app, err := st.ServiceGetBySlug(ctx, ac.org.ID, serviceSlug)
	return ac, app, err
}

// CreateAPIKey creates a key for a service; the caller needs
// services.manage in an active organization. The full key is returned this
// once; the store keeps its prefix and SHA-256. api_key.created is
// recorded in the same transaction.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageAPIKeys, ErrServiceNotFound, ValidationErrors.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, orgSlug, serviceSlug string, in NewAPIKey) (CreatedAPIKey, error) {
	var out CreatedAPIKey
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, app, err := s.apiKeyService(ctx, st, a, orgSlug, serviceSlug)
		if err != nil {
			return err
		}
		k, err := validateNewAPIKey(in)
		if err != nil {
			return err
		}
		now := s.now()
		creator := a.UserID
		k.ID, k.OrgID, k.ServiceID, k.CreatedAt, k.CreatedBy = newID(), ac.org.ID, app.ID, now, &creator
		if in.ExpiresInDays != nil {
			exp := now.Add(time.Duration(*in.ExpiresInDays) * 24 * time.Hour)
			k.ExpiresAt = &exp
		}
		// 48 random bits make a prefix collision very unlikely; a clash
		// draws a new key rather than failing the request.
		for attempt := 0; ; attempt++ {
			var secret, hash string
			secret, k.Prefix, hash = newAPIKeySecret()
			saved, err := st.APIKeyInsert(ctx, k, hash)
			if errors.Is(err, errAPIKeyPrefixTaken) && attempt < 2 {
				continue
			}
			if err != nil {
				return err
			}
			out = CreatedAPIKey{Key: saved, Secret: secret}
			break
		}
		var expires any
		if out.Key.ExpiresAt != nil {
			expires = out.Key.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return s.record(ctx, tx, apiKeyEvent("api_key.created", ac, a, app, out.Key, map[string]any{"expires_at": expires}))
	})
	return out, err
}

// ListAPIKeys returns one page of a service's keys, newest first; the
// caller needs services.manage.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageAPIKeys, ErrServiceNotFound.
func (s *Service) ListAPIKeys(ctx context.Context, a Actor, orgSlug, serviceSlug string, f APIKeyFilter) (APIKeyList, error) {
	ac, app, err := s.apiKeyService(ctx, s.store, a, orgSlug, serviceSlug)
	if err != nil {
		return APIKeyList{}, err
	}
	keys, total, err := s.store.APIKeyList(ctx, ac.org.ID, app.ID, f)
	return APIKeyList{Keys: keys, Total: total}, err
}

// GetAPIKey returns one key of a service; the caller needs services.manage.
// Errors: as ListAPIKeys, and ErrAPIKeyNotFound (also for a key of
// another service or organization).
func (s *Service) GetAPIKey(ctx context.Context, a Actor, orgSlug, serviceSlug string, id uuid.UUID) (APIKey, error) {
	ac, app, err := s.apiKeyService(ctx, s.store, a, orgSlug, serviceSlug)
	if err != nil {
		return APIKey{}, err
	}
	return s.store.APIKeyGet(ctx, ac.org.ID, app.ID, id)
}

// DeleteAPIKey deletes a key of a service, which stops authenticating at
// the commit (on every replica: see forgetAPIKeys); the caller needs
// services.manage. api_key.deleted is
// recorded in the same transaction.
// Errors: as GetAPIKey.
func (s *Service) DeleteAPIKey(ctx context.Context, a Actor, orgSlug, serviceSlug string, id uuid.UUID) error {
	var prefix string
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, app, err := s.apiKeyService(ctx, st, a, orgSlug, serviceSlug)
		if err != nil {
			return err
		}
		k, err := st.APIKeyDelete(ctx, ac.org.ID, app.ID, id)
		if err != nil {
			return err
		}
		prefix = k.Prefix
		return s.record(ctx, tx, apiKeyEvent("api_key.deleted", ac, a, app, k, map[string]any{"prefix": k.Prefix}))
	})
	if err == nil {
		s.forgetAPIKeys(ctx, prefix)
	}
	return err
}

// LookupAPIKey returns the key with this prefix (see ParseAPIKey), the
// hash of its secret and its organization's status, for the X-Api-Key
// authenticator. It checks nothing: the caller verifies the secret
// (APIKeyCredential.Matches) and rejects expired and revoked keys and
// keys of an organization that is not active.
// Errors: ErrAPIKeyNotFound.
func (s *Service) LookupAPIKey(ctx context.Context, prefix string) (APIKeyCredential, error) {
	return s.store.APIKeyLookup(ctx, prefix)
}

// apiKeyEvent builds an organization-stream event about a key.
func apiKeyEvent(typ string, ac access, a Actor, app Application, k APIKey, extra map[string]any) events.Event {
	details := map[string]any{
		"api_key_id": k.ID.String(), "service_id": app.ID.String(), "service_slug": app.Slug, "name": k.Name,
		"permissions": slices.Clone(k.Permissions),
	}
	for key, v := range extra {
		details[key] = v
	}
	return orgEvent(typ, ac.org, a, ac.actorType(), "api_key", k.ID.String(), details)
}

// ---- validation

// validateNewAPIKey checks a creation request and returns the key's name
// and permissions (trimmed, duplicates dropped, in the given order).
func validateNewAPIKey(in NewAPIKey) (APIKey, error) {
	var errs ValidationErrors
	var k APIKey
	k.Name = strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(k.Name); n < 1 || n > maxAPIKeyName {
		errs.add(&ValidationError{Field: "body.name", Message: "Name must be 1 to " + strconv.Itoa(maxAPIKeyName) + " characters"})
	}
	switch {
	case len(in.Permissions) == 0:
		errs.add(&ValidationError{Field: "body.permissions", Message: "At least one permission is required"})
	case len(in.Permissions) > maxAPIKeyPermissions:
		errs.add(&ValidationError{Field: "body.permissions", Message: "At most " + strconv.Itoa(maxAPIKeyPermissions) + " permissions are allowed"})
	default:
		k.Permissions = make([]string, 0, len(in.Permissions))
		for i, p := range in.Permissions {
			p = strings.TrimSpace(p)
			if !ValidAPIKeyPermission(p) {
				errs.add(&ValidationError{Field: "body.permissions[" + strconv.Itoa(i) + "]", Message: "Unknown permission"})
				continue
			}
			if !slices.Contains(k.Permissions, p) {
				k.Permissions = append(k.Permissions, p)
			}
		}
	}
	if d := in.ExpiresInDays; d != nil && (*d < 1 || *d > maxAPIKeyExpiryDays) {
		errs.add(&ValidationError{Field: "body.expires_in_days", Message: "expires_in_days must be between 1 and " + strconv.Itoa(maxAPIKeyExpiryDays)})
	}
	return k, errs.orNil()
}
