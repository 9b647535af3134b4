-- Live event streams: every build event also gets a place in its owner's
-- sequence (user_seq), so a stream of all of a user's builds can resume;
-- stream tickets for browsers; log retention bookkeeping.

-- +goose Up
ALTER TABLE build_events ADD COLUMN owner_id bigint;
ALTER TABLE build_events ADD COLUMN user_seq bigint;

UPDATE build_events e SET owner_id = b.owner_id FROM builds b WHERE b.id = e.build_id;
UPDATE build_events e SET user_seq = n.rn
FROM (SELECT build_id, seq, row_number() OVER (PARTITION BY owner_id ORDER BY build_id, seq) AS rn FROM build_events) AS n
WHERE n.build_id = e.build_id AND n.seq = e.seq;

CREATE INDEX build_events_owner ON build_events (owner_id, user_seq);

-- The last user_seq handed out per owner. Its row is locked (upserted)
-- by every transaction that appends events, which orders one owner's
-- events by commit.
CREATE TABLE event_counters (
    owner_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_seq bigint NOT NULL
);
INSERT INTO event_counters (owner_id, last_seq)
SELECT owner_id, max(user_seq) FROM build_events WHERE owner_id IS NOT NULL GROUP BY owner_id;

-- When the build's log lines were removed by the retention job.
ALTER TABLE builds ADD COLUMN logs_pruned_at timestamptz;
CREATE INDEX builds_log_retention ON builds (finished_at) WHERE logs_pruned_at IS NULL AND finished_at IS NOT NULL;

CREATE TABLE stream_tickets (
    hash       text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX stream_tickets_expires ON stream_tickets (expires_at);

-- +goose Down
DROP TABLE stream_tickets;
DROP INDEX builds_log_retention;
ALTER TABLE builds DROP COLUMN logs_pruned_at;
DROP TABLE event_counters;
DROP INDEX build_events_owner;
ALTER TABLE build_events DROP COLUMN user_seq;
ALTER TABLE build_events DROP COLUMN owner_id;
