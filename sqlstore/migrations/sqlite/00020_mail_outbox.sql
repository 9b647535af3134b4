-- The mail outbox: a message is written in the same transaction as what
-- causes it and sent by a queue job (see docs/EMAIL.md). message_id is the
-- stable id senders use as Message-ID; the bodies and link are cleared once
-- the message is sent, since they may hold single-use links.

-- +goose Up
CREATE TABLE mail_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    to_addr    TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    text_body  TEXT    NOT NULL,
    html_body  TEXT    NOT NULL,
    link       TEXT    NOT NULL DEFAULT '',
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    status     TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    sent_at    TEXT
);
CREATE INDEX mail_outbox_status ON mail_outbox (status, id);
CREATE INDEX mail_outbox_to ON mail_outbox (to_addr, id);

-- +goose Down
DROP TABLE mail_outbox;
