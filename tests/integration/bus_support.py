"""Helpers for the event backbone tests: a TCP proxy that can cut the broker,
a fresh database per test, uniquely named AMQP topology, test publishers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg
from aether.tasks.v1 import events_pb2 as task_events

from servers.platform import events
from servers.platform.bus import BusConfig, EventBus
from servers.platform.db import migrate

ADMIN_DSN = os.environ.get("AETHER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
AMQP_DIRECT = os.environ.get("AETHER_TEST_AMQP", f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """Forwards a local port to the broker; `cut()` drops every connection and
    turns new ones away (the broker is "down"; `refused` counts the attempts, so
    a test can wait until clients really tried), `restore()` forwards again."""

    def __init__(self, host: str = AMQP_HOST, port: int = AMQP_PORT):
        self.target = (host, port)
        self.port = free_port()
        self.refused = 0
        self._down = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        self._down = True
        self.refused = 0
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        self._down = False

    async def close(self) -> None:
        await self.cut()


@dataclass
class BusDatabase:
    dsn: str
    pool: asyncpg.Pool


@contextlib.asynccontextmanager
async def fresh_database(*extra_migrations: tuple[str, Path]) -> AsyncIterator[BusDatabase]:
    """A new database with the platform migrations (and `extra_migrations`),
    dropped afterwards; isolated from the shared app_server's relay."""
    name = f"aether_bus_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=20)
    try:
        await migrate(pool, "platform", events.MIGRATIONS)
        for service, directory in extra_migrations:
            await migrate(pool, service, directory)
        await pool.execute(
            "CREATE TABLE public.received (event_id uuid NOT NULL, consumer text NOT NULL,"
            " subject text NOT NULL, request_id text, trace_id text)"
        )
        yield BusDatabase(dsn, pool)
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def unique_config(**overrides: object) -> BusConfig:
    """Topology names unique to this test, short retry delays, fast polling."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "exchange": f"aether.test.{suffix}",
        "queue_prefix": f"aether.test.{suffix}",
        "retry_delays": (0.2, 0.4),
        "poll_interval": 0.1,
        "relay_batch": 200,
        "lease_seconds": 2.0,
    }
    values.update(overrides)
    return BusConfig(**values)  # type: ignore[arg-type]


async def delete_topology(config: BusConfig, consumers: list[str]) -> None:
    """Remove the test's exchange and queues from the broker."""
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(AMQP_DIRECT, timeout=5)
        async with connection:
            channel = await connection.channel()
            for consumer in consumers:
                name = config.queue(consumer)
                names = [name, f"{name}.dlq"] + [f"{name}.retry.{i}" for i in range(1, config.max_attempts)]
                for queue in names:
                    await channel.queue_delete(queue)
            await channel.exchange_delete(config.exchange)


def make_bus(db: BusDatabase, transport: str, config: BusConfig, amqp_url: str = AMQP_DIRECT) -> EventBus:
    return EventBus(db.pool, config, amqp_url=amqp_url if transport == "amqp" else None, dsn=db.dsn)


async def create_task_event(pool: asyncpg.Pool, subject: str = "", event_type: str = "task.created") -> str:
    """What the tasks service does: a state change and its event in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        task_id = subject or str(uuid.uuid4())
        return await events.publish(
            conn,
            event_type=event_type,
            source="tasks",
            subject=task_id,
            payload=task_events.TaskCreated(),
        )


async def wait_for(predicate: Callable[[], object], within: float = 20.0, interval: float = 0.05) -> None:
    """Poll an (async) predicate until it is truthy, at most `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
