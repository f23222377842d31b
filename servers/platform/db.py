"""PostgreSQL: an asyncpg pool and a migrations runner.

Each service owns a schema and a `migrations/` folder of plain SQL files
(`0001_init.sql`, ...) applied in order, once, in a transaction each, under an
advisory lock so several replicas starting at once migrate exactly once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger("aether.db")

_LOCK_KEY = 0x4E7E12  # pg_advisory_xact_lock key shared by every migrator

_LEDGER = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.schema_migrations (
    service    text        NOT NULL,
    version    text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, version)
);
"""


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, reset=keep_session
    )
    assert pool is not None
    return pool


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, instead of asyncpg's default query (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL): one more round trip on every request
    for state no pooled connection holds here (listeners have their own
    connections, locks are transaction-scoped, nothing SETs the session).
    asyncpg still rolls back a transaction left open before calling this."""


async def migrate(pool: asyncpg.Pool, service: str, directory: Path) -> list[str]:
    """Apply the not-yet-applied `*.sql` files of `directory`; returns their versions."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_LEDGER)
        done = {
            r["version"]
            for r in await conn.fetch(
                "SELECT version FROM platform.schema_migrations WHERE service = $1", service
            )
        }
        for path in sorted(directory.glob("*.sql")):
            version = path.stem
            if version in done:
                continue
            await conn.execute(path.read_text())
            await conn.execute(
                "INSERT INTO platform.schema_migrations (service, version) VALUES ($1, $2)", service, version
            )
            applied.append(version)
    if applied:
        log.info("migrations applied", extra={"service": service, "versions": applied})
    return applied
