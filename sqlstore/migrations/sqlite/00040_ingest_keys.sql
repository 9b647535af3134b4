-- Ingest keys: per-app credentials that generated apps send analytics
-- events with. Only the SHA-256 of the secret is kept.

-- +goose Up
CREATE TABLE ingest_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    rate_limit   INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT    NOT NULL,
    rotated_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX ingest_keys_app ON ingest_keys (app_id, id);

-- +goose Down
DROP TABLE ingest_keys;
