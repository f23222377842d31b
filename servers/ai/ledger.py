"""Usage accounting off the request path.

Every accepted request produces an "ai.request.received" event, and when it
ends a ledger row with its "ai.response.generated" event plus a budget and
rate-limit settlement. None of that should add to the caller's latency, so
requests only enqueue it (events are built at once, in the request's context:
request id, caller, trace): one writer task drains the queue in arrival order
and applies each batch (what arrived within `linger_seconds`) in two round
trips, whatever its size: the Redis settlements in one MULTI/EXEC pipeline,
then the rows and outbox events in one PostgreSQL transaction. Usage reads
flush first, so callers always see their own requests; shutdown drains
everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

from aether.events.v1 import event_pb2
from google.protobuf.message import Message
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from servers.ai.store import AiStore, LedgerEntry
from servers.platform import events

log = logging.getLogger("aether.ai.ledger")

SOURCE = "ai"

Settle = Callable[[Pipeline], None]  # queues a request's Redis settlement on the batch's pipeline


class Ledger:
    def __init__(
        self,
        store: AiStore,
        redis: Redis,
        max_batch: int = 500,
        linger_seconds: float = 0.05,
        retry_seconds: float = 0.5,
    ):
        self._store = store
        self._redis = redis
        self._max_batch = max_batch
        self._linger_seconds = linger_seconds
        self._retry_seconds = retry_seconds
        self._queue: asyncio.Queue[tuple[LedgerEntry | None, event_pb2.Event, Settle | None]] = (
            asyncio.Queue()
        )
        self._writer: asyncio.Task[None] | None = None

    def received(self, request_id: str, payload: Message) -> None:
        event = events.envelope(
            event_type="ai.request.received", source=SOURCE, subject=request_id, payload=payload
        )
        self._put(None, event, None)

    def finished(self, entry: LedgerEntry, payload: Message, settle: Settle) -> None:
        event = events.envelope(
            event_type="ai.response.generated", source=SOURCE, subject=entry.request_id, payload=payload
        )
        self._put(entry, event, settle)

    async def flush(self) -> None:
        """Return once everything enqueued so far is written and settled."""
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _put(self, entry: LedgerEntry | None, event: event_pb2.Event, settle: Settle | None) -> None:
        if self._writer is None or self._writer.done():
            # A clean context: the writer serves every request, not the first one's.
            self._writer = asyncio.create_task(self._write_forever(), context=contextvars.Context())
        self._queue.put_nowait((entry, event, settle))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Let a batch gather: under load, one transaction then carries many
            # requests (each one costs a pool checkout, BEGIN/COMMIT and a NOTIFY
            # that wakes a relay in every process). 50 ms rather than 10 halves
            # PostgreSQL's CPU per request at 300 requests/s (benchmarks/README.md);
            # flush() still returns within it.
            if self._queue.qsize() < self._max_batch:
                await asyncio.sleep(self._linger_seconds)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._settle([settle for _, _, settle in batch if settle is not None])
            rows = [entry for entry, _, _ in batch if entry is not None]
            while True:
                try:
                    await self._store.write_batch(rows, [event for _, event, _ in batch])
                    break
                except Exception:  # e.g. the database is away: keep the batch and retry
                    log.exception("could not write AI usage; retrying", extra={"items": len(batch)})
                    await asyncio.sleep(self._retry_seconds)
            for _ in batch:
                self._queue.task_done()

    async def _settle(self, settles: list[Settle]) -> None:
        if not settles:
            return
        batch = self._redis.pipeline(transaction=True)
        for settle in settles:
            settle(batch)
        try:
            await batch.execute()
        except Exception:
            # Not retried: the transaction may have applied. Held budget expires with its period.
            log.exception("AI usage settlement failed", extra={"items": len(settles)})
