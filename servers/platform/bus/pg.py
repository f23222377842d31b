"""The embedded transport: events delivered through PostgreSQL itself.

The relay fans each outbox row out into `platform.deliveries`, one row per
subscribed consumer whose pattern matches, in the same transaction that marks
the row published. A consumer claims due rows with FOR UPDATE SKIP LOCKED and
a lease; the handler, the inbox row and deleting the delivery commit together.
A failure (or a crash: the lease expires) makes the row due again after the
retry delay; after the last attempt it is marked dead until replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from aether.events.v1 import event_pb2

from servers.platform.bus.core import (
    BatchFailed,
    BusConfig,
    DeadLetter,
    Subscription,
    first_of,
    handle_batch,
    pattern_regex,
)
from servers.platform.bus.reporting import report_dead_letter

log = logging.getLogger("aether.bus.pg")

_CLAIM = """
UPDATE platform.deliveries d
   SET attempts = d.attempts + 1, locked_until = now() + make_interval(secs => $3)
 WHERE d.id IN (
       SELECT id FROM platform.deliveries
        WHERE consumer = $1 AND dead_at IS NULL AND available_at <= now()
          AND (locked_until IS NULL OR locked_until < now())
        ORDER BY id LIMIT $2
        FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.attempts, d.payload
"""


class PgTransport:
    """Deliveries through `platform.deliveries`; see the module docstring."""

    name = "postgres"

    def __init__(self, pool: asyncpg.Pool, config: BusConfig, dsn: str | None = None):
        self.pool = pool
        self.config = config
        self._dsn = dsn

    async def deliver(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> None:
        """Fan out claimed outbox rows to every matching subscription."""
        await conn.execute(
            """
            INSERT INTO platform.deliveries (consumer, event_id, event_type, payload)
            SELECT DISTINCT ON (s.consumer, o.id) s.consumer, o.id, o.event_type, o.payload
              FROM platform.outbox o
              JOIN platform.subscriptions s ON ('.' || o.event_type) ~ s.regex
             WHERE o.id = ANY($1::uuid[])
            ON CONFLICT (consumer, event_id) DO NOTHING
            """,
            [r["id"] for r in rows],
        )

    async def register(self, sub: Subscription) -> None:
        async with self.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO platform.subscriptions (consumer, pattern, regex) VALUES ($1, $2, $3)"
                " ON CONFLICT (consumer, pattern) DO UPDATE SET regex = EXCLUDED.regex",
                [(sub.consumer, p, pattern_regex(p)) for p in sub.patterns],
            )

    async def run_consumer(self, sub: Subscription, stop: asyncio.Event) -> None:
        """Claim and handle due deliveries until `stop` is set."""
        await self.register(sub)
        wake = asyncio.Event()
        listener = await self._listen("aether_deliveries", wake)
        try:
            while not stop.is_set():
                try:
                    handled = await self.consume_once(sub)
                except Exception as exc:  # e.g. the database went away: leases expire, rows come back
                    log.warning("consumer poll failed", extra={"consumer": sub.consumer, "error": str(exc)})
                    handled = 0
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
                if handled:
                    continue
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(wake, stop), self.config.poll_interval)
        finally:
            if listener is not None:
                await _close_listener(listener)

    async def consume_once(self, sub: Subscription) -> int:
        """Claim due deliveries and handle them in one transaction; a failing
        event gets its retry (or dead letter) and the others are handled again."""
        async with self.pool.acquire() as conn:
            claimed = await conn.fetch(_CLAIM, sub.consumer, self.config.prefetch, self.config.lease_seconds)
        batch = [(row, event_pb2.Event.FromString(row["payload"])) for row in claimed]
        while batch:
            ids = [row["id"] for row, _ in batch]

            async def done(conn: asyncpg.Connection, ids: list[int] = ids) -> None:
                await conn.execute("DELETE FROM platform.deliveries WHERE id = ANY($1::bigint[])", ids)

            try:
                await handle_batch(self.pool, sub.consumer, sub.handler, [e for _, e in batch], also=done)
            except BatchFailed as failed:
                bad = next(i for i, (_, event) in enumerate(batch) if event.id == failed.event_id)
                row, event = batch.pop(bad)
                await self._failed(sub, row, event, failed.error)
                continue
            break
        return len(claimed)

    async def _failed(
        self, sub: Subscription, row: asyncpg.Record, event: event_pb2.Event, exc: Exception
    ) -> None:
        """One failed attempt: make the delivery due again after its delay, or dead."""
        attempts = row["attempts"]
        error = f"{type(exc).__name__}: {exc}"[:2000]
        dead = attempts >= self.config.max_attempts
        log.warning(
            "handler failed",
            extra={"consumer": sub.consumer, "event_id": event.id, "attempt": attempts, "dead": dead},
        )
        async with self.pool.acquire() as conn, conn.transaction():
            if dead:
                await conn.execute(
                    "UPDATE platform.deliveries SET dead_at = now(), locked_until = NULL, last_error = $2"
                    " WHERE id = $1",
                    row["id"],
                    error,
                )
                await report_dead_letter(conn, sub.consumer, event, attempts, error)
            else:
                await conn.execute(
                    "UPDATE platform.deliveries SET available_at = now() + make_interval(secs => $2),"
                    " locked_until = NULL, last_error = $3 WHERE id = $1",
                    row["id"],
                    self.config.delay_after(attempts),
                    error,
                )

    async def dead_letters(self, consumer: str | None = None) -> list[DeadLetter]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT consumer, event_id, event_type, attempts, coalesce(last_error, '') AS error, dead_at"
                " FROM platform.deliveries WHERE dead_at IS NOT NULL AND ($1::text IS NULL OR consumer = $1)"
                " ORDER BY dead_at",
                consumer,
            )
        return [
            DeadLetter(
                r["consumer"],
                str(r["event_id"]),
                r["event_type"],
                r["attempts"],
                r["error"],
                str(r["dead_at"]),
            )
            for r in rows
        ]

    async def replay(self, consumer: str | None = None, event_ids: Sequence[str] = ()) -> int:
        """Make dead deliveries due again with a fresh attempt count."""
        async with self.pool.acquire() as conn:
            result: str = await conn.execute(
                "UPDATE platform.deliveries SET dead_at = NULL, attempts = 0, available_at = now()"
                " WHERE dead_at IS NOT NULL AND ($1::text IS NULL OR consumer = $1)"
                " AND (cardinality($2::uuid[]) = 0 OR event_id = ANY($2::uuid[]))",
                consumer,
                list(event_ids),
            )
        return int(result.split()[-1])

    async def close(self) -> None:
        return None

    async def _listen(self, channel: str, wake: asyncio.Event) -> asyncpg.Connection | None:
        """A dedicated connection LISTENing on `channel` (None if that fails: we still poll)."""
        if not self._dsn:
            return None
        try:
            conn: asyncpg.Connection = await asyncpg.connect(self._dsn)
            await conn.add_listener(channel, lambda *_: wake.set())
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN failed; polling only", extra={"error": str(exc)})
            return None


async def _close_listener(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 5)
