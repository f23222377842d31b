"""Fixtures of the integration ring: stores and units of work on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture(scope="module")
async def pool(database_url: str, app_server: object) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the test database, migrated by the shared server (`app_server`)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()
