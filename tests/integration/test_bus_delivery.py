"""Delivery guarantees of the event backbone, on real RabbitMQ (cut through a
TCP proxy we control) and on the embedded PostgreSQL transport alike:
outbox survives a broker outage, rollbacks publish nothing, crashed handlers
are redelivered and counted once, poison events dead-letter and replay."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aether.events.v1 import event_pb2
from aether.tasks.v1.events_pb2 import TaskCreated
from opentelemetry import trace

from servers.platform import events
from servers.platform.bus import ERROR_EVENT, BusConfig, EventBus
from servers.platform.context import request_id, request_id_var
from tests.integration.bus_support import (
    AMQP_DIRECT,
    BusDatabase,
    TcpProxy,
    create_task_event,
    delete_topology,
    fresh_database,
    make_bus,
    unique_config,
    wait_for,
)

CONSUMER = "probe"


@pytest.fixture(params=["amqp", "postgres"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db() -> AsyncIterator[BusDatabase]:
    async with fresh_database() as database:
        yield database


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    p = TcpProxy()
    await p.start()
    yield p
    await p.close()


async def record(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
    """The probe consumer: one row per handled event (no unique key, so a
    double delivery past the inbox would show as two rows)."""
    span = trace.get_current_span().get_span_context()
    await conn.execute(
        "INSERT INTO public.received (event_id, consumer, subject, request_id, trace_id)"
        " VALUES ($1, $2, $3, $4, $5)",
        uuid.UUID(event.id),
        CONSUMER,
        event.subject,
        request_id(),
        format(span.trace_id, "032x"),
    )


async def received(db: BusDatabase) -> int:
    return int(await db.pool.fetchval("SELECT count(*) FROM public.received"))


async def unpublished(db: BusDatabase) -> int:
    return int(await db.pool.fetchval("SELECT count(*) FROM platform.outbox WHERE published_at IS NULL"))


async def test_broker_down_outbox_holds_events_then_delivers_each_once(
    db: BusDatabase, transport: str, proxy: TcpProxy
) -> None:
    config = unique_config()
    # Two relays and two consumer replicas at once (as with two server replicas).
    buses = [make_bus(db, transport, config, proxy.url) for _ in range(2)]
    for bus in buses:
        bus.subscribe("task.*", record, consumer=CONSUMER)
        await bus.start()
    try:
        await wait_for(lambda: _ready(db, transport, config, proxy))
        first = [await create_task_event(db.pool) for _ in range(50)]
        await wait_for(lambda: _count_is(db, 50))

        if transport == "amqp":
            await proxy.cut()  # the broker is unreachable for relays and consumers
        else:
            for bus in buses:  # the embedded bus has no broker: its relays stop instead
                await bus.stop()
        during = [await create_task_event(db.pool) for _ in range(200)]
        if transport == "amqp":  # the relays and consumers have tried the broker again, and failed
            await wait_for(lambda: proxy.refused >= 2)
        assert await unpublished(db) == 200, "the outbox holds every event while the bus is down"
        assert await received(db) == 50

        if transport == "amqp":
            await proxy.restore()
        else:
            for bus in buses:
                await bus.start()
        await wait_for(lambda: _count_is(db, 250), within=30)
        sentinel = await create_task_event(db.pool)  # a late duplicate would arrive before it
        await wait_for(lambda: _has(db, sentinel), within=30)
        rows = await db.pool.fetch("SELECT event_id, count(*) AS n FROM public.received GROUP BY 1")
        assert {str(r["event_id"]) for r in rows} == {*first, *during, sentinel}
        assert all(r["n"] == 1 for r in rows), "no event handled twice"
        # A relay marks a row published once the broker confirms it, which can come after a
        # consumer has already handled the event.
        await wait_for(lambda: _none_unpublished(db), within=30)
    finally:
        for bus in buses:
            await bus.stop()
        await delete_topology(config, [CONSUMER])


async def _ready(db: BusDatabase, transport: str, config: object, proxy: TcpProxy) -> bool:
    """Consumers have declared their queues (AMQP) / subscriptions (PostgreSQL)."""
    if transport == "postgres":
        return bool(await db.pool.fetchval("SELECT count(*) FROM platform.subscriptions"))
    import aio_pika

    try:
        connection = await aio_pika.connect(proxy.url, timeout=2)
    except Exception:
        return False
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(f"{config.queue(CONSUMER)}.dlq", passive=True)  # type: ignore[attr-defined]
        except Exception:
            return False
    return True


async def _count_is(db: BusDatabase, n: int) -> bool:
    return await received(db) >= n


async def _none_unpublished(db: BusDatabase) -> bool:
    return await unpublished(db) == 0


async def _has(db: BusDatabase, event_id: str) -> bool:
    query = "SELECT count(*) FROM public.received WHERE event_id = $1"
    return bool(await db.pool.fetchval(query, uuid.UUID(event_id)))


async def test_rolled_back_transaction_publishes_nothing(db: BusDatabase, transport: str) -> None:
    config = unique_config()
    bus = make_bus(db, transport, config)
    bus.subscribe("task.*", record, consumer=CONSUMER)
    await bus.start()
    try:
        await wait_for(lambda: _ready_direct(db, transport, bus))
        rolled_back = ""
        with pytest.raises(RuntimeError):
            async with db.pool.acquire() as conn, conn.transaction():
                rolled_back = await events.publish(
                    conn, event_type="task.created", source="tasks", subject="t1", payload=TaskCreated()
                )
                raise RuntimeError("the state change failed")
        committed = await create_task_event(db.pool)
        # The committed event, written after the rolled-back one, is the sentinel.
        await wait_for(lambda: _has(db, committed))
        ids = {str(r["event_id"]) for r in await db.pool.fetch("SELECT event_id FROM public.received")}
        assert ids == {committed}
        assert rolled_back and rolled_back not in ids
        in_outbox = "SELECT count(*) FROM platform.outbox WHERE id = $1"
        assert await db.pool.fetchval(in_outbox, uuid.UUID(rolled_back)) == 0
    finally:
        await bus.stop()
        await delete_topology(config, [CONSUMER])


async def _ready_direct(db: BusDatabase, transport: str, bus: EventBus) -> bool:
    if transport == "postgres":
        return bool(await db.pool.fetchval("SELECT count(*) FROM platform.subscriptions"))
    import aio_pika

    connection = await aio_pika.connect(bus.transport.url, timeout=2)  # type: ignore[attr-defined]
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(f"{bus.config.queue(CONSUMER)}.dlq", passive=True)
        except Exception:
            return False
    return True


class Crash(BaseException):
    """The consumer process dies: not an error the handler reports, nothing acks."""


async def test_consumer_crash_mid_handler_is_redelivered_and_counted_once(
    db: BusDatabase, transport: str
) -> None:
    config = unique_config()
    crashed = asyncio.Event()

    async def crashing(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
        await record(event, conn)  # written, but the transaction never commits
        crashed.set()
        raise Crash

    first = make_bus(db, transport, config)
    first.subscribe("task.*", crashing, consumer=CONSUMER)
    await first.start()
    second = make_bus(db, transport, config)
    second.subscribe("task.*", record, consumer=CONSUMER)
    relay = make_bus(db, transport, config)
    try:
        await wait_for(lambda: _ready_direct(db, transport, first))
        event_id = await create_task_event(db.pool)
        await asyncio.wait_for(crashed.wait(), 20)
        await first.stop()  # the crashed replica is gone (its broker connection closes)
        assert await received(db) == 0

        await second.start(relay=False)
        await wait_for(lambda: _count_is(db, 1))
        await relay.start()  # publishes the sentinel: a second redelivery would arrive before it
        sentinel = await create_task_event(db.pool)
        await wait_for(lambda: _has(db, sentinel))
        rows = await db.pool.fetch("SELECT event_id FROM public.received")
        assert sorted(str(r["event_id"]) for r in rows) == sorted([event_id, sentinel])
    finally:
        await first.stop()
        await second.stop()
        await relay.stop()
        await delete_topology(config, [CONSUMER])


async def test_poison_event_dead_letters_after_n_attempts_and_replays(
    db: BusDatabase, transport: str
) -> None:
    config = unique_config(retry_delays=(0.2, 0.5))  # 3 attempts, growing delay
    attempts: list[float] = []
    healed = False

    async def fragile(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
        if event.subject == "poison" and not healed:
            attempts.append(asyncio.get_running_loop().time())
            raise ValueError("cannot handle this payload")
        await record(event, conn)

    bus = make_bus(db, transport, config)
    bus.subscribe("task.*", fragile, consumer=CONSUMER)
    await bus.start()
    try:
        await wait_for(lambda: _ready_direct(db, transport, bus))
        poison = await create_task_event(db.pool, subject="poison")
        fine = await create_task_event(db.pool)
        await wait_for(lambda: _count_is(db, 1))  # a poison event does not block the others

        async def dead() -> bool:
            return bool(await bus.transport.dead_letters(CONSUMER))

        await wait_for(dead, within=20)
        assert len(attempts) == config.max_attempts == 3
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.15 and gaps[1] >= 0.4, gaps  # retries wait, longer each time
        [letter] = await bus.transport.dead_letters(CONSUMER)
        assert (letter.event_id, letter.event_type, letter.attempts) == (poison, "task.created", 3)
        assert "cannot handle this payload" in letter.error
        # Dead letters are reported to analytics as errors.
        reported = await db.pool.fetchval(
            "SELECT count(*) FROM platform.outbox WHERE event_type = $1", ERROR_EVENT
        )
        assert reported == 1

        # The operator's view: `aether events dead-letters list`, then replay it.
        listed = await aether_cli(db, transport, config, "list")
        assert poison in listed and "attempts=3" in listed and "1 dead letter(s)" in listed
        healed = True
        replayed = await aether_cli(db, transport, config, "replay", "--id", poison)
        assert "replayed 1 dead letter(s)" in replayed
        await wait_for(lambda: _count_is(db, 2))
        ids = sorted(str(r["event_id"]) for r in await db.pool.fetch("SELECT event_id FROM public.received"))
        assert ids == sorted([poison, fine])
        assert await bus.transport.dead_letters(CONSUMER) == []
    finally:
        await bus.stop()
        await delete_topology(config, [CONSUMER])


async def aether_cli(db: BusDatabase, transport: str, config: BusConfig, *args: str) -> str:
    """Run `aether events dead-letters ...` as an operator would, against this test's bus."""
    env = {
        **os.environ,
        "DATABASE_URL": db.dsn,
        "AMQP_EXCHANGE": config.exchange,
        "BUS_QUEUE_PREFIX": config.queue_prefix,
    }
    env.pop("AMQP_URL", None)
    if transport == "amqp":
        env["AMQP_URL"] = AMQP_DIRECT
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "servers.cli",
        "events",
        "dead-letters",
        *args,
        "--consumer",
        CONSUMER,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_request_id_and_trace_flow_into_the_consumer(db: BusDatabase, transport: str) -> None:
    config = unique_config()
    bus = make_bus(db, transport, config)
    bus.subscribe("task.*", record, consumer=CONSUMER)
    await bus.start()
    try:
        await wait_for(lambda: _ready_direct(db, transport, bus))
        token = request_id_var.set("req-trace-42")
        try:
            with trace.get_tracer("tests").start_as_current_span("create task") as span:
                await create_task_event(db.pool)
                trace_id = format(span.get_span_context().trace_id, "032x")
        finally:
            request_id_var.reset(token)
        await wait_for(lambda: _count_is(db, 1))
        row = await db.pool.fetchrow("SELECT request_id, trace_id FROM public.received")
        assert (row["request_id"], row["trace_id"]) == ("req-trace-42", trace_id)
    finally:
        await bus.stop()
        await delete_topology(config, [CONSUMER])


