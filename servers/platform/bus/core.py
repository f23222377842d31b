"""What both transports share: configuration, topic patterns, and running one
handler for one event exactly once per consumer (inbox + trace/request context)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aether.events.v1 import event_pb2
from opentelemetry import propagate, trace

from servers.platform.context import request_id_var
from servers.platform.settings import PlatformSettings

# A handler gets the event and a connection inside the transaction that also
# records the event in the consumer's inbox: write through `conn` and the
# writes commit if and only if the event counts as handled.
Handler = Callable[[event_pb2.Event, asyncpg.Connection], Awaitable[None]]

tracer = trace.get_tracer("aether.bus")

_WORD = re.compile(r"^([a-z0-9_]+|\*|#)$")


@dataclass(frozen=True)
class BusConfig:
    """Tunables of the backbone (from PlatformSettings, see `from_settings`)."""

    exchange: str = "aether.events"
    queue_prefix: str = "aether"
    # Delay before retry 1, 2, ...; after len(retry_delays) + 1 failed attempts
    # the event goes to the dead-letter queue.
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    relay_batch: int = 500
    relay_concurrency: int = 2
    poll_interval: float = 0.5
    prefetch: int = 100
    # Deliveries handled in one transaction on the fast path.
    batch_size: int = 100
    lease_seconds: float = 60.0
    outbox_retention_seconds: float = 24 * 3600.0
    inbox_retention_seconds: float = 7 * 24 * 3600.0
    prune_interval_seconds: float = 600.0

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def delay_after(self, attempt: int) -> float:
        """The wait before attempt `attempt + 1` (attempts count from 1)."""
        return self.retry_delays[min(attempt, len(self.retry_delays)) - 1]

    def queue(self, consumer: str) -> str:
        return f"{self.queue_prefix}.{consumer}"

    @classmethod
    def from_settings(cls, s: PlatformSettings) -> BusConfig:
        return cls(
            exchange=s.amqp_exchange,
            queue_prefix=s.bus_queue_prefix,
            retry_delays=tuple(float(d) for d in s.bus_retry_delays.split(",") if d.strip()),
            relay_batch=s.bus_relay_batch,
            relay_concurrency=s.bus_relay_concurrency,
            prefetch=s.bus_prefetch,
            outbox_retention_seconds=s.outbox_retention_hours * 3600,
        )


@dataclass(frozen=True)
class Subscription:
    consumer: str
    patterns: tuple[str, ...]
    handler: Handler


@dataclass(frozen=True)
class DeadLetter:
    """An event a consumer gave up on, as `aether events dead-letters list` shows it."""

    consumer: str
    event_id: str
    event_type: str
    attempts: int
    error: str
    dead_at: str


def pattern_regex(pattern: str) -> str:
    """An AMQP topic binding pattern ("task.*", "#", "ai.#") as an anchored
    regex over "." + event type; valid in Python and PostgreSQL alike."""
    words = pattern.split(".")
    if not all(_WORD.match(w) for w in words):
        raise ValueError(f"invalid topic pattern {pattern!r}")
    parts = {"*": r"\.[^.]+", "#": r"(\.[^.]+)*"}
    return "^" + "".join(parts.get(w, r"\." + w) for w in words) + "$"


def matches(pattern: str, event_type: str) -> bool:
    return re.match(pattern_regex(pattern), "." + event_type) is not None


@contextlib.contextmanager
def event_scope(consumer: str, event: event_pb2.Event) -> Iterator[None]:
    """The consumer span, continuing the trace of the request that caused the
    event, with that request's id in the context (so in every log line)."""
    context = propagate.extract({"traceparent": event.traceparent, "tracestate": event.tracestate})
    token = request_id_var.set(event.request_id)
    try:
        with tracer.start_as_current_span(
            f"{event.type} process",
            context=context,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.operation": "process",
                "messaging.message.id": event.id,
                "messaging.destination.name": event.type,
                "messaging.consumer.group.name": consumer,
                "aether.request_id": event.request_id,
            },
        ):
            yield
    finally:
        request_id_var.reset(token)


class BatchFailed(Exception):
    """A handler failed inside `handle_batch`: nothing of the batch committed."""

    def __init__(self, event_id: str, error: Exception):
        super().__init__(f"event {event_id}: {error}")
        self.event_id = event_id
        self.error = error


async def handle_batch(
    db: asyncpg.Pool | asyncpg.Connection,
    consumer: str,
    handler: Handler,
    events: Sequence[event_pb2.Event],
    also: Callable[[asyncpg.Connection], Awaitable[Any]] | None = None,
) -> int:
    """The fast path: several events in ONE transaction (one inbox insert, one
    commit). If a handler fails the whole batch rolls back and BatchFailed
    names the event: callers count that as its failed attempt and handle the
    rest again, so a poison event never holds back the others. Returns how
    many were new. `db` is a pool (a connection is acquired for the batch) or
    a connection the caller holds (no acquire/release, so no reset query, per
    batch; the transaction still rolls back entirely on failure)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await handle_batch(conn, consumer, handler, events, also)
    conn = db
    async with conn.transaction():
        rows = await conn.fetch(
            "INSERT INTO platform.inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            [uuid.UUID(e.id) for e in events],
        )
        fresh = {str(r["event_id"]) for r in rows}
        handled = 0
        for event in events:
            if event.id in fresh:
                fresh.discard(event.id)  # a duplicate inside the batch runs once
                with event_scope(consumer, event):
                    try:
                        await handler(event, conn)
                    except Exception as exc:
                        raise BatchFailed(event.id, exc) from exc
                handled += 1
        if also is not None:
            await also(conn)
    return handled


def validate_patterns(patterns: str | Sequence[str]) -> tuple[str, ...]:
    result = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    for p in result:
        pattern_regex(p)
    return result


async def first_of(*events: Any) -> None:
    """Wait until any of the asyncio.Events is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
