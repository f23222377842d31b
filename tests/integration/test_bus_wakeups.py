"""The relays' wake-ups (platform migration 0003): a commit's notification names its events'
sources, and a server's relay wakes only for its own domains' sources, so one service's writes
cost the other services nothing (each wasted wake-up was a claim transaction finding no rows)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aether.tasks.v1 import events_pb2 as task_events

from servers.platform import events
from servers.platform.bus import EventBus
from tests.integration.bus_support import BusDatabase, fresh_database, unique_config, wait_for


@pytest.fixture
async def db() -> AsyncIterator[BusDatabase]:
    async with fresh_database() as database:
        yield database


async def _commit(pool: asyncpg.Pool, *sources: str) -> None:
    """One transaction writing an event of each of `sources`."""
    async with pool.acquire() as conn, conn.transaction():
        for source in sources:
            await events.publish(
                conn,
                event_type="task.created",
                source=source,
                subject=str(uuid.uuid4()),
                payload=task_events.TaskCreated(),
            )


async def test_a_commit_notifies_once_per_source_it_wrote(db: BusDatabase) -> None:
    listener = await asyncpg.connect(db.dsn)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("aether_outbox", lambda *args: heard.put_nowait(args[3]))
    try:
        await _commit(db.pool, "tasks", "tasks", "auth")
        await _commit(db.pool, "rag")  # a sentinel: notifications arrive in commit order
        got = [await asyncio.wait_for(heard.get(), 10) for _ in range(3)]
        assert sorted(got[:2]) == ["auth", "tasks"] and got[2] == "rag"
    finally:
        await listener.close()


async def test_a_relay_wakes_for_its_own_sources_only(db: BusDatabase) -> None:
    """The auth server's relay (never polling here) ignores a tasks commit and wakes for an auth
    one, which it then publishes with anything else pending."""
    bus = EventBus(db.pool, unique_config(poll_interval=3600), dsn=db.dsn, sources=["auth"])
    claims = 0
    relay_once = bus.relay_once

    async def counted() -> int:
        nonlocal claims
        claims += 1
        return await relay_once()

    bus.relay_once = counted  # type: ignore[method-assign]
    await bus.start()
    try:
        await wait_for(lambda: claims == bus.config.relay_concurrency)  # each loop's first look
        await _commit(db.pool, "tasks")
        await _commit(db.pool, "auth")  # delivered after the tasks notification
        await wait_for(
            lambda: db.pool.fetchval("SELECT count(*) = 0 FROM platform.outbox WHERE published_at IS NULL")
        )
        assert claims == bus.config.relay_concurrency + 1
    finally:
        await bus.stop()
