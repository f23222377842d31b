"""The migrations runner against a real PostgreSQL: ordered, once, even when
several replicas migrate at the same moment; and `aether migrate`."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from servers.platform.db import create_pool, migrate
from tests.conftest import ADMIN_DSN, dsn_for


@pytest.fixture
async def scratch_db() -> AsyncIterator[str]:
    name = f"aether_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn_for(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_concurrent_migrators_apply_each_file_once_in_order(scratch_db: str, tmp_path: Path) -> None:
    (tmp_path / "0001_create.sql").write_text("CREATE SCHEMA demo; CREATE TABLE demo.log (step int);")
    (tmp_path / "0002_insert.sql").write_text("INSERT INTO demo.log VALUES (2);")
    pools = [await create_pool(scratch_db, 1, 2) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(pool, "demo", tmp_path) for pool in pools))
        assert sorted(results, key=len) == [[], [], [], ["0001_create", "0002_insert"]]
        assert await pools[0].fetchval("SELECT count(*) FROM demo.log") == 1
        (tmp_path / "0003_more.sql").write_text("INSERT INTO demo.log VALUES (3);")
        assert await migrate(pools[0], "demo", tmp_path) == ["0003_more"]
    finally:
        for pool in pools:
            await pool.close()


async def test_a_failing_migration_leaves_nothing_half_applied(scratch_db: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE SCHEMA demo;")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE demo.t (id int); SELECT no_such_function();")
    pool = await create_pool(scratch_db, 1, 2)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(pool, "demo", tmp_path)
        assert await pool.fetchval("SELECT to_regclass('demo.t')") is None
        assert (
            await pool.fetchval("SELECT to_regnamespace('demo')") is None
        )  # same transaction: all or nothing
    finally:
        await pool.close()


async def test_aether_migrate_command(scratch_db: str) -> None:
    env = os.environ | {"DATABASE_URL": scratch_db}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "servers.cli", "migrate", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert "auth: 0001_init" in out.decode()
    conn = await asyncpg.connect(scratch_db)
    try:
        assert await conn.fetchval("SELECT to_regclass('auth.users')") is not None
        assert await conn.fetchval("SELECT to_regclass('platform.outbox')") is not None
    finally:
        await conn.close()
