package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/db"
)

// API keys. Every management statement names the organization and the
// service; only the authenticator's lookup goes by the (globally unique)
// prefix alone.

// errAPIKeyPrefixTaken is an insert whose random prefix another key holds;
// the service draws a new key.
var errAPIKeyPrefixTaken = errors.New("api key prefix taken")

func mapAPIKeyErr(err error) error {
	err = db.MapError(err)
	if errors.Is(err, db.ErrNotFound) {
		return ErrAPIKeyNotFound
	}
	return err
}

const apiKeyColumns = `k.id, k.org_id, k.service_id, k.name, k.prefix, k.permissions, k.last_used_at, k.expires_at,
	k.created_at, k.created_by, k.revoked_at`

func apiKeyDest(k *APIKey) (dest []any, finish func() error) {
	var perms []byte
	dest = []any{&k.ID, &k.OrgID, &k.ServiceID, &k.Name, &k.Prefix, &perms, &k.LastUsedAt, &k.ExpiresAt,
		&k.CreatedAt, &k.CreatedBy, &k.RevokedAt}
	return dest, func() error {
		var err error
		k.Permissions, err = decodeList(perms)
		return err
	}
}

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	dest, finish := apiKeyDest(&k)
	if err := row.Scan(dest...); err != nil {
		return k, mapAPIKeyErr(err)
	}
	return k, finish()
}

// APIKeyInsert stores a key with the hash of its secret. A prefix another
// key already holds returns errAPIKeyPrefixTaken without aborting the
// transaction.
func (s *Store) APIKeyInsert(ctx context.Context, k APIKey, keyHash string) (APIKey, error) {
	perms, err := encodeList(k.Permissions)
	if err != nil {
		return k, err
	}
	const q = `INSERT INTO api_keys AS k (id, org_id, service_id, name, prefix, key_hash, permissions, expires_at, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT ON CONSTRAINT api_keys_prefix_key DO NOTHING
		RETURNING ` + apiKeyColumns
	out, err := scanAPIKey(s.db.QueryRow(ctx, q, k.ID, k.OrgID, k.ServiceID, k.Name, k.Prefix, keyHash, perms,
		k.ExpiresAt, k.CreatedAt, k.CreatedBy))
	if errors.Is(err, ErrAPIKeyNotFound) {
		return k, errAPIKeyPrefixTaken
	}
	return out, err
}

// APIKeyGet returns a service's key, or ErrAPIKeyNotFound (also for a key
// of another service or organization).
func (s *Store) APIKeyGet(ctx context.Context, orgID, serviceID, id uuid.UUID) (APIKey, error) {
	return scanAPIKey(s.db.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE k.org_id = $1 AND k.service_id = $2 AND k.id = $3`, orgID, serviceID, id))
}

// APIKeyList returns one page of a service's keys, newest first, and how
// many it has.
func (s *Store) APIKeyList(ctx context.Context, orgID, serviceID uuid.UUID, f APIKeyFilter) ([]APIKey, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE org_id = $1 AND service_id = $2`,
		orgID, serviceID).Scan(&total); err != nil {
		return nil, 0, db.MapError(err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE k.org_id = $1 AND k.service_id = $2
		ORDER BY k.created_at DESC, k.id DESC LIMIT $3 OFFSET $4`, orgID, serviceID, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, db.MapError(err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	return keys, total, err
}

// APIKeyDelete deletes a service's key and returns it, or
// ErrAPIKeyNotFound.
func (s *Store) APIKeyDelete(ctx context.Context, orgID, serviceID, id uuid.UUID) (APIKey, error) {
	return scanAPIKey(s.db.QueryRow(ctx, `DELETE FROM api_keys AS k
		WHERE k.org_id = $1 AND k.service_id = $2 AND k.id = $3
		RETURNING `+apiKeyColumns, orgID, serviceID, id))
}

// APIKeyLookup returns the key with this prefix with its secret's hash and
// its organization's status, or ErrAPIKeyNotFound.
func (s *Store) APIKeyLookup(ctx context.Context, prefix string) (APIKeyCredential, error) {
	var c APIKeyCredential
	dest, finish := apiKeyDest(&c.APIKey)
	err := s.db.QueryRow(ctx, `SELECT `+apiKeyColumns+`, k.key_hash, o.status FROM api_keys k
		JOIN organizations o ON o.id = k.org_id
		WHERE k.prefix = $1`, prefix).Scan(append(dest, &c.KeyHash, &c.OrgStatus)...)
	if err != nil {
		return c, mapAPIKeyErr(err)
	}
	return c, finish()
}

// APIKeyTouchBatch sets last_used_at of many keys in one statement: uses
// maps a key id to its latest use. A stored value that is already later
// (another replica flushed a newer use) is kept, and ids of deleted keys
// are ignored.
func (s *Store) APIKeyTouchBatch(ctx context.Context, uses map[uuid.UUID]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(uses))
	ats := make([]time.Time, 0, len(uses))
	for id, at := range uses {
		ids = append(ids, id)
		ats = append(ats, at)
	}
	_, err := s.db.Exec(ctx, `UPDATE api_keys AS k SET last_used_at = v.t
		FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, t)
		WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.t)`, ids, ats)
	return db.MapError(err)
}
