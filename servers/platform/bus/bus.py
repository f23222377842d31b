"""EventBus: the outbox relay plus subscriptions, over either transport.

Which transport is configuration: RabbitMQ when AMQP_URL is set, else the
embedded PostgreSQL transport. Both give at-least-once delivery, dedupe by
event id (the inbox), retries with growing delay and dead letters, behind the
same `subscribe(pattern, handler, consumer=...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import asyncpg

from servers.platform import events
from servers.platform.bus.amqp import AmqpTransport
from servers.platform.bus.core import (
    BusConfig,
    DeadLetter,
    Handler,
    Subscription,
    first_of,
    validate_patterns,
)
from servers.platform.bus.pg import PgTransport
from servers.platform.settings import PlatformSettings

log = logging.getLogger("aether.bus")

_CLAIM_OUTBOX = """
SELECT id, event_type, payload FROM platform.outbox
 WHERE published_at IS NULL
 ORDER BY seq
 LIMIT $1
 FOR UPDATE SKIP LOCKED
"""


class Transport(Protocol):
    name: str

    async def deliver(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> None: ...
    async def run_consumer(self, sub: Subscription, stop: asyncio.Event) -> None: ...
    async def dead_letters(self, consumer: str | None = None) -> list[DeadLetter]: ...
    async def replay(self, consumer: str | None = None, event_ids: Sequence[str] = ()) -> int: ...
    async def close(self) -> None: ...


class EventBus:
    """Relay and consumers of one server process (any number may run at once)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        config: BusConfig | None = None,
        *,
        amqp_url: str | None = None,
        dsn: str | None = None,
        sources: Sequence[str] | None = None,
    ):
        self.pool = pool
        # The outbox sources whose commits in this process wake this relay (None: every
        # source; servers.platform.events.committed). Other rows are found by the poll.
        self._sources = frozenset(sources) if sources is not None else None
        self.config = config or BusConfig()
        self.transport: Transport = (
            AmqpTransport(amqp_url, pool, self.config) if amqp_url else PgTransport(pool, self.config, dsn)
        )
        self.subscriptions: list[Subscription] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: list[asyncio.Event] = []  # one per relay loop
        self._idle: list[asyncio.Event] = []  # those of loops waiting for work
        self._unwatch: Callable[[], None] | None = None

    @classmethod
    def from_settings(
        cls, settings: PlatformSettings, pool: asyncpg.Pool, sources: Sequence[str] | None = None
    ) -> EventBus:
        return cls(
            pool,
            BusConfig.from_settings(settings),
            amqp_url=settings.amqp_url,
            dsn=settings.database_url,
            sources=sources,
        )

    def subscribe(self, patterns: str | Sequence[str], handler: Handler, *, consumer: str) -> None:
        """Deliver events whose type matches `patterns` (AMQP topic syntax:
        "task.*", "ai.#", "#") to `handler`, through the durable queue of
        `consumer` (every replica of a service shares it). Takes effect on start()."""
        self.subscriptions.append(Subscription(consumer, validate_patterns(patterns), handler))

    async def start(self, *, relay: bool = True) -> None:
        """Start the relay (unless `relay` is False) and every subscription."""
        self._stop.clear()
        if relay:
            self._unwatch = events.watch_commits(self._wake)
            # Several loops pipeline batches (one waits for confirms while the
            # next is claimed); SKIP LOCKED keeps them on disjoint rows.
            for i in range(self.config.relay_concurrency):
                self._tasks.append(asyncio.create_task(self._relay_loop(), name=f"outbox-relay-{i}"))
        for sub in self.subscriptions:
            self._tasks.append(
                asyncio.create_task(
                    self.transport.run_consumer(sub, self._stop), name=f"consumer-{sub.consumer}"
                )
            )

    async def stop(self) -> None:
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=15)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()
        self._wakes.clear()
        self._idle.clear()
        await self.transport.close()

    # --- the relay ---------------------------------------------------------------
    async def relay_once(self) -> int:
        """Publish one batch of unpublished outbox rows; returns how many. Rows
        locked by another relay are skipped; on a publish failure the batch
        stays unpublished (the transaction rolls back) and the error propagates."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM_OUTBOX, self.config.relay_batch)
            if not rows:
                return 0
            await self.transport.deliver(conn, rows)
            await conn.execute(
                "UPDATE platform.outbox SET published_at = now() WHERE id = ANY($1::uuid[])",
                [r["id"] for r in rows],
            )
        return len(rows)

    async def prune(self) -> tuple[int, int]:
        """Delete published outbox rows and inbox rows past their retention."""
        async with self.pool.acquire() as conn:
            outbox = await conn.execute(
                "DELETE FROM platform.outbox WHERE published_at < now() - make_interval(secs => $1)",
                self.config.outbox_retention_seconds,
            )
            inbox = await conn.execute(
                "DELETE FROM platform.inbox WHERE processed_at < now() - make_interval(secs => $1)",
                self.config.inbox_retention_seconds,
            )
        return int(outbox.split()[-1]), int(inbox.split()[-1])

    async def _relay_loop(self) -> None:
        wake = asyncio.Event()
        self._wakes.append(wake)
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        backoff = 0.2
        while not self._stop.is_set():
            try:
                if loop.time() >= next_prune:
                    await self.prune()
                    next_prune = loop.time() + self.config.prune_interval_seconds
                wake.clear()
                if await self.relay_once() >= self.config.relay_batch:
                    continue
                backoff = 0.2
                timeout = self.config.poll_interval
            except Exception as exc:
                log.warning("relay failed", extra={"error": str(exc), "transport": self.transport.name})
                with contextlib.suppress(TimeoutError):  # new events do not shorten the pause
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._idle.append(wake)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(wake, self._stop), timeout)
            finally:
                if wake in self._idle:
                    self._idle.remove(wake)

    def _wake(self, sources: frozenset[str]) -> None:
        """A commit wrote events of `sources`: wake one idle loop (more would only find the
        rows locked, each at the cost of a transaction); when every loop is busy, each looks
        again after its batch. Another server's sources wake nobody here."""
        if self._sources is not None and self._sources.isdisjoint(sources):
            return
        if self._idle:
            self._idle.pop().set()
            return
        for wake in self._wakes:
            wake.set()
