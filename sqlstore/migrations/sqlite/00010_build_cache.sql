-- The content-addressed build cache: a build records the key of what it
-- makes (spec, template set and content, toolchain, model settings); a
-- later build of the same owner with the same key reuses the output of
-- the newest one that succeeded, and records which build that was.

-- +goose Up
ALTER TABLE builds ADD COLUMN cache_key TEXT NOT NULL DEFAULT '';
ALTER TABLE builds ADD COLUMN cached_from INTEGER REFERENCES builds (id) ON DELETE SET NULL;
CREATE INDEX builds_cache ON builds (owner_id, cache_key, id) WHERE cache_key <> '' AND status = 'succeeded';

-- +goose Down
DROP INDEX builds_cache;
ALTER TABLE builds DROP COLUMN cached_from;
ALTER TABLE builds DROP COLUMN cache_key;
