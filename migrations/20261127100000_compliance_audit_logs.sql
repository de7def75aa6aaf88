-- Audit trails written by the compliance module's events.Recorder inside the
-- caller's transaction (spec §11, §12.3, §20.4).
--
-- organization_audit_log.org_id gains its foreign key to organizations in the
-- tenancy migration that creates that table.

-- +goose Up
CREATE TABLE organization_audit_log (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL,
    actor_user_id uuid,
    actor_type    text        NOT NULL DEFAULT 'user'
                  CHECK (actor_type IN ('user', 'platform_owner', 'api_key', 'scim', 'system')),
    action        text        NOT NULL CHECK (action <> '' AND length(action) <= 100),
    target_type   text        NOT NULL DEFAULT '' CHECK (length(target_type) <= 100),
    target_id     text        NOT NULL DEFAULT '' CHECK (length(target_id) <= 255),
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ip_address    text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '',
    success       boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organization_audit_log_org_created_idx ON organization_audit_log (org_id, created_at DESC, id DESC);
CREATE INDEX organization_audit_log_org_action_idx ON organization_audit_log (org_id, action, created_at DESC);
CREATE INDEX organization_audit_log_org_target_idx ON organization_audit_log (org_id, target_type, target_id);

CREATE TABLE platform_audit_log (
    id                uuid        PRIMARY KEY,
    platform_owner_id uuid,
    action            text        NOT NULL CHECK (action <> '' AND length(action) <= 100),
    target_type       text        NOT NULL DEFAULT '' CHECK (length(target_type) <= 100),
    target_id         text        NOT NULL DEFAULT '' CHECK (length(target_id) <= 255),
    metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ip_address        text        NOT NULL DEFAULT '',
    user_agent        text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX platform_audit_log_created_idx ON platform_audit_log (created_at DESC, id DESC);
CREATE INDEX platform_audit_log_action_idx ON platform_audit_log (action, created_at DESC);

-- +goose Down
DROP TABLE platform_audit_log;
DROP TABLE organization_audit_log;
