CREATE SCHEMA IF NOT EXISTS rag;

-- A document's chunks have a generation: the one the document row names is the
-- searchable one. Ingest writes rows of a new generation first (invisible), then
-- the vectors to Chroma, then flips the document to it in one transaction, so
-- a search sees the old chunks or the new ones, never both or neither.
CREATE SEQUENCE rag.generations;

CREATE TABLE rag.documents (
    id               uuid        PRIMARY KEY,
    user_id          text        NOT NULL,
    title            text        NOT NULL,
    source_type      text        NOT NULL CHECK (source_type IN ('text', 'markdown', 'pdf', 'url')),
    source_url       text        NOT NULL DEFAULT '',
    status           text        NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    status_message   text        NOT NULL DEFAULT '',
    metadata         jsonb       NOT NULL DEFAULT '{}',
    chunk_count      integer     NOT NULL DEFAULT 0,
    chunk_size       integer     NOT NULL,
    chunk_overlap    integer     NOT NULL,
    size_bytes       bigint      NOT NULL DEFAULT 0,
    content_sha256   text        NOT NULL,
    embedding_model  text        NOT NULL DEFAULT '',
    generation       bigint      NOT NULL,
    request_id       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_owner_created ON rag.documents (user_id, created_at DESC, id);
CREATE INDEX documents_owner_hash ON rag.documents (user_id, content_sha256) WHERE status = 'ready';
CREATE UNIQUE INDEX documents_owner_request ON rag.documents (user_id, request_id) WHERE request_id <> '';
CREATE INDEX documents_processing ON rag.documents (updated_at) WHERE status = 'processing';

CREATE TABLE rag.chunks (
    id           text        PRIMARY KEY,  -- "<document id>:<generation>:<index>", also the Chroma id
    document_id  uuid        NOT NULL REFERENCES rag.documents (id) ON DELETE CASCADE,
    user_id      text        NOT NULL,
    generation   bigint      NOT NULL,
    chunk_index  integer     NOT NULL,
    page         integer     NOT NULL DEFAULT 0,
    heading      text        NOT NULL DEFAULT '',
    text         text        NOT NULL,
    tsv          tsvector    GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chunks_document ON rag.chunks (document_id, generation);
CREATE INDEX chunks_owner_tsv ON rag.chunks USING gin (tsv);
CREATE INDEX chunks_owner ON rag.chunks (user_id);
