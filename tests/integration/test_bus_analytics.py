"""End to end on the bus: tasks-style writers -> outbox -> relay -> broker (or
PostgreSQL) -> the real analytics consumer -> rollup counts. Cuts the broker,
replays the whole outbox again (as a relay that crashed after the broker
confirmed but before it marked the rows), and checks every event is counted
exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import servers.analytics.main as analytics_main
from servers.analytics.queries import AnalyticsQueries
from tests.integration.bus_support import (
    BusDatabase,
    TcpProxy,
    create_task_event,
    delete_topology,
    fresh_database,
    make_bus,
    unique_config,
    wait_for,
)

MIGRATIONS = Path(analytics_main.__file__).with_name("migrations")


@pytest.fixture(params=["amqp", "postgres"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db() -> AsyncIterator[BusDatabase]:
    async with fresh_database(("analytics", MIGRATIONS)) as database:
        yield database


async def test_every_task_event_is_counted_once_across_an_outage_and_a_replay(
    db: BusDatabase, transport: str
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    config = unique_config()
    queries = AnalyticsQueries(db.pool)
    bus = make_bus(db, transport, config, proxy.url)
    bus.subscribe("#", analytics_main.consume, consumer="analytics")
    await bus.start()

    async def counted() -> int:
        day = datetime.now(UTC) - timedelta(days=1)
        return (await queries.totals(day, day + timedelta(days=2))).task_created

    try:
        await wait_for(lambda: _subscribed(db, transport, bus))
        for _ in range(100):
            await create_task_event(db.pool)
        await wait_for(lambda: _at_least(counted, 100))

        if transport == "amqp":
            await proxy.cut()
        else:
            await bus.stop()
        for _ in range(150):
            await create_task_event(db.pool)
        await asyncio.sleep(0.5)
        held = await db.pool.fetchval("SELECT count(*) FROM platform.outbox WHERE published_at IS NULL")
        assert held == 150
        if transport == "amqp":
            await proxy.restore()
        else:
            await bus.start()
        await wait_for(lambda: _at_least(counted, 250), within=30)

        # Every row published again (a relay that died before marking them): still 250.
        await db.pool.execute("UPDATE platform.outbox SET published_at = NULL")
        await wait_for(lambda: _none_unpublished(db), within=30)
        await asyncio.sleep(1.0)
        assert await counted() == 250
        assert await db.pool.fetchval("SELECT count(*) FROM analytics.events") == 250
    finally:
        await bus.stop()
        await proxy.close()
        await delete_topology(config, ["analytics"])


async def _at_least(count, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await count() >= n)


async def _none_unpublished(db: BusDatabase) -> bool:
    return not await db.pool.fetchval("SELECT count(*) FROM platform.outbox WHERE published_at IS NULL")


async def _subscribed(db: BusDatabase, transport: str, bus) -> bool:  # type: ignore[no-untyped-def]
    if transport == "postgres":
        return bool(await db.pool.fetchval("SELECT count(*) FROM platform.subscriptions"))
    import aio_pika

    try:
        connection = await aio_pika.connect(bus.transport.url, timeout=2)
    except Exception:
        return False
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(f"{bus.config.queue('analytics')}.dlq", passive=True)
        except Exception:
            return False
    return True