async def test_concurrent_relays_publish_every_row_exactly_once(db: BusDatabase) -> None:
    """Four relays (two loops each) on one outbox: an audit queue bound to the
    exchange receives each event once (SKIP LOCKED keeps the relays apart)."""
    import aio_pika

    config = unique_config(relay_batch=50)
    connection = await aio_pika.connect(AMQP_DIRECT)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(config.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    audit = await channel.declare_queue(f"{config.queue_prefix}.audit", exclusive=True)
    await audit.bind(exchange, routing_key="#")
    relays = [make_bus(db, "amqp", config) for _ in range(4)]
    try:
        await asyncio.gather(*(create_task_event(db.pool) for _ in range(1000)))
        for relay in relays:
            await relay.start()
        await wait_for(lambda: _none_unpublished(db), within=30)
        await asyncio.sleep(0.5)
        seen: list[str] = []
        while (message := await audit.get(no_ack=True, fail=False)) is not None:
            seen.append(message.message_id or "")
        assert len(seen) == 1000 and len(set(seen)) == 1000
    finally:
        for relay in relays:
            await relay.stop()
        await connection.close()
        await delete_topology(config, [])


async def test_relay_sends_each_event_as_a_persistent_protobuf_message(db: BusDatabase) -> None:
    """The relay writes publish frames itself (a batch per socket write): each
    event still arrives as one persistent message with its properties and exact
    body, bodies larger than a frame are split, and every confirm is awaited."""
    import aio_pika

    from servers.platform.bus.amqp import CONTENT_TYPE

    config = unique_config(relay_concurrency=1)  # one batch, so outbox order on the wire
    connection = await aio_pika.connect(AMQP_DIRECT)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(config.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    audit = await channel.declare_queue(f"{config.queue_prefix}.audit", exclusive=True)
    await audit.bind(exchange, routing_key="#")
    relay = make_bus(db, "amqp", config)
    try:
        small = [await create_task_event(db.pool) for _ in range(3)]
        big = await create_task_event(db.pool, subject="x" * 300_000)  # > frame_max (128 KiB)
        other = await create_task_event(db.pool, event_type="task.completed")
        await relay.start()
        await wait_for(lambda: _none_unpublished(db), within=30)
        payloads = {
            str(r["id"]): bytes(r["payload"])
            for r in await db.pool.fetch("SELECT id, payload FROM platform.outbox")
        }
        messages = []
        await asyncio.sleep(0.3)
        while (message := await audit.get(no_ack=True, fail=False)) is not None:
            messages.append(message)
        assert [m.message_id for m in messages] == [*small, big, other]  # outbox order
        for m in messages:
            assert m.body == payloads[m.message_id or ""]
            assert m.content_type == CONTENT_TYPE
            assert m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert m.routing_key == m.type == event_pb2.Event.FromString(m.body).type
        assert event_pb2.Event.FromString(messages[3].body).subject == "x" * 300_000
    finally:
        await relay.stop()
        await connection.close()
        await delete_topology(config, [])


async def _none_unpublished(db: BusDatabase) -> bool:
    return await unpublished(db) == 0
