CREATE SCHEMA IF NOT EXISTS ai;

-- The usage ledger: one row per finished request (chat, streamed chat,
-- embeddings), successful, failed, cached or cancelled alike. Usage reports
-- and analytics are computed from it.
CREATE TABLE ai.usage (
    id             bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     text          NOT NULL,
    user_id        text          NOT NULL,
    operation      text          NOT NULL CHECK (operation IN ('chat', 'stream_chat', 'embeddings')),
    model          text          NOT NULL,
    provider       text          NOT NULL,
    fallback_from  text          NOT NULL DEFAULT '',
    input_tokens   integer       NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens  integer       NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd       numeric(18,9) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    latency_ms     integer       NOT NULL DEFAULT 0,
    cached         boolean       NOT NULL DEFAULT false,
    streamed       boolean       NOT NULL DEFAULT false,
    cancelled      boolean       NOT NULL DEFAULT false,
    success        boolean       NOT NULL,
    error_code     text          NOT NULL DEFAULT '',
    created_at     timestamptz   NOT NULL DEFAULT now()
);

-- A user's usage over a range is an index-only scan.
CREATE INDEX usage_user_time ON ai.usage (user_id, created_at)
    INCLUDE (model, input_tokens, output_tokens, cost_usd);
CREATE INDEX usage_time ON ai.usage (created_at)
    INCLUDE (model, input_tokens, output_tokens, cost_usd);

-- Each user's default chat model (SwitchModel).
CREATE TABLE ai.preferences (
    user_id        text          PRIMARY KEY,
    default_model  text          NOT NULL,
    updated_at     timestamptz   NOT NULL DEFAULT now()
);
