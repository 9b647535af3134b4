-- Plan previews (POST /v1/plan) call the model outside any build; their calls
-- are stored with no build so they count toward the user's monthly budget.

-- +goose Up
ALTER TABLE llm_calls ALTER COLUMN build_id DROP NOT NULL;

-- +goose Down
DELETE FROM llm_calls WHERE build_id IS NULL;
ALTER TABLE llm_calls ALTER COLUMN build_id SET NOT NULL;
