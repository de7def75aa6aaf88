-- Tenancy services: services (an organization's OAuth clients), their plans
-- and a minimal subscriptions table (spec §5, §20.3), plus the service
-- foreign keys the identity migration left for this one.
--
-- Tenant-owned rows carry org_id (design §5). The composite foreign keys
-- (org_id, service_id) -> services (org_id, id) make it impossible for a
-- plan, subscription, session, identity or login event to name a service of
-- another organization.
--
-- subscriptions holds only what the active-subscription guards of service
-- and plan deletion need; the billing module fills and extends it.

-- +goose Up
CREATE TABLE services (
    id                     uuid        PRIMARY KEY,
    org_id                 uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug                   text        NOT NULL CHECK (slug ~ '^[A-Za-z0-9_-]{3,50}$'),
    name                   text        NOT NULL CHECK (char_length(name) BETWEEN 2 AND 100),
    service_type           text        NOT NULL CHECK (service_type IN ('web', 'mobile', 'desktop', 'api')),
    -- Public OAuth client id (a UUID string), globally unique.
    client_id              text        NOT NULL CHECK (client_id <> '' AND length(client_id) <= 500),
    -- Lowercase hex SHA-256 of the client secret; the secret is shown once.
    client_secret_hash     text        NOT NULL CHECK (client_secret_hash ~ '^[0-9a-f]{64}$'),
    -- Absolute https (or loopback http) URIs, normalised, matched exactly.
    redirect_uris          jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(redirect_uris) = 'array'),
    device_activation_uri  text        CHECK (length(device_activation_uri) <= 2048),
    github_scopes          jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(github_scopes) = 'array'),
    google_scopes          jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(google_scopes) = 'array'),
    microsoft_scopes       jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(microsoft_scopes) = 'array'),
    -- Permitted RFC 8707 resources of resource-bound tokens (set later).
    resource_uris          jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(resource_uris) = 'array'),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT services_org_id_id_key UNIQUE (org_id, id)
);
-- Slugs are unique per organization regardless of case, like org slugs.
CREATE UNIQUE INDEX services_org_slug_key ON services (org_id, lower(slug));
CREATE UNIQUE INDEX services_client_id_key ON services (client_id);

CREATE TABLE plans (
    id               uuid        PRIMARY KEY,
    org_id           uuid        NOT NULL,
    service_id       uuid        NOT NULL,
    name             text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description      text        CHECK (char_length(description) <= 1000),
    price_cents      bigint      NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency         text        NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    features         jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(features) = 'array'),
    -- The billing provider's price id (Stripe price_..., reused for Polar).
    stripe_price_id  text        CHECK (stripe_price_id <> '' AND length(stripe_price_id) <= 255),
    is_default       boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE CASCADE,
    CONSTRAINT plans_service_id_id_key UNIQUE (service_id, id)
);
CREATE UNIQUE INDEX plans_service_name_key ON plans (service_id, lower(name));
-- At most one default plan per service; making another plan the default
-- clears the flag first, in the same transaction.
CREATE UNIQUE INDEX plans_one_default_key ON plans (service_id) WHERE is_default;

CREATE TABLE subscriptions (
    id                  uuid        PRIMARY KEY,
    org_id              uuid        NOT NULL,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service_id          uuid        NOT NULL,
    -- NULL once the plan is deleted: only plans without active
    -- subscriptions can be deleted, and ended subscriptions keep their row.
    plan_id             uuid,
    -- Status vocabulary of spec §7.2.
    status              text        NOT NULL CHECK (status IN ('active', 'past_due', 'suspended', 'canceled')),
    current_period_end  timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE CASCADE,
    -- The plan belongs to the subscription's service.
    CONSTRAINT subscriptions_plan_fkey FOREIGN KEY (service_id, plan_id) REFERENCES plans (service_id, id) ON DELETE SET NULL (plan_id),
    CONSTRAINT subscriptions_user_service_key UNIQUE (user_id, service_id)
);
CREATE INDEX subscriptions_service_status_idx ON subscriptions (service_id, status);
CREATE INDEX subscriptions_plan_status_idx ON subscriptions (plan_id, status) WHERE plan_id IS NOT NULL;

-- Service foreign keys of the identity tables. A service's sessions and
-- identities go with it (its end users' logins to it end); its login events
-- stay with the organization (MAU and analytics count them) and only forget
-- the service. A service-scoped row always names the organization too.
ALTER TABLE sessions
    ADD CONSTRAINT sessions_service_needs_org CHECK (service_id IS NULL OR org_id IS NOT NULL),
    ADD CONSTRAINT sessions_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE CASCADE;
ALTER TABLE identities
    ADD CONSTRAINT identities_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE CASCADE;
ALTER TABLE login_events
    ADD CONSTRAINT login_events_service_needs_org CHECK (service_id IS NULL OR org_id IS NOT NULL),
    ADD CONSTRAINT login_events_service_fkey FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id) ON DELETE SET NULL (service_id);
CREATE INDEX sessions_service_idx ON sessions (service_id) WHERE service_id IS NOT NULL;
CREATE INDEX identities_service_idx ON identities (service_id) WHERE service_id IS NOT NULL;
CREATE INDEX login_events_service_idx ON login_events (service_id, created_at DESC) WHERE service_id IS NOT NULL;

-- +goose Down
DROP INDEX login_events_service_idx;
DROP INDEX identities_service_idx;
DROP INDEX sessions_service_idx;
ALTER TABLE login_events
    DROP CONSTRAINT login_events_service_fkey,
    DROP CONSTRAINT login_events_service_needs_org;
ALTER TABLE identities DROP CONSTRAINT identities_service_fkey;
ALTER TABLE sessions
    DROP CONSTRAINT sessions_service_fkey,
    DROP CONSTRAINT sessions_service_needs_org;
DROP TABLE subscriptions;
DROP TABLE plans;
DROP TABLE services;
