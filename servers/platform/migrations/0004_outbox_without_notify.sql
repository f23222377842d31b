-- Relays are woken in their own process by the commits that wrote events
-- (servers/platform/events.py, `committed`) and poll for the rest. A NOTIFY per
-- commit held PostgreSQL's cluster-wide notification lock through the commit's WAL
-- flush, so every commit that wrote events waited for the one before it.
DROP TRIGGER IF EXISTS outbox_notify ON platform.outbox;
DROP FUNCTION IF EXISTS platform.notify_outbox();
