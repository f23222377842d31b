"""The due-date scheduler against the real PostgreSQL: two instances (as two Task
servers would run) racing over the same tasks emit every task.due_soon and
task.overdue event exactly once, in the outbox, and a changed due date re-arms."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from aether.events.v1 import event_pb2
from aether.tasks.v1 import events_pb2, tasks_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2 as pb
from google.protobuf import timestamp_pb2

from servers.tasks.domain import TaskDueSoon, TaskOverdue
from servers.tasks.main import unit_of_work
from servers.tasks.scheduler import DueDateScheduler
from tests.helpers import bearer

WINDOW = timedelta(hours=1)
# Far in the future, so the scheduler running inside the shared server (real clock) never sees them.
T0 = datetime(2040, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pools(database_url: str, app_server: object) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools: the two scheduler instances share nothing but the database."""
    a = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    b = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield a, b
    await a.close()
    await b.close()


def schedulers(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> tuple[DueDateScheduler, DueDateScheduler]:
    # A small batch makes the two instances interleave many claim transactions.
    return (
        DueDateScheduler(unit_of_work(pools[0]), WINDOW, interval_seconds=0, batch=3),
        DueDateScheduler(unit_of_work(pools[1]), WINDOW, interval_seconds=0, batch=3),
    )


def kind(event: TaskDueSoon | TaskOverdue) -> str:
    return "task.due_soon" if isinstance(event, TaskDueSoon) else "task.overdue"


async def race(
    pair: tuple[DueDateScheduler, DueDateScheduler], now: datetime
) -> list[TaskDueSoon | TaskOverdue]:
    a, b = await asyncio.gather(pair[0].run_once(now), pair[1].run_once(now))
    return a + b


async def test_two_schedulers_emit_each_event_exactly_once(pools) -> None:
    owner = f"sched-{uuid.uuid4()}"
    ids = [uuid.uuid4() for _ in range(60)]
    await pools[0].executemany(
        "INSERT INTO tasks.tasks (id, title, created_by, due_date) VALUES ($1, $2, $3, $4)",
        [(tid, f"t{i}", owner, T0 + timedelta(minutes=i)) for i, tid in enumerate(ids)],
    )
    done = uuid.uuid4()  # completed tasks get no events
    await pools[0].execute(
        """INSERT INTO tasks.tasks (id, title, created_by, due_date, status)
           VALUES ($1, 'done', $2, $3, 'completed')""",
        done,
        owner,
        T0,
    )
    mine = {str(t) for t in ids}
    pair = schedulers(pools)

    # 30 min before T0: tasks due in the next hour (t0..t30) are due soon.
    first = [e for e in await race(pair, T0 - timedelta(minutes=30)) if e.task.id in mine | {str(done)}]
    assert Counter(kind(e) for e in first) == {"task.due_soon": 31}
    assert len({e.task.id for e in first}) == 31
    # Same moment again (a restart, or the other instance's next pass): nothing new.
    again = await race(schedulers(pools), T0 - timedelta(minutes=30))
    assert not [e for e in again if e.task.id in mine]

    # 30 min after T0: t0..t30 are overdue, t31..t59 due soon.
    second = [e for e in await race(pair, T0 + timedelta(minutes=30)) if e.task.id in mine | {str(done)}]
    assert Counter(kind(e) for e in second) == {"task.overdue": 31, "task.due_soon": 29}
    # Two hours after T0: the rest are overdue.
    third = [e for e in await race(pair, T0 + timedelta(hours=2)) if e.task.id in mine | {str(done)}]
    assert Counter(kind(e) for e in third) == {"task.overdue": 29}

    emitted = Counter((e.task.id, kind(e)) for e in first + second + third)
    assert set(emitted.values()) == {1} and len(emitted) == 120
    # The outbox holds exactly those events: one due_soon and one overdue per task.
    rows = await pools[0].fetch(
        "SELECT subject, event_type, payload FROM platform.outbox WHERE subject = ANY($1::text[])",
        [*mine, str(done)],
    )
    assert Counter((r["subject"], r["event_type"]) for r in rows) == emitted
    event = event_pb2.Event.FromString(
        next(r["payload"] for r in rows if r["subject"] == str(ids[0]) and r["event_type"] == "task.due_soon")
    )
    payload = events_pb2.TaskDueSoon()
    assert event.payload.Unpack(payload)
    assert event.source == "tasks" and payload.task.id == str(ids[0]) and payload.due_in_seconds == 30 * 60
    flags = await pools[0].fetchrow(
        """SELECT count(*) FILTER (WHERE due_soon_notified_at IS NULL) AS soon,
                  count(*) FILTER (WHERE overdue_notified_at IS NULL) AS over
           FROM tasks.tasks WHERE id = ANY($1::uuid[])""",
        ids,
    )
    assert (flags["soon"], flags["over"]) == (0, 0)


async def test_changing_the_due_date_rearms_the_events(pools, app_server, forge_token) -> None:
    user = str(uuid.uuid4())
    md = bearer(await forge_token(user))
    due = timestamp_pb2.Timestamp()
    due.FromDatetime(T0 + timedelta(days=30))
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        stub = tasks_service_pb2_grpc.TaskServiceStub(channel)
        task = await stub.CreateTask(pb.CreateTaskRequest(title="moving", due_date=due), metadata=md)
        pair = schedulers(pools)
        at = T0 + timedelta(days=30, minutes=1)
        assert [kind(e) for e in await race(pair, at) if e.task.id == task.id] == ["task.overdue"]
        assert not [e for e in await race(pair, at) if e.task.id == task.id]
        due.FromDatetime(T0 + timedelta(days=31))
        await stub.UpdateTask(pb.UpdateTaskRequest(id=task.id, due_date=due), metadata=md)
        later = await race(pair, T0 + timedelta(days=31, minutes=-30))
        assert [kind(e) for e in later if e.task.id == task.id] == ["task.due_soon"]
        assert [
            kind(e) for e in await race(pair, T0 + timedelta(days=31, minutes=5)) if e.task.id == task.id
        ] == ["task.overdue"]
