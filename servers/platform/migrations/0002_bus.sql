-- The event backbone (servers/platform/bus): wake-ups for the relay, the
-- consumers' inbox (dedupe by event id) and the embedded PostgreSQL transport
-- (subscriptions, per-consumer deliveries with retries and dead letters).

-- Every statement that writes events wakes the relays (LISTEN aether_outbox);
-- they also poll, so a lost notification only delays delivery.
CREATE OR REPLACE FUNCTION platform.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aether_outbox', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS outbox_notify ON platform.outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON platform.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION platform.notify_outbox();
CREATE INDEX IF NOT EXISTS outbox_published ON platform.outbox (published_at) WHERE published_at IS NOT NULL;

-- Events a consumer has handled, written in the handler's transaction: a
-- redelivered event finds its row and is acknowledged without running again.
CREATE TABLE IF NOT EXISTS platform.inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_processed ON platform.inbox (processed_at);

-- Embedded transport: a durable subscription per consumer and binding pattern
-- (AMQP topic syntax, compiled to an anchored regex matched against '.' || type).
CREATE TABLE IF NOT EXISTS platform.subscriptions (
    consumer   text        NOT NULL,
    pattern    text        NOT NULL,
    regex      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, pattern)
);

-- Embedded transport: one row per (event, consumer) until the consumer's
-- handler commits (row deleted) or it dead-letters (dead_at set).
CREATE TABLE IF NOT EXISTS platform.deliveries (
    id           bigserial   PRIMARY KEY,
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    payload      bytea       NOT NULL,          -- the serialized aether.events.v1.Event
    attempts     int         NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error   text,
    dead_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON platform.deliveries (consumer, available_at) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_dead ON platform.deliveries (consumer, dead_at) WHERE dead_at IS NOT NULL;

CREATE OR REPLACE FUNCTION platform.notify_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aether_deliveries', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS deliveries_notify ON platform.deliveries;
CREATE TRIGGER deliveries_notify AFTER INSERT OR UPDATE OF available_at ON platform.deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION platform.notify_deliveries();
