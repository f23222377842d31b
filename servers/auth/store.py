"""PostgreSQL persistence of the auth service (schema `auth`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from servers.auth.domain import User
from servers.auth.keys import StoredKey

OnCreated = Callable[[asyncpg.Connection, User], Awaitable[None]]


@dataclass(frozen=True)
class RefreshRecord:
    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _user(row: asyncpg.Record) -> User:
    return User(str(row["id"]), row["email"], row["name"], tuple(row["roles"]), row["created_at"])


class AuthStore:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    # --- users -----------------------------------------------------------------
    async def create_user(
        self, email: str, name: str, password_hash: str, roles: tuple[str, ...], on_created: OnCreated
    ) -> User | None:
        """Insert a user and, in the same transaction, run `on_created` (which
        writes the `user.registered` event); None if the email is taken."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO auth.users (id, email, name, password_hash, roles)
                    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING
                    RETURNING id, email, name, roles, created_at""",
                uuid.uuid4(),
                email,
                name,
                password_hash,
                list(roles),
            )
            if row is None:
                return None
            user = _user(row)
            await on_created(conn, user)
            return user

    async def user_with_hash(self, email: str) -> tuple[User, str] | None:
        row = await self.pool.fetchrow(
            "SELECT id, email, name, roles, created_at, password_hash FROM auth.users WHERE email = $1", email
        )
        return (_user(row), row["password_hash"]) if row else None

    async def get_user(self, user_id: str) -> User | None:
        row = await self.pool.fetchrow(
            "SELECT id, email, name, roles, created_at FROM auth.users WHERE id = $1", uuid.UUID(user_id)
        )
        return _user(row) if row else None

    async def update_password_hash(self, user_id: str, password_hash: str) -> None:
        await self.pool.execute(
            "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
            uuid.UUID(user_id),
            password_hash,
        )

    # --- refresh tokens ----------------------------------------------------------
    async def insert_refresh(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        token_hash: bytes,
        user_id: str,
        family_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            """INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, parent_id, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            uuid.uuid4(),
            family_id,
            uuid.UUID(user_id),
            token_hash,
            parent_id,
            expires_at,
        )

    async def lock_refresh(self, conn: asyncpg.Connection, token_hash: bytes) -> RefreshRecord | None:
        row = await conn.fetchrow(
            """SELECT id, family_id, user_id, expires_at, used_at, revoked_at
               FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE""",
            token_hash,
        )
        return RefreshRecord(**dict(row)) if row else None

    async def mark_used(self, conn: asyncpg.Connection, token_id: uuid.UUID) -> None:
        await conn.execute("UPDATE auth.refresh_tokens SET used_at = now() WHERE id = $1", token_id)

    async def revoke_family(self, conn: asyncpg.Connection | asyncpg.Pool, family_id: uuid.UUID) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )

    async def family_of(self, token_hash: bytes, user_id: str) -> uuid.UUID | None:
        return await self.pool.fetchval(
            "SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1 AND user_id = $2",
            token_hash,
            uuid.UUID(user_id),
        )

    async def revoke_all_families(self, user_id: str) -> int:
        families = await self.pool.fetchval(
            """WITH revoked AS (
                 UPDATE auth.refresh_tokens SET revoked_at = now()
                 WHERE user_id = $1 AND revoked_at IS NULL RETURNING family_id)
               SELECT count(DISTINCT family_id) FROM revoked""",
            uuid.UUID(user_id),
        )
        return int(families or 0)

    # --- signing keys --------------------------------------------------------------
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
