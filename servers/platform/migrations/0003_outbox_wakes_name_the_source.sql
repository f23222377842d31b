-- A wake-up names the source of the events it announces (one notification per source and
-- transaction: PostgreSQL folds identical ones), so a server's relay wakes only for its own
-- domains' commits instead of on every service's (each wasted wake-up was a claim transaction
-- that found nothing). Rows of a source no running relay owns are still found by polling.
CREATE OR REPLACE FUNCTION platform.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src text;
BEGIN
    FOR src IN SELECT DISTINCT source FROM inserted LOOP
        PERFORM pg_notify('aether_outbox', src);
    END LOOP;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS outbox_notify ON platform.outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON platform.outbox
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION platform.notify_outbox();
