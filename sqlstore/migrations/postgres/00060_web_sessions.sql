-- Web portal sessions: the browser's cookie holds a secret, the row is keyed
-- by its SHA-256 and data holds the user's API tokens sealed with a key
-- derived from the secret (see portal/session.go).

-- +goose Up
CREATE TABLE web_sessions (
    id         text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
