-- Admins made by the OIDC provider's admin group: a later login outside the
-- group takes admin away from them, never from admins made by hand.

-- +goose Up
ALTER TABLE users ADD COLUMN admin_from_oidc INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN admin_from_oidc;
