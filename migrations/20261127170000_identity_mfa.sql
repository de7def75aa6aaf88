-- Identity MFA: TOTP secrets, backup codes and the MFA audit trail
-- (spec §3.2, §12.2, §14.2, §20.1, §20.4).

-- +goose Up

-- One TOTP secret per user, encrypted with the platform key ring (the
-- associated data binds the ciphertext to the user id, so a secret cannot be
-- moved to another account). enabled stays false from setup until the user
-- proves a first code. last_used_step is the newest RFC 6238 time step
-- accepted: a code is accepted only for a later step (replay protection).
CREATE TABLE user_totp_secrets (
    user_id            uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_encrypted   bytea       NOT NULL,
    encryption_key_id  text        NOT NULL,
    enabled            boolean     NOT NULL DEFAULT false,
    enabled_at         timestamptz,
    last_used_step     bigint      NOT NULL DEFAULT 0 CHECK (last_used_step >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (enabled = (enabled_at IS NOT NULL))
);

-- Single-use backup codes: SHA-256 hex of the normalised code (dashes
-- stripped, upper case).
CREATE TABLE totp_backup_codes (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   text        NOT NULL CHECK (length(code_hash) = 64),
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, code_hash)
);

-- The MFA audit stream (spec §12.2). org_id is the organization of the
-- user (tenant users) or of the login (step-up); NULL for platform-level
-- activity. success is NULL for mfa_verify_attempt rows.
CREATE TABLE mfa_audit_log (
    id          uuid        PRIMARY KEY,
    org_id      uuid        REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type  text        NOT NULL CHECK (event_type IN (
                    'mfa_setup_initiated', 'mfa_setup_completed', 'mfa_setup_failed', 'mfa_enabled', 'mfa_disabled',
                    'mfa_verify_attempt', 'mfa_verify_success', 'mfa_verify_failed', 'backup_codes_generated',
                    'backup_code_used', 'mfa_force_disabled_by_admin')),
    success     boolean,
    details     text        NOT NULL DEFAULT '' CHECK (length(details) <= 500),
    ip_address  text        NOT NULL DEFAULT '',
    user_agent  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_audit_log_user_idx ON mfa_audit_log (user_id, created_at DESC);
CREATE INDEX mfa_audit_log_org_idx ON mfa_audit_log (org_id, created_at DESC) WHERE org_id IS NOT NULL;
CREATE INDEX mfa_audit_log_event_idx ON mfa_audit_log (event_type, created_at DESC);

-- +goose Down
DROP TABLE mfa_audit_log;
DROP TABLE totp_backup_codes;
DROP TABLE user_totp_secrets;
