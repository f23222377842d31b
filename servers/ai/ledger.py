"""Usage accounting off the request path.

Every accepted request produces an "ai.request.received" event, and when it
ends a ledger row with its "ai.response.generated" event plus a budget and
rate-limit settlement. None of that should add to the caller's latency, so
requests only enqueue it. Each event is prepared at once, in the request's
context (`uow.prepare`: request id, caller, trace); one writer task drains the
queue in arrival order and applies each batch (what arrived within
`linger_seconds`) in two round trips, whatever its size: the settlements in
one Redis MULTI/EXEC (`Settle`, servers.ai.limits.Settler), then the rows and
the prepared events in one unit of work (one PostgreSQL transaction). Usage
reads flush first, so callers always see their own requests; shutdown drains
everything.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence
from typing import Protocol

from servers.ai import metrics
from servers.ai.domain import LedgerEntry, RequestReceived, ResponseGenerated, Settlement
from servers.platform.background import cancel_and_wait
from servers.platform.uow import PreparedEvent, UnitOfWork

log = logging.getLogger("aether.ai.ledger")


class UsageWrites(Protocol):
    """The ledger's repository inside a unit of work (servers.ai.store.AiRepository)."""

    async def insert_entries(self, rows: Sequence[LedgerEntry]) -> None: ...


class BatchUnitOfWork(UnitOfWork[UsageWrites], Protocol):
    """A unit of work that can prepare an event now and commit it later
    (servers.platform.uow.PostgresUnitOfWork)."""

    def prepare(self, domain_event: object) -> PreparedEvent: ...


class Settle(Protocol):
    """Applies a batch's budget and rate-limit settlements (servers.ai.limits.Settler)."""

    async def settle(self, settlements: Sequence[Settlement]) -> None: ...


_Item = tuple[LedgerEntry | None, PreparedEvent, Settlement | None]


class Ledger:
    def __init__(
        self,
        uow: BatchUnitOfWork,
        settler: Settle,
        max_batch: int = 500,
        linger_seconds: float = 0.05,
        retry_seconds: float = 0.5,
    ):
        self._uow = uow
        self._settler = settler
        self._max_batch = max_batch
        self._linger_seconds = linger_seconds
        self._retry_seconds = retry_seconds
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def received(self, event: RequestReceived) -> None:
        self._put((None, self._uow.prepare(event), None))

    def finished(self, event: ResponseGenerated, settlement: Settlement) -> None:
        metrics.count(event.entry)
        self._put((event.entry, self._uow.prepare(event), settlement))

    async def flush(self) -> None:
        """Return once everything enqueued so far is written and settled."""
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        await cancel_and_wait(self._writer)

    def _put(self, item: _Item) -> None:
        if self._writer is None or self._writer.done():
            # A clean context: the writer serves every request, not the first one's.
            self._writer = asyncio.create_task(self._write_forever(), context=contextvars.Context())
        self._queue.put_nowait(item)

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
            await self._settler.settle([settlement for _, _, settlement in batch if settlement is not None])
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[_Item]) -> None:
        """The batch's rows and events (in order) in one transaction, retried
        until it commits (e.g. while the database is away)."""
        rows = [entry for entry, _, _ in batch if entry is not None]
        while True:
            try:
                async with self._uow() as tx:
                    await tx.repo.insert_entries(rows)
                    tx.record(*(event for _, event, _ in batch))
                return
            except Exception:
                log.exception("could not write AI usage; retrying", extra={"items": len(batch)})
                await asyncio.sleep(self._retry_seconds)
