-- Provider token refresh (spec §1.13): the hourly job looks up the Google
-- and Microsoft tokens of service identities that expire within the hour
-- and still have a refresh token (one the provider refused is removed, so
-- the identity is not retried until the user signs in again).

-- +goose Up
CREATE INDEX identities_refresh_due_idx ON identities (expires_at)
    WHERE refresh_token_encrypted IS NOT NULL AND service_id IS NOT NULL AND provider IN ('google', 'microsoft');

-- +goose Down
DROP INDEX identities_refresh_due_idx;
