-- Social login and device authorization (spec §2.2, §20.1): OAuth states
-- (single use, 10 minutes) and device codes (15 minutes). Both secrets are
-- stored as SHA-256 hashes; the PKCE verifier is sealed with the key ring.

-- +goose Up
CREATE TABLE oauth_states (
    state_hash       text        PRIMARY KEY,
    provider         text        NOT NULL CHECK (provider IN ('github', 'google', 'microsoft')),
    -- A hash of the value of the cookie that binds the state to the browser
    -- that started the flow; NULL for linking flows started over the API,
    -- which are bound to link_user_id instead.
    browser_hash     text,
    pkce_sealed      bytea       NOT NULL,
    org_id           uuid,
    service_id       uuid,
    org_slug         text        NOT NULL DEFAULT '',
    service_slug     text        NOT NULL DEFAULT '',
    redirect_uri     text        NOT NULL DEFAULT '',
    client_state     text        NOT NULL DEFAULT '',
    is_admin         boolean     NOT NULL DEFAULT false,
    link_user_id     uuid        REFERENCES users (id) ON DELETE CASCADE,
    device_user_code text        NOT NULL DEFAULT '',
    byoo             boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);

CREATE TABLE device_codes (
    id                uuid        PRIMARY KEY,
    device_code_hash  text        NOT NULL UNIQUE,
    user_code         text        NOT NULL CHECK (user_code ~ '^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$'),
    client_id         text        NOT NULL,
    org_id            uuid,
    service_id        uuid,
    org_slug          text        NOT NULL,
    service_slug      text        NOT NULL,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'authorized', 'denied', 'consumed')),
    user_id           uuid        REFERENCES users (id) ON DELETE CASCADE,
    interval_seconds  integer     NOT NULL DEFAULT 5,
    last_polled_at    timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    authorized_at     timestamptz
);
-- A user code names one live device code.
CREATE UNIQUE INDEX device_codes_user_code_live_key ON device_codes (user_code) WHERE status IN ('pending', 'authorized');
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
DROP TABLE oauth_states;
