-- Identity core: users, identities, sessions with rotating refresh tokens,
-- single-use email tokens, login events and the JWT signing key ring
-- (spec §1.9, §1.12, §12.4, §20.1).
--
-- org_id / service_id columns gain their foreign keys in the tenancy
-- migration that creates organizations and services.

-- +goose Up
CREATE TABLE users (
    id                  uuid        PRIMARY KEY,
    org_id              uuid,
    email               text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    is_platform_owner   boolean     NOT NULL DEFAULT false,
    password_hash       text,
    email_verified_at   timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
-- Email is unique per scope, case-insensitively; platform-level users
-- (org_id NULL) form their own scope (spec §22.1 item 20).
CREATE UNIQUE INDEX users_email_scope_key
    ON users (coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(email));
CREATE INDEX users_org_idx ON users (org_id) WHERE org_id IS NOT NULL;
CREATE INDEX users_platform_owner_idx ON users (id) WHERE is_platform_owner;

CREATE TABLE identities (
    id                       uuid        PRIMARY KEY,
    user_id                  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                 text        NOT NULL CHECK (provider <> ''),
    provider_user_id         text        NOT NULL,
    org_id                   uuid,
    service_id               uuid,
    access_token_encrypted   bytea,
    refresh_token_encrypted  bytea,
    encryption_key_id        text,
    expires_at               timestamptz,
    scopes                   jsonb       NOT NULL DEFAULT '[]'::jsonb,
    last_refreshed_at        timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (service_id IS NULL OR org_id IS NOT NULL)
);
CREATE UNIQUE INDEX identities_user_provider_scope_key
    ON identities (user_id, provider,
                   coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid),
                   coalesce(service_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE UNIQUE INDEX identities_provider_account_scope_key
    ON identities (provider, provider_user_id,
                   coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid),
                   coalesce(service_id, '00000000-0000-0000-0000-000000000000'::uuid));

CREATE TABLE sessions (
    id                  uuid        PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id              uuid,
    service_id          uuid,
    org_slug            text        NOT NULL DEFAULT '',
    service_slug        text        NOT NULL DEFAULT '',
    audience            text        NOT NULL,
    auth_method         text        NOT NULL DEFAULT 'password',
    access_jti          text        NOT NULL,
    token_hash          text        NOT NULL,
    access_expires_at   timestamptz NOT NULL,
    refresh_token_hash  text,
    refresh_expires_at  timestamptz,
    ip_address          text        NOT NULL DEFAULT '',
    user_agent          text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    refreshed_at        timestamptz,
    revoked_at          timestamptz,
    revoked_reason      text
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE UNIQUE INDEX sessions_refresh_token_hash_key ON sessions (refresh_token_hash) WHERE refresh_token_hash IS NOT NULL;
CREATE INDEX sessions_user_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_org_idx ON sessions (org_id, user_id) WHERE org_id IS NOT NULL;

-- Every refresh token a session has rotated away from: presenting one again
-- is reuse and revokes the session (spec §22.1 item 18).
CREATE TABLE session_refresh_token_history (
    token_hash  text        PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_refresh_token_history_session_idx ON session_refresh_token_history (session_id);

CREATE TABLE email_verification_tokens (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text        NOT NULL,
    token_hash  text        NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_verification_tokens_user_idx ON email_verification_tokens (user_id);

CREATE TABLE password_reset_tokens (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text        NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (user_id);

CREATE TABLE login_events (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id        uuid,
    service_id    uuid,
    provider      text        NOT NULL,
    ip_address    text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '',
    risk_score    integer     NOT NULL DEFAULT 0,
    risk_factors  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    geo_country   text,
    geo_city      text,
    geo_lat       double precision,
    geo_long      double precision,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_events_user_idx ON login_events (user_id, created_at DESC);
CREATE INDEX login_events_org_idx ON login_events (org_id, created_at DESC) WHERE org_id IS NOT NULL;

-- JWT signing keys, private halves encrypted with the platform key ring.
-- One key is active (signs); previous keys stay published in the JWKS until
-- every token they signed has expired, then become retired.
CREATE TABLE jwt_signing_keys (
    kid                    text        PRIMARY KEY CHECK (kid <> '' AND length(kid) <= 128),
    algorithm              text        NOT NULL CHECK (algorithm IN ('ES256', 'RS256')),
    private_key_encrypted  bytea       NOT NULL,
    encryption_key_id      text        NOT NULL,
    public_key_pem         text        NOT NULL,
    status                 text        NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    rotated_out_at         timestamptz
);
CREATE UNIQUE INDEX jwt_signing_keys_one_active ON jwt_signing_keys ((status)) WHERE status = 'active';

-- +goose Down
DROP TABLE jwt_signing_keys;
DROP TABLE login_events;
DROP TABLE password_reset_tokens;
DROP TABLE email_verification_tokens;
DROP TABLE session_refresh_token_history;
DROP TABLE sessions;
DROP TABLE identities;
DROP TABLE users;
