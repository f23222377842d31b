"""Usage accounting off the request path.

Every accepted request produces an "ai.request.received" event, and when it
ends a ledger row with its "ai.response.generated" event plus a budget and
rate-limit settlement. None of that should add to the caller's latency, so
requests only enqueue it (events are built at once, in the request's context:
request id, caller, trace): one writer task drains the queue in arrival order
and writes each batch, rows and outbox events, in one transaction, and the
Redis settlements run as tracked background tasks. Usage reads flush first,
so callers always see their own requests; shutdown drains everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

from aether.events.v1 import event_pb2
from google.protobuf.message import Message

from servers.ai.store import AiStore, LedgerEntry
from servers.platform import events

log = logging.getLogger("aether.ai.ledger")

SOURCE = "ai"


class Ledger:
    def __init__(self, store: AiStore, max_batch: int = 500, retry_seconds: float = 0.5):
        self._store = store
        self._max_batch = max_batch
        self._retry_seconds = retry_seconds
        self._queue: asyncio.Queue[tuple[LedgerEntry | None, event_pb2.Event]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer: asyncio.Task[None] | None = None

    def received(self, request_id: str, payload: Message) -> None:
        event = events.envelope(
            event_type="ai.request.received", source=SOURCE, subject=request_id, payload=payload
        )
        self._put(None, event)

    def finished(self, entry: LedgerEntry, payload: Message) -> None:
        event = events.envelope(
            event_type="ai.response.generated", source=SOURCE, subject=entry.request_id, payload=payload
        )
        self._put(entry, event)

    def soon(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background; errors are logged, flush() waits for it."""
        task = asyncio.create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Return once everything enqueued so far is written and settled."""
        await self._queue.join()
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _put(self, entry: LedgerEntry | None, event: event_pb2.Event) -> None:
        if self._writer is None or self._writer.done():
            # A clean context: the writer serves every request, not the first one's.
            self._writer = asyncio.create_task(self._write_forever(), context=contextvars.Context())
        self._queue.put_nowait((entry, event))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            rows = [entry for entry, _ in batch if entry is not None]
            while True:
                try:
                    await self._store.write_batch(rows, [event for _, event in batch])
                    break
                except Exception:  # e.g. the database is away: keep the batch and retry
                    log.exception("could not write AI usage; retrying", extra={"items": len(batch)})
                    await asyncio.sleep(self._retry_seconds)
            for _ in batch:
                self._queue.task_done()

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("AI usage settlement failed")
