"""Brings PostgreSQL and Chroma back into agreement after a crash, at start
and then periodically:

1. ingests that stopped part-way (a document still `processing`, or rows of
   a generation never published, untouched for `stale_seconds`): the rows go
   (a first ingest becomes `failed`, saying so) and so do their vectors;
2. vectors without a chunk row (a delete or undo that crashed between its
   two writes) are deleted from each user's collection.

PostgreSQL is the truth: a vector is only ever written after its row (see
servers/rag/ingest.py), so a vector without a row is garbage, never an ingest
in flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from servers.platform.background import cancel_and_wait
from servers.platform.errors import AetherError
from servers.platform.uow import UnitOfWork

logger = logging.getLogger(__name__)
INTERRUPTED = "ingest interrupted (the server stopped while storing); ingest it again"


class ReconcileWrites(Protocol):
    async def stale(self, older_than_seconds: float) -> list[tuple[str, str, int]]: ...
    async def fail(self, document_id: str, message: str) -> None: ...
    async def drop_generation(self, document_id: str, generation: int) -> None: ...
    async def known_ids(self, ids: Sequence[str]) -> set[str]: ...


class ReconcileIndex(Protocol):
    async def delete_document(
        self, user_id: str, document_id: str, *, generation: int | None = None
    ) -> None: ...
    async def users(self) -> list[str]: ...
    async def ids(self, user_id: str) -> list[str]: ...
    async def delete_ids(self, user_id: str, ids: Sequence[str]) -> None: ...


@dataclass
class Repairs:
    interrupted: int = 0
    orphan_vectors: int = 0


class Reconciler:
    def __init__(
        self,
        uow: UnitOfWork[ReconcileWrites],
        index: ReconcileIndex,
        *,
        stale_seconds: float,
        interval_seconds: float,
    ):
        self._uow = uow
        self._index = index
        self._stale = stale_seconds
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> Repairs:
        repairs = Repairs()
        async with self._uow() as tx:
            stale = await tx.repo.stale(self._stale)
        for document_id, user_id, generation in stale:
            async with self._uow() as tx:
                await tx.repo.fail(document_id, INTERRUPTED)  # only if still processing
                await tx.repo.drop_generation(document_id, generation)  # only if unpublished
            await self._index.delete_document(user_id, document_id, generation=generation)
            repairs.interrupted += 1
        for user_id in await self._index.users():
            ids = await self._index.ids(user_id)
            for start in range(0, len(ids), 1000):
                part = ids[start : start + 1000]
                async with self._uow() as tx:
                    known = await tx.repo.known_ids(part)
                orphans = [i for i in part if i not in known]
                await self._index.delete_ids(user_id, orphans)
                repairs.orphan_vectors += len(orphans)
        if repairs.interrupted or repairs.orphan_vectors:
            logger.warning(
                "rag reconciler: %d interrupted ingests undone, %d orphan vectors deleted",
                repairs.interrupted,
                repairs.orphan_vectors,
            )
        return repairs

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rag-reconciler")

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except (AetherError, OSError) as error:  # a store is down: try again next round
                logger.warning("rag reconciler pass failed: %s", error)
            except Exception:
                logger.exception("rag reconciler pass failed")
            if self._interval <= 0:
                return
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
