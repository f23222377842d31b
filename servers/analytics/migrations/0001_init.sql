-- Analytics: raw events (deduplicated by event id), rollups maintained on
-- write so usage queries never scan raw events, and reported errors.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.events (
    id          uuid        PRIMARY KEY,           -- the bus event id or RecordEvent's id
    event_type  text        NOT NULL,
    user_id     text        NOT NULL DEFAULT '',
    source      text        NOT NULL,              -- emitting service, or "client"
    subject     text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    metadata    jsonb       NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_occurred ON analytics.events (occurred_at);
CREATE INDEX IF NOT EXISTS events_user ON analytics.events (user_id, occurred_at);

-- Continuous aggregation on write: one row per (bucket, event type, user),
-- incremented in the transaction that inserts the raw event.
CREATE TABLE IF NOT EXISTS analytics.usage_hourly (
    bucket     timestamptz NOT NULL,
    event_type text        NOT NULL,
    user_id    text        NOT NULL,
    count      bigint      NOT NULL,
    PRIMARY KEY (bucket, event_type, user_id)
);
CREATE INDEX IF NOT EXISTS usage_hourly_user ON analytics.usage_hourly (user_id, bucket);
CREATE TABLE IF NOT EXISTS analytics.usage_daily (
    bucket     timestamptz NOT NULL,                -- midnight UTC
    event_type text        NOT NULL,
    user_id    text        NOT NULL,
    count      bigint      NOT NULL,
    PRIMARY KEY (bucket, event_type, user_id)
);
CREATE INDEX IF NOT EXISTS usage_daily_user ON analytics.usage_daily (user_id, bucket);

CREATE TABLE IF NOT EXISTS analytics.errors (
    event_id    uuid        PRIMARY KEY,
    service     text        NOT NULL,
    severity    text        NOT NULL,
    message     text        NOT NULL,
    error_type  text        NOT NULL DEFAULT '',
    operation   text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    trace_id    text        NOT NULL DEFAULT '',
    user_id     text        NOT NULL DEFAULT '',
    details     jsonb       NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_occurred ON analytics.errors (occurred_at);

-- RecordEvent idempotency keys (per caller, honoured for 24 hours).
CREATE TABLE IF NOT EXISTS analytics.record_requests (
    user_id    text        NOT NULL,
    request_id text        NOT NULL,
    event_id   uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, request_id)
);
