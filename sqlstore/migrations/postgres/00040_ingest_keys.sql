-- Ingest keys: per-app credentials that generated apps send analytics
-- events with. Only the SHA-256 of the secret is kept.

-- +goose Up
CREATE TABLE ingest_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id       bigint      NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    hash         text        NOT NULL UNIQUE,
    rate_limit   integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX ingest_keys_app ON ingest_keys (app_id, id);

-- +goose Down
DROP TABLE ingest_keys;
