-- Signing keys of Kiln's access tokens (ES256). Every API node reads them
-- from here so all agree on which keys sign and which verify. The private
-- key is sealed (AES-256-GCM, key derived from auth.secret); is_current is
-- 1 for the one key that signs and NULL otherwise, so UNIQUE allows only one.
-- A key verifies tokens while retires_at is NULL or in the future.

-- +goose Up
CREATE TABLE signing_keys (
    kid          TEXT    PRIMARY KEY,
    alg          TEXT    NOT NULL,
    public_key   BLOB    NOT NULL, -- PKIX DER
    private_key  BLOB    NOT NULL, -- sealed PKCS #8 DER
    is_current   INTEGER UNIQUE CHECK (is_current = 1),
    created_at   TEXT    NOT NULL,
    retires_at   TEXT
);

-- +goose Down
DROP TABLE signing_keys;
