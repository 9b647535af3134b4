-- Analytics events and their rollups. Event times are INTEGER unix
-- microseconds and rollup buckets INTEGER unix seconds: compact, and fast
-- to range over and to bucket.

-- +goose Up
CREATE TABLE analytics_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- ingest order; never reused
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    ts         INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    value      REAL,
    props      TEXT -- a flat JSON object, NULL when the event has none
);
CREATE INDEX analytics_events_app_ts ON analytics_events (app_id, ts);

-- One row per app, bucket width, bucket and event name.
CREATE TABLE analytics_rollups (
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    granularity INTEGER NOT NULL, -- bucket width in seconds: 60, 3600 or 86400
    bucket      INTEGER NOT NULL, -- bucket start, unix seconds
    name        TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    value_count INTEGER NOT NULL,
    value_sum   REAL    NOT NULL,
    value_min   REAL,
    value_max   REAL,
    sketch      BLOB    NOT NULL, -- DDSketch of the values
    users       BLOB    NOT NULL, -- HyperLogLog of the user ids
    props       BLOB    NOT NULL, -- top values per property
    PRIMARY KEY (app_id, granularity, bucket, name)
);

-- rolled_up_to is the highest event id the rollups include.
CREATE TABLE analytics_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_up_to INTEGER NOT NULL
);
INSERT INTO analytics_state (id, rolled_up_to) VALUES (1, 0);

-- +goose Down
DROP TABLE analytics_state;
DROP TABLE analytics_rollups;
DROP TABLE analytics_events;
