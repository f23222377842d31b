"""TaskService over native gRPC against the shared in-process server: every RPC,
ownership, history, idempotency, optimistic concurrency, bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from aether.events.v1 import event_pb2
from aether.tasks.v1 import events_pb2, tasks_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2 as pb
from google.protobuf import timestamp_pb2

from tests.helpers import bearer, insert_account, rich_error


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


class Caller:
    """A user (random id, forged token) with the TaskService stub bound to them."""

    def __init__(self, stub: tasks_service_pb2_grpc.TaskServiceStub, user_id: str, token: str):
        self.stub, self.id, self.md = stub, user_id, bearer(token)

    async def create(self, **fields: object) -> pb.Task:  # type: ignore[name-defined]
        fields.setdefault("title", "A task")
        return await self.stub.CreateTask(pb.CreateTaskRequest(**fields), metadata=self.md)

    async def call(self, method: str, request: object) -> object:
        return await getattr(self.stub, method)(request, metadata=self.md)


MakeCaller = Callable[..., Awaitable[Caller]]


@pytest.fixture(scope="module")
async def stub(app_server: tuple[str, list[str]]) -> AsyncIterator[tasks_service_pb2_grpc.TaskServiceStub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield tasks_service_pb2_grpc.TaskServiceStub(channel)


@pytest.fixture
def caller(stub: tasks_service_pb2_grpc.TaskServiceStub, forge_token, db: asyncpg.Pool) -> MakeCaller:
    async def make(
        *, admin: bool = False, role: str = "user", permissions: tuple[str, ...] | None = None
    ) -> Caller:
        """A caller with the real permissions of a role (`permissions` only where
        a test is about permission sets no role has)."""
        user_id = str(uuid.uuid4())
        roles = ("admin",) if admin else (role,)
        await insert_account(db, user_id, roles)  # an existing user, so it can be assigned tasks
        return Caller(stub, user_id, await forge_token(user_id, roles=roles, permissions=permissions))

    return make


@pytest.fixture(scope="module")
async def db(database_url: str, app_server: object) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def expect(code: grpc.StatusCode, call: Awaitable[object]):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    error = rich_error(err.value)
    assert error.code == code, (error.code, error.message)
    return error


async def outbox(db: asyncpg.Pool, task_id: str) -> list[event_pb2.Event]:
    rows = await db.fetch(
        "SELECT payload FROM platform.outbox WHERE source = 'tasks' AND subject = $1 ORDER BY created_at",
        task_id,
    )
    return [event_pb2.Event.FromString(r["payload"]) for r in rows]


async def test_create_get_list_update_complete_comment_delete(caller: MakeCaller, db: asyncpg.Pool) -> None:
    alice = await caller()
    due = datetime(2031, 1, 31, 17, 0, tzinfo=UTC)
    task = await alice.create(
        title="Implement login page",
        description="Create responsive login page with OAuth",
        priority="high",
        category="frontend",
        due_date=ts(due),
        tags=["ui", "auth"],
        estimated_hours=8,
    )
    assert uuid.UUID(task.id) and task.status == "pending" and task.version == 1
    assert task.created_by == alice.id and task.priority == "high" and list(task.tags) == ["ui", "auth"]
    assert task.due_date.ToDatetime(tzinfo=UTC) == due and task.estimated_hours == 8

    listed = await alice.call("ListTasks", pb.ListTasksRequest())
    assert [t.id for t in listed.tasks] == [task.id]
    assert listed.pagination.total == 1 and not listed.tasks[0].history

    updated = await alice.call(
        "UpdateTask", pb.UpdateTaskRequest(id=task.id, status="in_progress", progress=40)
    )
    assert (updated.status, updated.progress, updated.version) == ("in_progress", 40, 2)
    assert updated.title == "Implement login page" and updated.priority == "high"  # untouched

    comment = await alice.call("AddComment", pb.AddCommentRequest(task_id=task.id, text="Started on it"))
    assert (comment.task_id, comment.user_id, comment.text) == (task.id, alice.id, "Started on it")

    done = await alice.call("CompleteTask", pb.CompleteTaskRequest(id=task.id, actual_hours=6.5))
    assert (done.id, done.status, done.completed_by, done.actual_hours) == (
        task.id,
        "completed",
        alice.id,
        6.5,
    )
    assert done.HasField("completed_at")

    full = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert [c.text for c in full.comments] == ["Started on it"]
    history = [(h.action, h.field) for h in full.history]
    assert history == [
        ("created", ""),
        ("updated", "status"),
        ("updated", "progress"),
        ("commented", ""),
        ("completed", "status"),
        ("updated", "actualHours"),
        ("updated", "progress"),
    ]
    status_change = full.history[1]
    assert status_change.from_value.string_value == "pending"
    assert status_change.to_value.string_value == "in_progress"
    assert status_change.user_id == alice.id and status_change.HasField("timestamp")
    assert full.progress == 100 and full.actual_hours == 6.5 and full.version == 4

    deleted = await alice.call("DeleteTask", pb.DeleteTaskRequest(id=task.id))
    assert (deleted.success, deleted.id) == (True, task.id)
    await expect(grpc.StatusCode.NOT_FOUND, alice.call("GetTask", pb.GetTaskRequest(id=task.id)))
    # Every change wrote its event in the same transaction.
    types = [e.type for e in await outbox(db, task.id)]
    assert types == [
        "task.created",
        "task.updated",
        "task.updated",
        "task.completed",
        "task.deleted",
    ]


async def test_update_is_partial_and_records_every_field(caller: MakeCaller, db: asyncpg.Pool) -> None:
    alice, bob = await caller(), await caller()
    task = await alice.create(
        title="Old", tags=["a"], category="x", due_date=ts(datetime(2030, 1, 1, tzinfo=UTC))
    )
    updated = await alice.call(
        "UpdateTask",
        pb.UpdateTaskRequest(
            id=task.id, title="New", priority="urgent", clear_due_date=True, assignee=bob.id
        ),
    )
    assert (updated.title, updated.priority, updated.assignee) == ("New", "urgent", bob.id)
    assert not updated.HasField("due_date") and list(updated.tags) == ["a"] and updated.category == "x"
    cleared = await alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, clear_tags=True))
    assert list(cleared.tags) == []
    same = await alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="New"))
    assert same.version == cleared.version  # nothing changed, nothing recorded
    full = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    changes = {h.field: h for h in full.history if h.action == "updated"}
    assert set(changes) == {"title", "priority", "dueDate", "assignee", "tags"}
    assert changes["dueDate"].from_value.string_value == "2030-01-01T00:00:00Z"
    assert changes["dueDate"].to_value.WhichOneof("kind") == "null_value"
    assert [v.string_value for v in changes["tags"].from_value.list_value.values] == ["a"]
    updated_event = (await outbox(db, task.id))[1]
    payload = events_pb2.TaskUpdated()
    updated_event.payload.Unpack(payload)
    assert {c.field for c in payload.changes} == {"title", "priority", "dueDate", "assignee"}


async def test_stale_expected_version_is_aborted_and_changes_nothing(caller: MakeCaller) -> None:
    alice = await caller()
    task = await alice.create(title="Versioned")
    await alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="v2", expected_version=1))
    error = await expect(
        grpc.StatusCode.ABORTED,
        alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="stale", expected_version=1)),
    )
    assert error.reason == "CONFLICT"
    current = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert (current.title, current.version) == ("v2", 2)


async def test_racing_updates_never_lose_one_another(caller: MakeCaller) -> None:
    alice, zoe = await caller(), await caller()
    task = await alice.create(title="Race")
    # Different fields at once: the row lock serializes them, both survive.
    await asyncio.gather(
        *(
            alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, **field))
            for field in ({"priority": "urgent"}, {"category": "ops"}, {"progress": 30}, {"assignee": zoe.id})
        )
    )
    after = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert (after.priority, after.category, after.progress, after.assignee) == ("urgent", "ops", 30, zoe.id)
    assert after.version == 5 and len([h for h in after.history if h.action == "updated"]) == 4

    # Same version sent by ten racers: exactly one wins, the rest get ABORTED.
    results = await asyncio.gather(
        *(
            alice.call(
                "UpdateTask", pb.UpdateTaskRequest(id=task.id, title=f"t{i}", expected_version=after.version)
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and len(losers) == 9
    assert all(e.code() == grpc.StatusCode.ABORTED for e in losers)
    final = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert final.title == winners[0].title and final.version == after.version + 1


async def test_create_is_idempotent_per_caller(caller: MakeCaller, stub) -> None:
    alice, bob = await caller(), await caller()
    key = f"req-{uuid.uuid4()}"
    first, *retries = await asyncio.gather(*(alice.create(title="Once", request_id=key) for _ in range(5)))
    assert all(r.id == first.id for r in retries)
    by_header = await stub.CreateTask(
        pb.CreateTaskRequest(title="Once"), metadata=(*alice.md, ("idempotency-key", key))
    )
    assert by_header.id == first.id
    listed = await alice.call("ListTasks", pb.ListTasksRequest())
    assert listed.pagination.total == 1
    other = await bob.create(title="Once", request_id=key)  # keys are scoped per user
    assert other.id != first.id
    c1 = await alice.call("AddComment", pb.AddCommentRequest(task_id=first.id, text="hi", request_id=key))
    c2 = await alice.call("AddComment", pb.AddCommentRequest(task_id=first.id, text="hi", request_id=key))
    assert c1.id == c2.id
    assert len((await alice.call("GetTask", pb.GetTaskRequest(id=first.id))).comments) == 1


async def test_complete_twice_is_an_idempotent_success(caller: MakeCaller, db: asyncpg.Pool) -> None:
    alice = await caller()
    task = await alice.create(title="Finish me")
    first = await alice.call("CompleteTask", pb.CompleteTaskRequest(id=task.id))
    again = await alice.call("CompleteTask", pb.CompleteTaskRequest(id=task.id, actual_hours=99))
    assert again == first  # the existing completion, unchanged
    assert [e.type for e in await outbox(db, task.id)].count("task.completed") == 1
    reopened = await alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, status="pending"))
    assert not reopened.HasField("completed_at") and reopened.completed_by == ""


async def test_other_users_tasks_are_not_found_and_unchanged(caller: MakeCaller) -> None:
    alice, bob, admin = await caller(), await caller(), await caller(admin=True)
    task = await alice.create(title="Alice only", priority="low")
    nf = grpc.StatusCode.NOT_FOUND
    await expect(nf, bob.call("GetTask", pb.GetTaskRequest(id=task.id)))
    await expect(nf, bob.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="pwned")))
    await expect(nf, bob.call("CompleteTask", pb.CompleteTaskRequest(id=task.id)))
    await expect(nf, bob.call("AddComment", pb.AddCommentRequest(task_id=task.id, text="x")))
    await expect(nf, bob.call("DeleteTask", pb.DeleteTaskRequest(id=task.id)))
    # Guessing ids: random UUIDs and non-UUIDs look the same as someone else's task.
    for guess in (str(uuid.uuid4()), "1", "stats", "' OR 1=1 --"):
        await expect(nf, bob.call("GetTask", pb.GetTaskRequest(id=guess)))
    assert (await bob.call("ListTasks", pb.ListTasksRequest())).pagination.total == 0
    assert (await bob.call("GetTaskStats", pb.GetTaskStatsRequest())).total == 0
    await expect(
        grpc.StatusCode.PERMISSION_DENIED, bob.call("GetTaskStats", pb.GetTaskStatsRequest(user_id=alice.id))
    )
    unchanged = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert (unchanged.title, unchanged.status, unchanged.version, list(unchanged.comments)) == (
        "Alice only",
        "pending",
        1,
        [],
    )

    # An admin sees and changes everything.
    assert (await admin.call("GetTask", pb.GetTaskRequest(id=task.id))).title == "Alice only"
    stats = await admin.call("GetTaskStats", pb.GetTaskStatsRequest(user_id=alice.id))
    assert stats.total == 1 and stats.by_priority["low"] == 1
    listed = await admin.call("ListTasks", pb.ListTasksRequest(limit=100))
    assert task.id in {t.id for t in listed.tasks} or listed.pagination.total > 100
    await admin.call("AddComment", pb.AddCommentRequest(task_id=task.id, text="admin note"))
    await admin.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, priority="urgent"))
    await admin.call("CompleteTask", pb.CompleteTaskRequest(id=task.id))
    await admin.call("DeleteTask", pb.DeleteTaskRequest(id=task.id))
    await expect(nf, alice.call("GetTask", pb.GetTaskRequest(id=task.id)))


async def test_assignee_sees_and_works_on_it_but_cannot_redefine_hand_off_or_delete(
    caller: MakeCaller,
) -> None:
    alice, bob, mallory = await caller(), await caller(), await caller()
    task = await alice.create(title="For Bob", assignee=bob.id)
    assert [t.id for t in (await bob.call("ListTasks", pb.ListTasksRequest())).tasks] == [task.id]
    await bob.call(
        "UpdateTask", pb.UpdateTaskRequest(id=task.id, status="in_progress", progress=40, actual_hours=2)
    )
    await bob.call("AddComment", pb.AddCommentRequest(task_id=task.id, text="on it"))
    for patch in (
        {"title": "Mine now"},
        {"assignee": mallory.id},
        {"priority": "low"},
        {"clear_due_date": True},
    ):
        denied = await expect(
            grpc.StatusCode.PERMISSION_DENIED,
            bob.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, **patch)),
        )
        assert "only status, progress and actualHours" in denied.message
    await expect(grpc.StatusCode.NOT_FOUND, mallory.call("GetTask", pb.GetTaskRequest(id=task.id)))
    error = await expect(
        grpc.StatusCode.PERMISSION_DENIED, bob.call("DeleteTask", pb.DeleteTaskRequest(id=task.id))
    )
    assert "creator" in error.message
    final = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert (final.status, final.progress, final.title, final.assignee) == (
        "in_progress",
        40,
        "For Bob",
        bob.id,
    )
    await bob.call("CompleteTask", pb.CompleteTaskRequest(id=task.id))  # finishing the work is the assignee's


async def test_assignees_must_be_existing_active_users(caller: MakeCaller) -> None:
    alice, bob = await caller(), await caller()
    for nobody in ("bob", str(uuid.uuid4()), "' OR 1=1 --"):
        error = await expect(grpc.StatusCode.INVALID_ARGUMENT, alice.create(title="x", assignee=nobody))
        assert "assignee" in error.field_violations
    task = await alice.create(title="x")
    error = await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, assignee=str(uuid.uuid4()))),
    )
    assert "assignee" in error.field_violations
    assert (await alice.create(title="y", assignee=bob.id)).assignee == bob.id
    unassigned = await alice.call(
        "UpdateTask", pb.UpdateTaskRequest(id=task.id, assignee="")
    )  # clearing is fine
    assert unassigned.assignee == ""


async def test_permissions_from_the_token_decide(caller: MakeCaller) -> None:
    owner = await caller()
    reader = await caller(role="guest")  # tasks:read only
    await expect(grpc.StatusCode.PERMISSION_DENIED, reader.create(title="nope"))
    task = await owner.create(title="x", assignee=reader.id)
    await reader.call("GetTask", pb.GetTaskRequest(id=task.id))
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        reader.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="y")),
    )
    nobody = await caller(permissions=("rag:read",))
    await expect(grpc.StatusCode.PERMISSION_DENIED, nobody.call("ListTasks", pb.ListTasksRequest()))


async def test_list_filters_sorting_and_pagination(caller: MakeCaller) -> None:
    alice, carol = await caller(), await caller()
    base = datetime(2032, 6, 1, tzinfo=UTC)
    specs = [
        ("a", "low", "pending", ["bug"], "be", 1),
        ("b", "urgent", "pending", ["ui"], "fe", 2),
        ("c", "high", "blocked", ["bug", "ui"], "fe", 3),
        ("d", "medium", "pending", [], "be", None),
        ("e", "high", "pending", ["docs"], "fe", 5),
    ]
    ids = {}
    for title, priority, status, tags, category, due_days in specs:
        task = await alice.create(
            title=title,
            priority=priority,
            tags=tags,
            category=category,
            assignee=carol.id if title in "ab" else "",
            **({"due_date": ts(base + timedelta(days=due_days))} if due_days else {}),
        )
        if status != "pending":
            await alice.call("UpdateTask", pb.UpdateTaskRequest(id=task.id, status=status))
        ids[title] = task.id

    async def titles(**query: object) -> list[str]:
        reply = await alice.call("ListTasks", pb.ListTasksRequest(**query))
        return [t.title for t in reply.tasks]

    assert await titles() == ["e", "d", "c", "b", "a"]  # createdAt desc by default
    assert await titles(order="asc") == ["a", "b", "c", "d", "e"]
    assert await titles(status="pending", sort="title", order="asc") == ["a", "b", "d", "e"]
    assert await titles(priority="high", sort="title", order="asc") == ["c", "e"]
    assert await titles(category="be", order="asc") == ["a", "d"]
    assert await titles(assignee=carol.id, order="asc") == ["a", "b"]
    assert await titles(tags="ui,docs", order="asc") == ["b", "c", "e"]  # any of
    assert await titles(due_before=ts(base + timedelta(days=3)), order="asc") == ["a", "b"]
    by_urgency = await titles(sort="priority")  # by urgency, not alphabetically; ties by id
    assert by_urgency[0] == "b" and set(by_urgency[1:3]) == {"c", "e"} and by_urgency[3:] == ["d", "a"]
    assert await titles(sort="dueDate", order="asc") == ["a", "b", "c", "e", "d"]  # no due date last
    assert await titles(sort="due_date", order="desc") == ["e", "c", "b", "a", "d"]

    page2 = await alice.call("ListTasks", pb.ListTasksRequest(page=2, limit=2, order="asc"))
    assert [t.title for t in page2.tasks] == ["c", "d"]
    p = page2.pagination
    assert (p.total, p.page, p.limit, p.total_pages, p.has_next, p.has_prev) == (5, 2, 2, 3, True, True)
    past = await alice.call("ListTasks", pb.ListTasksRequest(page=9, limit=2))
    assert not past.tasks and past.pagination.total == 5 and not past.pagination.has_next


async def test_stats_are_computed_per_user(caller: MakeCaller) -> None:
    alice = await caller()
    past = ts(datetime(2020, 1, 1, tzinfo=UTC))
    a = await alice.create(title="1", priority="high")
    await alice.create(title="2", priority="high", due_date=past)  # overdue
    await alice.create(title="3", priority="low")
    c = await alice.create(title="4", priority="urgent")
    await alice.call("CompleteTask", pb.CompleteTaskRequest(id=a.id))
    await alice.call("UpdateTask", pb.UpdateTaskRequest(id=c.id, status="blocked"))
    stats = await alice.call("GetTaskStats", pb.GetTaskStatsRequest())
    assert stats.total == 4 and stats.overdue == 1 and stats.completion_rate == 25.0
    assert dict(stats.by_status) == {"pending": 2, "in_progress": 0, "completed": 1, "blocked": 1}
    assert dict(stats.by_priority) == {"low": 1, "medium": 0, "high": 2, "urgent": 1}
    assert 0 <= stats.average_completion_time_hours < 0.1
    future = ts(datetime.now(UTC) + timedelta(days=1))
    empty = await alice.call("GetTaskStats", pb.GetTaskStatsRequest(start_date=future))
    assert empty.total == 0 and empty.completion_rate == 0
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        alice.call("GetTaskStats", pb.GetTaskStatsRequest(start_date=future, end_date=past)),
    )


@pytest.mark.parametrize(
    ("method", "request_factory", "field"),
    [
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title=""), "title"),
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title="   "), "title"),
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title="x" * 201), "title"),
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title="x", priority="critical"), "priority"),
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title="x", tags=["a", "a"]), "tags"),
        ("CreateTask", lambda tid: pb.CreateTaskRequest(title="x", estimated_hours=-1), "estimatedHours"),
        ("ListTasks", lambda tid: pb.ListTasksRequest(status="done"), "status"),
        ("ListTasks", lambda tid: pb.ListTasksRequest(limit=101), "limit"),
        ("ListTasks", lambda tid: pb.ListTasksRequest(sort="password"), "sort"),
        ("ListTasks", lambda tid: pb.ListTasksRequest(order="sideways"), "order"),
        ("UpdateTask", lambda tid: pb.UpdateTaskRequest(id=tid, status="done"), "status"),
        ("UpdateTask", lambda tid: pb.UpdateTaskRequest(id=tid, priority="p0"), "priority"),
        ("UpdateTask", lambda tid: pb.UpdateTaskRequest(id=tid, title=""), "title"),
        ("UpdateTask", lambda tid: pb.UpdateTaskRequest(id=tid, progress=101), "progress"),
        ("AddComment", lambda tid: pb.AddCommentRequest(task_id=tid, text=""), "text"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    caller: MakeCaller, method: str, request_factory, field: str
) -> None:
    alice = await caller()
    task = await alice.create(title="Untouched")
    error = await expect(grpc.StatusCode.INVALID_ARGUMENT, alice.call(method, request_factory(task.id)))
    assert error.reason == "VALIDATION_ERROR" and field in error.field_violations, error.field_violations
    after = await alice.call("GetTask", pb.GetTaskRequest(id=task.id))
    assert (after.title, after.version, list(after.comments)) == ("Untouched", 1, [])
    assert (await alice.call("ListTasks", pb.ListTasksRequest())).pagination.total == 1


async def test_deleted_task_cannot_be_updated(caller: MakeCaller) -> None:
    alice = await caller()
    task = await alice.create(title="Gone soon")
    await alice.call("DeleteTask", pb.DeleteTaskRequest(id=task.id))
    for method, request in (
        ("UpdateTask", pb.UpdateTaskRequest(id=task.id, title="zombie")),
        ("CompleteTask", pb.CompleteTaskRequest(id=task.id)),
        ("DeleteTask", pb.DeleteTaskRequest(id=task.id)),
        ("AddComment", pb.AddCommentRequest(task_id=task.id, text="boo")),
    ):
        await expect(grpc.StatusCode.NOT_FOUND, alice.call(method, request))


async def test_an_over_long_idempotency_key_header_is_rejected(caller: MakeCaller, stub) -> None:
    alice = await caller()
    error = await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.CreateTask(
            pb.CreateTaskRequest(title="x"), metadata=(*alice.md, ("idempotency-key", "k" * 129))
        ),
    )
    assert "requestId" in error.field_violations
    assert (await alice.call("ListTasks", pb.ListTasksRequest())).pagination.total == 0
