-- Plan previews (POST /v1/plan) call the model outside any build; their calls
-- are stored with no build so they count toward the user's monthly budget.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt.

-- +goose Up
CREATE TABLE llm_calls_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id          INTEGER REFERENCES builds (id) ON DELETE CASCADE,
    owner_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step              TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cost_usd          REAL    NOT NULL DEFAULT 0,
    created_at        TEXT    NOT NULL
);
INSERT INTO llm_calls_new SELECT id, build_id, owner_id, step, model, prompt_tokens, completion_tokens, cost_usd, created_at FROM llm_calls;
DROP TABLE llm_calls;
ALTER TABLE llm_calls_new RENAME TO llm_calls;
CREATE INDEX llm_calls_build ON llm_calls (build_id, id);
CREATE INDEX llm_calls_owner_time ON llm_calls (owner_id, created_at);

-- +goose Down
CREATE TABLE llm_calls_old (
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
INSERT INTO llm_calls_old SELECT * FROM llm_calls WHERE build_id IS NOT NULL;
DROP TABLE llm_calls;
ALTER TABLE llm_calls_old RENAME TO llm_calls;
CREATE INDEX llm_calls_build ON llm_calls (build_id, id);
CREATE INDEX llm_calls_owner_time ON llm_calls (owner_id, created_at);
