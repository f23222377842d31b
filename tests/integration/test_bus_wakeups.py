"""The relays' wake-ups (servers/platform/events.py, platform migration 0004): the unit of work
that commits events wakes this process's relays of those events' sources at once, and nobody
else's, so one service's writes cost the other services nothing (each wasted wake-up was a
claim transaction finding no rows); rows no wake-up announces are found by the poll. No commit
sends a NOTIFY (a notifying commit holds PostgreSQL's cluster-wide notification lock through
its WAL flush)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aether.tasks.v1 import events_pb2 as task_events

from servers.platform import events
from servers.platform.bus import EventBus
from servers.platform.uow import OutgoingEvent, PostgresUnitOfWork
from tests.integration.bus_support import BusDatabase, fresh_database, unique_config, wait_for


@pytest.fixture
async def db() -> AsyncIterator[BusDatabase]:
    async with fresh_database() as database:
        yield database


async def _commit(pool: asyncpg.Pool, source: str) -> None:
    """One unit of work of `source` recording an event."""
    uow = PostgresUnitOfWork(
        pool,
        source=source,
        repository=lambda conn: conn,
        to_event=lambda subject: OutgoingEvent("task.created", subject, task_events.TaskCreated()),
    )
    async with uow() as tx:
        tx.record(str(uuid.uuid4()))


def _counting(bus: EventBus) -> list[int]:
    """Counts the bus's claim transactions (claims[0])."""
    claims = [0]
    relay_once = bus.relay_once

    async def counted() -> int:
        claims[0] += 1
        return await relay_once()

    bus.relay_once = counted  # type: ignore[method-assign]
    return claims


async def _all_published(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) = 0 FROM platform.outbox WHERE published_at IS NULL"))


async def test_a_relay_wakes_for_its_own_sources_only(db: BusDatabase) -> None:
    """The auth server's relay (never polling here) ignores a tasks commit and wakes for an auth
    one, which it then publishes with anything else pending."""
    bus = EventBus(db.pool, unique_config(poll_interval=3600), dsn=db.dsn, sources=["auth"])
    claims = _counting(bus)
    await bus.start()
    try:
        await wait_for(lambda: claims[0] == bus.config.relay_concurrency)  # each loop's first look
        await _commit(db.pool, "tasks")
        await _commit(db.pool, "auth")  # one claim then publishes both: tasks woke nobody
        await wait_for(lambda: _all_published(db.pool))
        assert claims[0] == bus.config.relay_concurrency + 1
    finally:
        await bus.stop()


async def test_rows_no_wake_up_announces_are_found_by_the_poll(db: BusDatabase) -> None:
    """Another process's rows (here: written without the unit of work) wait for the poll."""
    bus = EventBus(db.pool, unique_config(poll_interval=0.2), dsn=db.dsn, sources=["tasks"])
    await bus.start()
    try:
        async with db.pool.acquire() as conn, conn.transaction():
            created = task_events.TaskCreated()
            await events.publish(
                conn, event_type="task.created", source="tasks", subject="s", payload=created
            )
        await wait_for(lambda: _all_published(db.pool))
    finally:
        await bus.stop()


async def test_a_commit_sends_no_notification(db: BusDatabase) -> None:
    listener = await asyncpg.connect(db.dsn)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("aether_outbox", lambda *args: heard.put_nowait(args[3]))
    try:
        await _commit(db.pool, "tasks")
        await listener.execute("NOTIFY aether_outbox, 'sentinel'")  # delivered in commit order
        assert await asyncio.wait_for(heard.get(), 10) == "sentinel"
    finally:
        await listener.close()
