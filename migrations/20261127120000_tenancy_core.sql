-- Tenancy core: tiers, organizations and memberships (spec §1.5, §1.6, §1.7,
-- §4.1, §4.2, §20.2), plus the organization and user foreign keys the
-- compliance and identity migrations left for this one.
--
-- services and the service_id columns of identities, sessions and
-- login_events gain their foreign keys in the migration that creates
-- services.

-- +goose Up
CREATE TABLE organization_tiers (
    id                    text        PRIMARY KEY CHECK (id <> '' AND length(id) <= 64),
    name                  text        NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 64),
    display_name          text        NOT NULL CHECK (length(display_name) <= 100),
    default_max_services  integer     NOT NULL CHECK (default_max_services >= 0),
    default_max_users     integer     NOT NULL CHECK (default_max_users >= 0),
    -- allow_custom_domain, allow_saml_idp, allow_scim, allow_siem,
    -- allow_branding, allow_passkeys, allowed_social_providers[], max_mau
    -- (<= 0 is unlimited), allow_overage.
    features              jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(features) = 'object'),
    price_cents           integer     NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency              text        NOT NULL DEFAULT 'usd',
    created_at            timestamptz NOT NULL DEFAULT now()
);

INSERT INTO organization_tiers (id, name, display_name, default_max_services, default_max_users, price_cents, features) VALUES
    ('tier_free', 'free', 'Free Tier', 2, 3, 0,
     '{"allow_custom_domain": false, "allow_saml_idp": false, "allow_scim": false, "allow_siem": false,
       "allow_branding": false, "allow_passkeys": true, "allowed_social_providers": ["github"],
       "max_mau": 1000, "allow_overage": false}'),
    ('tier_starter', 'starter', 'Starter Tier', 10, 10, 4900,
     '{"allow_custom_domain": false, "allow_saml_idp": false, "allow_scim": false, "allow_siem": false,
       "allow_branding": false, "allow_passkeys": true, "allowed_social_providers": ["github", "google"],
       "max_mau": 5000, "allow_overage": false}'),
    ('tier_pro', 'pro', 'Pro Tier', 50, 50, 14900,
     '{"allow_custom_domain": true, "allow_saml_idp": true, "allow_scim": true, "allow_siem": false,
       "allow_branding": true, "allow_passkeys": true, "allowed_social_providers": ["github", "google", "microsoft"],
       "max_mau": 25000, "allow_overage": false}'),
    ('tier_enterprise', 'enterprise', 'Enterprise Tier', 999999, 999999, 49900,
     '{"allow_custom_domain": true, "allow_saml_idp": true, "allow_scim": true, "allow_siem": true,
       "allow_branding": true, "allow_passkeys": true, "allowed_social_providers": ["github", "google", "microsoft", "oidc"],
       "max_mau": 1000000, "allow_overage": true}');

CREATE TABLE organizations (
    id                         uuid        PRIMARY KEY,
    slug                       text        NOT NULL CHECK (slug ~ '^[A-Za-z0-9_-]{3,50}$'),
    name                       text        NOT NULL CHECK (char_length(name) BETWEEN 2 AND 100),
    -- NULL only once the owner's account is gone (platform lists show an
    -- "unknown" owner then).
    owner_user_id              uuid        REFERENCES users (id) ON DELETE SET NULL,
    status                     text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'active', 'suspended', 'rejected')),
    tier_id                    text        NOT NULL DEFAULT 'tier_free' REFERENCES organization_tiers (id),
    -- Per-organization overrides of the tier's limits; NULL means the tier's.
    max_services               integer     CHECK (max_services >= 0),
    max_users                  integer     CHECK (max_users >= 0),
    approved_by                uuid        REFERENCES users (id) ON DELETE SET NULL,
    approved_at                timestamptz,
    rejected_by                uuid        REFERENCES users (id) ON DELETE SET NULL,
    rejected_at                timestamptz,
    rejection_reason           text        CHECK (length(rejection_reason) <= 1000),
    -- SMTP, custom domain and branding are managed by later endpoints
    -- (spec §4.3, §4.4); the SMTP password is AES-256-GCM ciphertext.
    smtp_host                  text,
    smtp_port                  integer     CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_username              text,
    smtp_password_encrypted    bytea,
    smtp_from_email            text,
    smtp_from_name             text,
    smtp_encryption_key_id     text,
    custom_domain              text,
    domain_verified            boolean     NOT NULL DEFAULT false,
    domain_verification_token  text,
    brand_logo_url             text,
    brand_primary_color        text,
    -- Feature overrides merged by the platform owner; they only widen the
    -- tier's features (spec §1.7). NULL means none.
    feature_overrides          jsonb       CHECK (feature_overrides IS NULL OR jsonb_typeof(feature_overrides) = 'object'),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
-- Slugs are globally unique regardless of case, so "Acme" and "acme" never
-- name two tenants; lookups use the same expression.
CREATE UNIQUE INDEX organizations_slug_key ON organizations (lower(slug));
CREATE UNIQUE INDEX organizations_custom_domain_key ON organizations (lower(custom_domain)) WHERE custom_domain IS NOT NULL;
CREATE INDEX organizations_owner_idx ON organizations (owner_user_id);
CREATE INDEX organizations_status_idx ON organizations (status, created_at DESC);
CREATE INDEX organizations_tier_idx ON organizations (tier_id);

CREATE TABLE memberships (
    id          uuid        PRIMARY KEY,
    org_id      uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Built-in roles only for now; custom role slugs (spec §4.2) relax this
    -- check when organization_roles arrives.
    role        text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_org_user_key UNIQUE (org_id, user_id)
);
-- An organization has exactly one owner: granting owner transfers ownership.
CREATE UNIQUE INDEX memberships_one_owner_key ON memberships (org_id) WHERE role = 'owner';
CREATE INDEX memberships_user_idx ON memberships (user_id, created_at);
CREATE INDEX memberships_org_role_idx ON memberships (org_id, role, created_at);

-- Foreign keys the earlier migrations deferred to this one. Deleting an
-- organization deletes its audit trail, tenant users, their identities,
-- org-scoped sessions and login events (spec §4.1, §20.5).
ALTER TABLE organization_audit_log
    ADD CONSTRAINT organization_audit_log_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE users
    ADD CONSTRAINT users_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE identities
    ADD CONSTRAINT identities_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE sessions
    ADD CONSTRAINT sessions_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE login_events
    ADD CONSTRAINT login_events_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
CREATE INDEX identities_org_idx ON identities (org_id) WHERE org_id IS NOT NULL;

-- +goose Down
DROP INDEX identities_org_idx;
ALTER TABLE login_events DROP CONSTRAINT login_events_org_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT sessions_org_id_fkey;
ALTER TABLE identities DROP CONSTRAINT identities_org_id_fkey;
ALTER TABLE users DROP CONSTRAINT users_org_id_fkey;
ALTER TABLE organization_audit_log DROP CONSTRAINT organization_audit_log_org_id_fkey;
DROP TABLE memberships;
DROP TABLE organizations;
DROP TABLE organization_tiers;
