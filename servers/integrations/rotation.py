"""Re-sealing every stored credential under the active key
(`aether integrations rotate-key`).

Procedure: add the new key to INTEGRATIONS_KEYS (keeping the old one), set
INTEGRATIONS_KEY_ID to it and restart the servers: new credentials are sealed
under it while old rows still open under the key id they name. Then run the
command; once it reports none left, the old key can be removed. Batches are
short transactions with row locks (FOR UPDATE SKIP LOCKED), so servers keep
serving, and several runs may go at once."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from servers.integrations.domain import Provider
from servers.integrations.store import sealed_from_row
from servers.integrations.vault import Vault


@dataclass(frozen=True)
class Rotation:
    resealed: int
    remaining: int
    key_id: str


async def rotate(pool: asyncpg.Pool, vault: Vault, batch: int = 100) -> Rotation:
    """Re-seals rows sealed under any other key than the active one."""
    if vault.active is None:
        raise SystemExit("no active key: set INTEGRATIONS_KEYS and INTEGRATIONS_KEY_ID")
    resealed = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, type, key_id, credentials FROM integrations.integrations
                   WHERE key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",
                vault.active,
                batch,
            )
            for row in rows:
                sealed = vault.reseal(str(row["id"]), Provider(row["type"]), sealed_from_row(row))
                await conn.execute(
                    "UPDATE integrations.integrations SET key_id = $2, credentials = $3 WHERE id = $1",
                    row["id"],
                    sealed.key_id,
                    sealed.ciphertext,
                )
        resealed += len(rows)
        if len(rows) < batch:
            break
    remaining = await pool.fetchval(
        "SELECT count(*) FROM integrations.integrations WHERE key_id <> $1", vault.active
    )
    return Rotation(resealed, int(remaining), vault.active)
