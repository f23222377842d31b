"""PostgreSQL persistence of the auth service (schema `auth`): the repository
inside a unit of work (users, refresh tokens) and the signing-key store. Reads
outside a transaction live in servers.auth.queries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from servers.auth.domain import RefreshToken, User
from servers.auth.keys import StoredKey

USER_COLUMNS = "id, email, name, roles, created_at, disabled_at IS NOT NULL AS disabled"


def user_from_row(row: asyncpg.Record) -> User:
    return User(
        str(row["id"]), row["email"], row["name"], tuple(row["roles"]), row["created_at"], row["disabled"]
    )


@dataclass
class AuthRepository:
    """Users and refresh tokens on the connection of one unit of work."""

    conn: asyncpg.Connection

    async def insert_user(
        self, email: str, name: str, password_hash: str, roles: tuple[str, ...]
    ) -> User | None:
        """The new user; None if the email is taken."""
        row = await self.conn.fetchrow(
            f"""INSERT INTO auth.users (id, email, name, password_hash, roles)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING
                RETURNING {USER_COLUMNS}""",  # noqa: S608
            uuid.uuid4(),
            email,
            name,
            password_hash,
            list(roles),
        )
        return user_from_row(row) if row else None

    async def update_password_hash(self, user_id: str, password_hash: str) -> None:
        await self.conn.execute(
            "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
            uuid.UUID(user_id),
            password_hash,
        )

    async def insert_refresh(
        self,
        token_hash: bytes,
        user_id: str,
        family_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        expires_at: datetime,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, parent_id, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            uuid.uuid4(),
            family_id,
            uuid.UUID(user_id),
            token_hash,
            parent_id,
            expires_at,
        )

    async def lock_refresh(self, token_hash: bytes) -> RefreshToken | None:
        """The token with this hash, row-locked until the transaction ends."""
        row = await self.conn.fetchrow(
            """SELECT id, family_id, user_id, expires_at, used_at, revoked_at
               FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE""",
            token_hash,
        )
        if row is None:
            return None
        return RefreshToken(**{**dict(row), "user_id": str(row["user_id"])})

    async def mark_used(self, token_id: uuid.UUID) -> None:
        await self.conn.execute("UPDATE auth.refresh_tokens SET used_at = now() WHERE id = $1", token_id)

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )

    async def family_of(self, token_hash: bytes, user_id: str) -> uuid.UUID | None:
        """The family of this user's token with this hash (None: not theirs or unknown)."""
        family: uuid.UUID | None = await self.conn.fetchval(
            "SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1 AND user_id = $2",
            token_hash,
            uuid.UUID(user_id),
        )
        return family

    async def revoke_all_families(self, user_id: str) -> int:
        """Revoke every live refresh token of the user; how many families that ended."""
        families = await self.conn.fetchval(
            """WITH revoked AS (
                 UPDATE auth.refresh_tokens SET revoked_at = now()
                 WHERE user_id = $1 AND revoked_at IS NULL RETURNING family_id)
               SELECT count(DISTINCT family_id) FROM revoked""",
            uuid.UUID(user_id),
        )
        return int(families or 0)

    async def set_roles(self, user_id: str, roles: tuple[str, ...]) -> User | None:
        row = await self.conn.fetchrow(
            f"""UPDATE auth.users SET roles = $2, updated_at = now() WHERE id = $1
                RETURNING {USER_COLUMNS}""",  # noqa: S608
            uuid.UUID(user_id),
            list(roles),
        )
        return user_from_row(row) if row else None

    async def set_disabled(self, user_id: str, disabled: bool) -> User | None:
        """Disable (keeping the first time) or enable; None for an unknown user."""
        row = await self.conn.fetchrow(
            f"""UPDATE auth.users
                SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now()
                WHERE id = $1 RETURNING {USER_COLUMNS}""",  # noqa: S608
            uuid.UUID(user_id),
            disabled,
        )
        return user_from_row(row) if row else None

    async def delete_user(self, user_id: str) -> bool:
        """Delete the account (its refresh tokens go with it); False if unknown."""
        deleted = await self.conn.fetchval(
            "DELETE FROM auth.users WHERE id = $1 RETURNING true", uuid.UUID(user_id)
        )
        return bool(deleted)


class AuthStore:
    """The signing keys (servers.auth.keys.KeyStore), on the pool."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def live_keys(self, created_after: datetime) -> list[StoredKey]:
        rows = await self.pool.fetch(
            """SELECT kid, private_key_sealed, public_jwk, created_at FROM auth.signing_keys
               WHERE revoked_at IS NULL AND created_at > $1 ORDER BY created_at DESC""",
            created_after,
        )
        return [_stored_key(r) for r in rows]

    async def add_key_unless_newer(self, new: StoredKey, newer_than: datetime) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # Serialize key creation across replicas starting at the same time.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))")
            exists = await conn.fetchval(
                "SELECT 1 FROM auth.signing_keys WHERE revoked_at IS NULL AND created_at > $1 LIMIT 1",
                newer_than,
            )
            if exists is None:
                await conn.execute(
                    """INSERT INTO auth.signing_keys
                         (kid, algorithm, private_key_sealed, public_jwk, created_at)
                       VALUES ($1, $2, $3, $4::jsonb, $5)""",
                    new.kid,
                    new.public_jwk["alg"],
                    new.private_key_sealed,
                    json.dumps(new.public_jwk),
                    new.created_at,
                )


def _stored_key(row: asyncpg.Record) -> StoredKey:
    jwk = row["public_jwk"]
    return StoredKey(
        row["kid"],
        row["private_key_sealed"],
        json.loads(jwk) if isinstance(jwk, str) else jwk,
        row["created_at"],
    )
