-- BM25 for lexical search (servers/rag/queries.py) needs each user's corpus
-- statistics: how many chunk rows contain each lexeme (its document frequency),
-- how many chunk rows there are and their total length. Triggers keep them in
-- the statement, so in the transaction, that writes or deletes chunk rows:
-- publishing a re-ingest (old generation deleted), a failed ingest's cleanup,
-- a document's delete (cascaded) all leave them exact. Rows of an unpublished
-- generation count while they exist, as they would in any index being built.
-- Chunk rows are inserted and deleted, never updated.

-- A tsvector's length in tokens (stop words left out), for BM25's length norm.
CREATE FUNCTION rag.term_count(tsvector) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(sum(array_length(positions, 1)), 0)::integer FROM unnest($1) $$;

ALTER TABLE rag.chunks
    ADD COLUMN term_count integer GENERATED ALWAYS AS (rag.term_count(to_tsvector('english', text))) STORED;

CREATE TABLE rag.lexicon (
    user_id  text    NOT NULL,
    lexeme   text    NOT NULL,
    chunks   integer NOT NULL,  -- the user's chunk rows containing the lexeme
    PRIMARY KEY (user_id, lexeme)
);

CREATE TABLE rag.lexical_totals (
    user_id  text   PRIMARY KEY,
    chunks   bigint NOT NULL,
    terms    bigint NOT NULL  -- sum of the chunks' term_count
);

INSERT INTO rag.lexical_totals (user_id, chunks, terms)
SELECT user_id, count(*), sum(term_count) FROM rag.chunks GROUP BY user_id;
INSERT INTO rag.lexicon (user_id, lexeme, chunks)
SELECT user_id, lexeme, count(*) FROM rag.chunks, unnest(tsvector_to_array(tsv)) AS lexeme
GROUP BY user_id, lexeme;

-- One upsert per statement of the rows it inserted (+1) or deleted (-1), in key
-- order, so concurrent writers of one user take row locks in the same order.
CREATE FUNCTION rag.count_lexemes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO rag.lexical_totals AS t (user_id, chunks, terms)
    SELECT user_id, delta * count(*), delta * sum(term_count) FROM changed GROUP BY user_id ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET chunks = t.chunks + excluded.chunks, terms = t.terms + excluded.terms;
    INSERT INTO rag.lexicon AS l (user_id, lexeme, chunks)
    SELECT user_id, lexeme, delta * count(*) FROM changed, unnest(tsvector_to_array(tsv)) AS lexeme
    GROUP BY user_id, lexeme ORDER BY user_id, lexeme
    ON CONFLICT (user_id, lexeme) DO UPDATE SET chunks = l.chunks + excluded.chunks;
    IF delta < 0 THEN  -- rows this statement already locked
        DELETE FROM rag.lexicon l
        USING (SELECT DISTINCT user_id, unnest(tsvector_to_array(tsv)) AS lexeme FROM changed) c
        WHERE l.user_id = c.user_id AND l.lexeme = c.lexeme AND l.chunks = 0;
        DELETE FROM rag.lexical_totals t USING (SELECT DISTINCT user_id FROM changed) c
        WHERE t.user_id = c.user_id AND t.chunks = 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER chunks_counted_in AFTER INSERT ON rag.chunks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rag.count_lexemes();
CREATE TRIGGER chunks_counted_out AFTER DELETE ON rag.chunks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rag.count_lexemes();
