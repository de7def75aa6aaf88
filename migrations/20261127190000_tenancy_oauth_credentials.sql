-- Bring-your-own OAuth credentials (spec §4.3): an organization's own
-- GitHub/Google/Microsoft app, used by every OAuth flow and token refresh
-- of that organization instead of the platform's. The client secret is
-- AES-256-GCM sealed with the platform key ring, bound to org and provider.

-- +goose Up
CREATE TABLE org_oauth_credentials (
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider        text        NOT NULL CHECK (provider IN ('github', 'google', 'microsoft')),
    client_id       text        NOT NULL CHECK (client_id <> '' AND length(client_id) <= 500),
    secret_sealed   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, provider)
);

-- +goose Down
DROP TABLE org_oauth_credentials;
