"""Credential keys against the real PostgreSQL: rows name the key that sealed
them, old ciphertext still opens while a new key is active, and
`aether integrations rotate-key` re-seals every row under the active key."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from servers.integrations.domain import GithubCredentials, NewIntegration, Provider
from servers.integrations.store import IntegrationRepository, sealed_from_row
from servers.integrations.vault import Vault
from servers.platform.errors import FailedPrecondition
from servers.platform.secrets import SecretBox, new_secret_key

DEFAULT_KEY = os.environ["AETHER_SECRET_KEY"]  # what the shared server seals under ("default")


async def rows(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, type, key_id, credentials FROM integrations.integrations WHERE id = ANY($1) ORDER BY id",
        ids,
    )


async def test_rotate_key_reseals_and_old_ciphertext_opens_until_then(pool: asyncpg.Pool) -> None:
    old_key = new_secret_key()
    old = Vault({"old": SecretBox.from_setting(old_key)}, "old")
    owner = str(uuid.uuid4())
    ids = [uuid.uuid4() for _ in range(3)]
    secrets = {i: GithubCredentials(f"ghp_{uuid.uuid4().hex}", "hook") for i in ids}
    async with pool.acquire() as conn:
        repo = IntegrationRepository(conn)
        for n, iid in enumerate(ids):
            new = NewIntegration(f"gh {n}", secrets[iid], {})
            await repo.insert(iid, owner, new, old.seal(str(iid), secrets[iid]), "")
    before = await rows(pool, ids)
    assert {r["key_id"] for r in before} == {"old"}

    # The new key is active, the old one still configured: old rows open, new ones seal under "default".
    both = Vault.from_settings(f"old:{old_key},default:{DEFAULT_KEY}", "default", None)
    for r in before:
        assert both.open(str(r["id"]), Provider.GITHUB, sealed_from_row(r)) == secrets[r["id"]]
    assert both.seal(str(ids[0]), secrets[ids[0]]).key_id == "default"

    env = os.environ | {
        "INTEGRATIONS_KEYS": f"old:{old_key},default:{DEFAULT_KEY}",
        "INTEGRATIONS_KEY_ID": "default",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "servers.cli",
        "integrations",
        "rotate-key",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    assert out.decode().strip().endswith("under key 'default'; 0 left")

    after = await rows(pool, ids)
    new_only = Vault({"default": SecretBox.from_setting(DEFAULT_KEY)}, "default")
    for was, now in zip(before, after, strict=True):
        assert now["key_id"] == "default" and bytes(now["credentials"]) != bytes(was["credentials"])
        assert new_only.open(str(now["id"]), Provider.GITHUB, sealed_from_row(now)) == secrets[now["id"]]
        with pytest.raises(FailedPrecondition):
            old.open(str(now["id"]), Provider.GITHUB, sealed_from_row(now))


async def test_ciphertext_is_bound_to_its_row(pool: asyncpg.Pool) -> None:
    vault = Vault({"k": SecretBox.from_setting(new_secret_key())}, "k")
    creds = GithubCredentials("ghp_secret")
    sealed = vault.seal("row-a", creds)
    assert b"ghp_secret" not in sealed.ciphertext
    with pytest.raises(InvalidTag):
        vault.open("row-b", Provider.GITHUB, sealed)  # swapped between rows: AES-GCM's tag fails
    assert vault.open("row-a", Provider.GITHUB, sealed) == creds
