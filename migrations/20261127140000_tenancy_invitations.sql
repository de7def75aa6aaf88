-- Tenancy invitations (spec §6, §20.2): an organization invites an email
-- address to join with a role; the invitee accepts or declines with the
-- emailed token (or, signed in with that address, by id).
--
-- The token is 32 random bytes shown once (in the create response and the
-- email); only its lowercase hex SHA-256 is stored. Statuses follow the
-- SDK's names: pending -> accepted | declined | cancelled | expired.

-- +goose Up
CREATE TABLE organization_invitations (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    -- owner is never invitable: ownership moves by transfer only.
    role          text        NOT NULL CHECK (role IN ('admin', 'member')),
    -- NULL once the inviter's account is gone.
    invited_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    token_hash    text        NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- When the invitation left pending (accepted, declined, cancelled or expired).
    responded_at  timestamptz,
    CONSTRAINT organization_invitations_token_hash_key UNIQUE (token_hash),
    CONSTRAINT organization_invitations_responded_check CHECK ((status = 'pending') = (responded_at IS NULL))
);
-- One pending invitation per address and organization, whatever the case
-- of the address; answered ones stay as history.
CREATE UNIQUE INDEX organization_invitations_one_pending_key
    ON organization_invitations (org_id, lower(email)) WHERE status = 'pending';
CREATE INDEX organization_invitations_org_idx ON organization_invitations (org_id, created_at DESC, id DESC);
-- The invitee's pending invitations (GET /api/invitations, auto-accept).
CREATE INDEX organization_invitations_email_pending_idx ON organization_invitations (lower(email)) WHERE status = 'pending';
-- The expiry sweep.
CREATE INDEX organization_invitations_expiry_idx ON organization_invitations (expires_at) WHERE status = 'pending';
CREATE INDEX organization_invitations_invited_by_idx ON organization_invitations (invited_by) WHERE invited_by IS NOT NULL;

-- +goose Down
DROP TABLE organization_invitations;
