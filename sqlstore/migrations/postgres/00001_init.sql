-- Kiln's first schema on PostgreSQL. Tables are created unqualified so they
-- land in the schema the connection's search_path names.

-- +goose Up
CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text        NOT NULL,
    email_key      text        NOT NULL UNIQUE, -- the email folded to lower case
    password_hash  text        NOT NULL DEFAULT '',
    email_verified boolean     NOT NULL DEFAULT false,
    role           text        NOT NULL CHECK (role IN ('user', 'admin')),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    hash         text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE refresh_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     text        NOT NULL,
    hash       text        NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE one_time_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       text        NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

CREATE TABLE apps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    description text        NOT NULL,
    spec        jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX apps_owner ON apps (owner_id, id);

CREATE TABLE builds (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id           bigint      NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    owner_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number           integer     NOT NULL,
    status           text        NOT NULL,
    step             text        NOT NULL DEFAULT '',
    error            text        NOT NULL DEFAULT '',
    spec             jsonb,
    no_cache         boolean     NOT NULL DEFAULT false,
    cancel_requested boolean     NOT NULL DEFAULT false,
    attempt          integer     NOT NULL DEFAULT 0,
    lease            text,
    heartbeat_at     timestamptz,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    last_seq         bigint      NOT NULL DEFAULT 0,
    UNIQUE (app_id, number)
);
CREATE INDEX builds_owner ON builds (owner_id, id);
CREATE INDEX builds_owner_status ON builds (owner_id, status, id);
CREATE INDEX builds_app ON builds (app_id, id);
CREATE INDEX builds_status ON builds (status, id);
CREATE INDEX builds_leased ON builds (heartbeat_at) WHERE lease IS NOT NULL;

CREATE TABLE build_steps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id    bigint      NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    outcome     text        NOT NULL,
    error       text        NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX build_steps_build ON build_steps (build_id, id);

CREATE TABLE build_events (
    build_id bigint      NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq      bigint      NOT NULL,
    time     timestamptz NOT NULL,
    kind     text        NOT NULL,
    stream   text        NOT NULL DEFAULT '',
    text     text        NOT NULL DEFAULT '',
    data     jsonb,
    PRIMARY KEY (build_id, seq)
);

CREATE TABLE artifacts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id   bigint      NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    name       text        NOT NULL,
    size       bigint      NOT NULL,
    sha256     text        NOT NULL,
    location   text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX artifacts_build ON artifacts (build_id, id);

CREATE TABLE idempotency_records (
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
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
