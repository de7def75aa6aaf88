-- Tenancy settings that reach outside AuthOS (spec §4.3, §4.4, §20.2): the
-- organization's own SMTP server and its custom domain. Their columns came
-- with the organizations table; this migration adds what the custom domain
-- verification and its daily re-check need, and the invariants both keep.
--
-- A verified domain is re-checked once a day; domain_check_failures counts
-- consecutive failed re-checks, and the third one marks it unverified.

-- +goose Up
ALTER TABLE organizations
    ADD COLUMN domain_verified_at          timestamptz,
    ADD COLUMN domain_verification_method  text CHECK (domain_verification_method IN ('dns', 'http')),
    ADD COLUMN domain_checked_at           timestamptz,
    ADD COLUMN domain_check_failures       integer NOT NULL DEFAULT 0 CHECK (domain_check_failures >= 0),
    -- Domains are stored normalised: lowercase ASCII (punycode), no
    -- trailing dot, at most 253 characters.
    ADD CONSTRAINT organizations_custom_domain_check
        CHECK (custom_domain IS NULL OR (custom_domain = lower(custom_domain) AND custom_domain ~ '^[a-z0-9.-]{3,253}$')),
    ADD CONSTRAINT organizations_domain_verified_check
        CHECK (NOT domain_verified OR (custom_domain IS NOT NULL AND domain_verification_token IS NOT NULL)),
    -- SMTP settings are all set together (username and password are
    -- optional) and a password always names the key it is encrypted under.
    ADD CONSTRAINT organizations_smtp_check
        CHECK (smtp_host IS NULL OR (smtp_port IS NOT NULL AND smtp_from_email IS NOT NULL)),
    ADD CONSTRAINT organizations_smtp_password_check
        CHECK ((smtp_password_encrypted IS NULL) = (smtp_encryption_key_id IS NULL)
               AND (smtp_password_encrypted IS NULL OR smtp_host IS NOT NULL));

-- The daily re-check claims the verified domains checked longest ago.
CREATE INDEX organizations_domain_recheck_idx ON organizations (domain_checked_at NULLS FIRST) WHERE domain_verified;

-- +goose Down
DROP INDEX organizations_domain_recheck_idx;
ALTER TABLE organizations
    DROP CONSTRAINT organizations_smtp_password_check,
    DROP CONSTRAINT organizations_smtp_check,
    DROP CONSTRAINT organizations_domain_verified_check,
    DROP CONSTRAINT organizations_custom_domain_check,
    DROP COLUMN domain_check_failures,
    DROP COLUMN domain_checked_at,
    DROP COLUMN domain_verification_method,
    DROP COLUMN domain_verified_at;
