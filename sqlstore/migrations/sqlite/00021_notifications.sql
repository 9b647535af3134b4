-- Users' mail settings: build-finished mails are on unless turned off.

-- +goose Up
ALTER TABLE users ADD COLUMN notify_build_finished INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE users DROP COLUMN notify_build_finished;
