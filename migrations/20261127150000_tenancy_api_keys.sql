-- Tenancy API keys (spec §8, §20.3): service-scoped machine credentials a
-- backend sends as X-Api-Key.
--
-- A key is `sk_<12 hex>_<64 hex>` and is shown once. Only its public
-- prefix `sk_<12 hex>` (the lookup key, unique, shown in lists) and the
-- lowercase hex SHA-256 of the whole key are stored. The composite foreign
-- key (org_id, service_id) -> services (org_id, id) keeps a key inside its
-- service's organization; a key goes with its service.

-- +goose Up
CREATE TABLE api_keys (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL,
    service_id    uuid        NOT NULL,
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    prefix        text        NOT NULL CHECK (prefix ~ '^sk_[0-9a-f]{12}$'),
    key_hash      text        NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    -- The allowlisted permission strings of spec §8.2; never empty.
    permissions   jsonb       NOT NULL CHECK (jsonb_typeof(permissions) = 'array' AND jsonb_array_length(permissions) >= 1),
    last_used_at  timestamptz,
    -- NULL: the key does not expire.
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- NULL once the creator's account is gone.
    created_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    -- Set when a key is revoked without being deleted; such a key no longer
    -- authenticates.
    revoked_at    timestamptz,
    CONSTRAINT api_keys_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE CASCADE,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    CONSTRAINT api_keys_expiry_check CHECK (expires_at IS NULL OR expires_at > created_at)
);
-- A service's keys, newest first (the management listing).
CREATE INDEX api_keys_service_idx ON api_keys (org_id, service_id, created_at DESC, id DESC);
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by) WHERE created_by IS NOT NULL;

-- +goose Down
DROP TABLE api_keys;
