-- Language-model calls: one row per call, attributed to the build step that
-- made it, so builds show their token usage and budgets per build and per
-- user per month can be enforced.

-- +goose Up
CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id          INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    owner_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step              TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cost_usd          REAL    NOT NULL DEFAULT 0,
    created_at        TEXT    NOT NULL
);
CREATE INDEX llm_calls_build ON llm_calls (build_id, id);
CREATE INDEX llm_calls_owner_time ON llm_calls (owner_id, created_at);

-- +goose Down
DROP TABLE llm_calls;
