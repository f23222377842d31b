"""The Task Manager's unit of work against the real PostgreSQL: a committed use
case writes exactly its events to the outbox, a rolled-back one writes none."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from servers.platform.errors import Conflict
from servers.platform.scoping import Viewer
from servers.tasks.domain import NewTask, TaskCreated, TaskPatch
from servers.tasks.main import unit_of_work
from servers.tasks.queries import TaskQueries
from servers.tasks.usecases import TaskUseCases
from tests.helpers import acting_as, outbox_events


@pytest.fixture
def tasks(pool: asyncpg.Pool) -> TaskUseCases:
    return TaskUseCases(unit_of_work(pool), TaskQueries(pool), NoUsers())


class NoUsers:
    """No account exists: these tests assign nobody."""

    async def is_active(self, user_id: str) -> bool:
        return False


async def test_committed_use_cases_write_exactly_their_events(tasks: TaskUseCases, pool) -> None:
    with acting_as(f"uow-{uuid.uuid4()}"):
        task = await tasks.create(NewTask(title="write the outbox"), request_id="")
        await tasks.update(task.id, TaskPatch(priority="high"))
        await tasks.update(task.id, TaskPatch(priority="high"))  # no change: no event
        await tasks.complete(task.id, actual_hours=1.5)
        await tasks.comment(task.id, "done", request_id="")
        await tasks.delete(task.id)
    assert await outbox_events(pool, task.id) == [
        "task.created",
        "task.updated",
        "task.completed",
        "task.updated",
        "task.deleted",
    ]


async def test_a_rolled_back_use_case_writes_no_event(tasks: TaskUseCases, pool) -> None:
    with acting_as(f"uow-{uuid.uuid4()}"):
        task = await tasks.create(NewTask(title="stale writer"), request_id="")
        with pytest.raises(Conflict):  # raised after the row lock, inside the unit of work
            await tasks.update(task.id, TaskPatch(title="lost", expected_version=task.version + 7))
        assert (await tasks.get(task.id)).title == "stale writer"
    assert await outbox_events(pool, task.id) == ["task.created"]


async def test_an_exception_after_recording_discards_the_events(pool) -> None:
    uow = unit_of_work(pool)
    subject = str(uuid.uuid4())
    with acting_as("uow-raiser"), pytest.raises(RuntimeError):
        async with uow() as tx:
            await tx.repo.conn.execute(
                "INSERT INTO tasks.tasks (id, title, created_by) VALUES ($1, 'gone', 'uow-raiser')",
                uuid.UUID(subject),
            )
            inserted = await tx.repo.lock(subject, Viewer("uow-raiser"))
            assert inserted is not None
            tx.record(TaskCreated(inserted))
            raise RuntimeError("boom")
    assert await pool.fetchval("SELECT count(*) FROM tasks.tasks WHERE id = $1", uuid.UUID(subject)) == 0
    assert await outbox_events(pool, subject) == []
