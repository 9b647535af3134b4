-- Language-model calls: one row per call, attributed to the build step that
-- made it, so builds show their token usage and budgets per build and per
-- user per month can be enforced.

-- +goose Up
CREATE TABLE llm_calls (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id          bigint           NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    owner_id          bigint           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step              text             NOT NULL,
    model             text             NOT NULL,
    prompt_tokens     bigint           NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens bigint           NOT NULL CHECK (completion_tokens >= 0),
    cost_usd          double precision NOT NULL DEFAULT 0,
    created_at        timestamptz      NOT NULL
);
CREATE INDEX llm_calls_build ON llm_calls (build_id, id);
CREATE INDEX llm_calls_owner_time ON llm_calls (owner_id, created_at);

-- +goose Down
DROP TABLE llm_calls;
