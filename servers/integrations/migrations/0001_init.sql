CREATE SCHEMA IF NOT EXISTS integrations;

-- user_id is the auth service's id as text (no cross-schema foreign keys).
CREATE TABLE integrations.integrations (
    id             uuid        PRIMARY KEY,
    user_id        text        NOT NULL,
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    type           text        NOT NULL CHECK (type IN ('github', 'slack', 'discord')),
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'error', 'disabled')),
    status_message text        NOT NULL DEFAULT '',
    config         jsonb       NOT NULL DEFAULT '{}',
    -- AES-256-GCM ciphertext (nonce || sealed JSON) and the id of the key that sealed it.
    key_id         text        NOT NULL,
    credentials    bytea       NOT NULL,
    -- Idempotency key of the connect, scoped to the owner.
    request_id     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_sync      timestamptz,
    UNIQUE (user_id, name)
);
CREATE UNIQUE INDEX integrations_request_id ON integrations.integrations (user_id, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX integrations_owner_created ON integrations.integrations (user_id, created_at DESC, id);
-- Rotation finds rows sealed under an old key.
CREATE INDEX integrations_key_id ON integrations.integrations (key_id);

-- Every verified delivery, once per provider delivery id: a replay is a duplicate.
CREATE TABLE integrations.deliveries (
    integration_id uuid        NOT NULL REFERENCES integrations.integrations (id) ON DELETE CASCADE,
    delivery_id    text        NOT NULL,
    event          text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    -- Filled in by the action consumer as each effect lands ("task.created:<id>", ...).
    actions_taken  text[]      NOT NULL DEFAULT '{}',
    processed_at   timestamptz,
    PRIMARY KEY (integration_id, delivery_id)
);

-- Effects on the outside world, once each: the consumer's retries skip what is
-- recorded here, and SendSlackMessage/SendDiscordMessage retries by request_id
-- return the first result.
CREATE TABLE integrations.effects (
    key        text        PRIMARY KEY,
    result     jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
