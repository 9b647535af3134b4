-- Users' mail settings: build-finished mails are on unless turned off.

-- +goose Up
ALTER TABLE users ADD COLUMN notify_build_finished boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE users DROP COLUMN notify_build_finished;
