-- Signing keys of Kiln's access tokens (ES256). Every API node reads them
-- from here so all agree on which keys sign and which verify. The private
-- key is sealed (AES-256-GCM, key derived from auth.secret); is_current is
-- TRUE for the one key that signs and NULL otherwise, so UNIQUE allows only one.
-- A key verifies tokens while retires_at is NULL or in the future.

-- +goose Up
CREATE TABLE signing_keys (
    kid          text        PRIMARY KEY,
    alg          text        NOT NULL,
    public_key   bytea       NOT NULL, -- PKIX DER
    private_key  bytea       NOT NULL, -- sealed PKCS #8 DER
    is_current   boolean     UNIQUE CHECK (is_current),
    created_at   timestamptz NOT NULL,
    retires_at   timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
