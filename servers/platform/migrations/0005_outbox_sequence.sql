-- Events are claimed in the order they were written: rows of one transaction share
-- created_at (now() is the transaction's start), so ordering by it left their order to
-- chance (an update could be published before the create of the same transaction).
ALTER TABLE platform.outbox ADD COLUMN IF NOT EXISTS seq bigserial;
CREATE INDEX IF NOT EXISTS outbox_unpublished_seq ON platform.outbox (seq) WHERE published_at IS NULL;
DROP INDEX IF EXISTS platform.outbox_unpublished;
