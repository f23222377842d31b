CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,      -- normalized: trimmed, lower-cased
    name          text        NOT NULL,
    password_hash text        NOT NULL,             -- argon2id PHC string
    roles         text[]      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored only as SHA-256 hashes. Every login starts a family;
-- each refresh spends one token (used_at) and issues its child. Presenting a
-- spent token revokes the family (reuse detection).
CREATE TABLE auth.refresh_tokens (
    id         uuid        PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL UNIQUE,
    parent_id  uuid        REFERENCES auth.refresh_tokens (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON auth.refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Token signing keys; private keys sealed with AETHER_SECRET_KEY (AES-GCM, kid as AAD).
-- Age decides a key's life (published, signing, published-only, gone: see keys.py);
-- revoked_at withdraws a compromised key at once.
CREATE TABLE auth.signing_keys (
    kid                text        PRIMARY KEY,
    algorithm          text        NOT NULL,
    private_key_sealed bytea       NOT NULL,
    public_jwk         jsonb       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);
CREATE INDEX signing_keys_live ON auth.signing_keys (created_at DESC) WHERE revoked_at IS NULL;
