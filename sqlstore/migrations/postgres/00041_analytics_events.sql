-- Analytics events and their rollups. Events are partitioned by day of
-- their time; the maintenance job creates partitions ahead and drops those
-- past retention. Rollup buckets are unix seconds.

-- +goose Up
CREATE SEQUENCE analytics_events_id_seq;
CREATE TABLE analytics_events (
    id         bigint           NOT NULL DEFAULT nextval('analytics_events_id_seq'), -- ingest order
    app_id     bigint           NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    ts         timestamptz      NOT NULL,
    name       text             NOT NULL,
    user_id    text,
    session_id text,
    value      double precision,
    props      jsonb
) PARTITION BY RANGE (ts);
ALTER SEQUENCE analytics_events_id_seq OWNED BY analytics_events.id;
CREATE INDEX analytics_events_app_ts ON analytics_events (app_id, ts);
CREATE INDEX analytics_events_id ON analytics_events (id);

CREATE TABLE analytics_rollups (
    app_id      bigint           NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    granularity integer          NOT NULL, -- bucket width in seconds: 60, 3600 or 86400
    bucket      bigint           NOT NULL, -- bucket start, unix seconds
    name        text             NOT NULL,
    count       bigint           NOT NULL,
    value_count bigint           NOT NULL,
    value_sum   double precision NOT NULL,
    value_min   double precision,
    value_max   double precision,
    sketch      bytea            NOT NULL,
    users       bytea            NOT NULL,
    props       bytea            NOT NULL,
    PRIMARY KEY (app_id, granularity, bucket, name)
);

CREATE TABLE analytics_state (
    id           integer PRIMARY KEY CHECK (id = 1),
    rolled_up_to bigint  NOT NULL
);
INSERT INTO analytics_state (id, rolled_up_to) VALUES (1, 0);

-- +goose Down
DROP TABLE analytics_state;
DROP TABLE analytics_rollups;
DROP TABLE analytics_events;
