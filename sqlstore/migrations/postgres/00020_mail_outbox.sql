-- The mail outbox: a message is written in the same transaction as what
-- causes it and sent by a queue job (see docs/EMAIL.md). message_id is the
-- stable id senders use as Message-ID; the bodies and link are cleared once
-- the message is sent, since they may hold single-use links.

-- +goose Up
CREATE TABLE mail_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text        NOT NULL UNIQUE,
    kind       text        NOT NULL,
    to_addr    text        NOT NULL,
    subject    text        NOT NULL,
    text_body  text        NOT NULL,
    html_body  text        NOT NULL,
    link       text        NOT NULL DEFAULT '',
    user_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    status     text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    sent_at    timestamptz
);
CREATE INDEX mail_outbox_status ON mail_outbox (status, id);
CREATE INDEX mail_outbox_to ON mail_outbox (to_addr, id);

-- +goose Down
DROP TABLE mail_outbox;
