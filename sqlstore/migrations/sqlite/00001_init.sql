-- Kiln's first schema on SQLite. Timestamps are TEXT in a fixed-width UTC
-- format ("2006-01-02T15:04:05.000000Z") so they compare and sort as text;
-- booleans are INTEGER 0/1; JSON documents are TEXT.

-- +goose Up
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL,
    email_key      TEXT    NOT NULL UNIQUE, -- the email folded to lower case
    password_hash  TEXT    NOT NULL DEFAULT '',
    email_verified INTEGER NOT NULL DEFAULT 0,
    role           TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    expires_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    expires_at TEXT    NOT NULL,
    revoked_at TEXT,
    created_at TEXT    NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE one_time_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    expires_at TEXT    NOT NULL,
    used_at    TEXT,
    created_at TEXT    NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

CREATE TABLE apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    spec        TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX apps_owner ON apps (owner_id, id);

CREATE TABLE builds (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id           INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    owner_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    step             TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    spec             TEXT,
    no_cache         INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease            TEXT,
    heartbeat_at     TEXT,
    created_at       TEXT    NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, number)
);
CREATE INDEX builds_owner ON builds (owner_id, id);
CREATE INDEX builds_owner_status ON builds (owner_id, status, id);
CREATE INDEX builds_app ON builds (app_id, id);
CREATE INDEX builds_status ON builds (status, id);
CREATE INDEX builds_leased ON builds (heartbeat_at) WHERE lease IS NOT NULL;

CREATE TABLE build_steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id    INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    started_at  TEXT    NOT NULL,
    finished_at TEXT
);
CREATE INDEX build_steps_build ON build_steps (build_id, id);

CREATE TABLE build_events (
    build_id INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    time     TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    stream   TEXT    NOT NULL DEFAULT '',
    text     TEXT    NOT NULL DEFAULT '',
    data     TEXT,
    PRIMARY KEY (build_id, seq)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id   INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT    NOT NULL,
    location   TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX artifacts_build ON artifacts (build_id, id);

CREATE TABLE idempotency_records (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);

-- +goose Down
DROP TABLE idempotency_records;
DROP TABLE artifacts;
DROP TABLE build_events;
DROP TABLE build_steps;
DROP TABLE builds;
DROP TABLE apps;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE api_tokens;
DROP TABLE users;
