-- The transactional outbox every service writes its events to, in the same
-- transaction as the state change; the event relay publishes and prunes it.
CREATE TABLE IF NOT EXISTS platform.outbox (
    id           uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    source       text        NOT NULL,
    subject      text        NOT NULL DEFAULT '',
    payload      bytea       NOT NULL,          -- a serialized aether.events.v1.Event
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON platform.outbox (created_at) WHERE published_at IS NULL;
