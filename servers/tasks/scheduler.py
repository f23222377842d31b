"""The due-date scheduler: emits "task.due_soon" and "task.overdue" once per task
(and due date), also across restarts and with several Task servers running.

Each pass claims due rows with `FOR UPDATE SKIP LOCKED`, writes their outbox
events and marks them notified in one transaction, so an event exists if and
only if the mark does, and two schedulers never claim the same row. State lives
in the tasks table, so a restarted server resumes where the last one stopped
(a task that became due while no scheduler ran is handled by the next pass)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from servers.platform.background import cancel_and_wait
from servers.platform.uow import UnitOfWork
from servers.tasks.domain import Task, TaskDueSoon, TaskOverdue

log = logging.getLogger("aether.tasks.scheduler")

DUE_SOON = "due_soon"
OVERDUE = "overdue"


class DueTasks(Protocol):
    """The scheduler's part of the repository (servers.tasks.store.TaskRepository)."""

    async def claim_due(self, kind: str, now: datetime, window_end: datetime, batch: int) -> list[Task]: ...
    async def mark_notified(self, kind: str, task_ids: list[str], now: datetime) -> None: ...


class DueDateScheduler:
    def __init__(
        self, uow: UnitOfWork[DueTasks], due_soon_window: timedelta, interval_seconds: float, batch: int = 500
    ):
        self._uow = uow
        self._window = due_soon_window
        self._interval = interval_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> list[TaskDueSoon | TaskOverdue]:
        """One pass at time `now` (default: the current time); returns the events
        this instance emitted. Safe to run concurrently with other instances."""
        now = now or datetime.now(UTC)
        emitted: list[TaskDueSoon | TaskOverdue] = []
        for kind in (OVERDUE, DUE_SOON):
            while True:
                async with self._uow() as tx:
                    tasks = await tx.repo.claim_due(kind, now, now + self._window, self._batch)
                    if tasks:
                        await tx.repo.mark_notified(kind, [t.id for t in tasks], now)
                    found = [TaskDueSoon(t, now) if kind == DUE_SOON else TaskOverdue(t, now) for t in tasks]
                    tx.record(*found)
                emitted += found
                if len(tasks) < self._batch:
                    break
        if emitted:
            log.info("scheduled events emitted", extra={"count": len(emitted)})
        return emitted

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep scheduling through transient database errors
                log.exception("scheduler pass failed")
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        """Run passes every `interval_seconds` in the background (0 disables)."""
        if self._interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="tasks-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
