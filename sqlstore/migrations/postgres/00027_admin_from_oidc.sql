-- Admins made by the OIDC provider's admin group: a later login outside the
-- group takes admin away from them, never from admins made by hand.

-- +goose Up
ALTER TABLE users ADD COLUMN admin_from_oidc boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE users DROP COLUMN admin_from_oidc;
