-- The Code Assistant's own schema: review history (no other service reads it).
CREATE SCHEMA IF NOT EXISTS code;

-- One stored review. The reviewed code is not kept, only its hash and size;
-- findings, analyzer runs and the AI outcome are JSONB documents of the review.
CREATE TABLE code.reviews (
    id              uuid        PRIMARY KEY,
    user_id         text        NOT NULL,
    language        text        NOT NULL,
    score           integer     NOT NULL CHECK (score BETWEEN 0 AND 100),
    issues          jsonb       NOT NULL,
    security_issues jsonb       NOT NULL,
    suggestions     jsonb       NOT NULL,
    cyclomatic      integer     NOT NULL,
    cognitive       integer     NOT NULL,
    lines_of_code   integer     NOT NULL,
    code_sha256     text        NOT NULL,
    partial         boolean     NOT NULL,
    analyzers       jsonb       NOT NULL,
    ai              jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Idempotency key of the review, scoped to the user.
    request_id      text
);

-- Owner scoping: a user's reviews by either sort key.
CREATE INDEX reviews_user_created ON code.reviews (user_id, created_at DESC, id DESC);
CREATE INDEX reviews_user_score ON code.reviews (user_id, score DESC, id DESC);
CREATE UNIQUE INDEX reviews_request_id ON code.reviews (user_id, request_id) WHERE request_id IS NOT NULL;
