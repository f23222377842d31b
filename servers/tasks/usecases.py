"""Task Manager use cases: create, list, get, update, delete, complete, comment,
stats. Owner scoping comes from the caller (platform.scoping); each state
change, its history and its domain events commit in one unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from servers.platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from servers.platform.paging import Page
from servers.platform.scoping import Viewer, current_viewer
from servers.platform.uow import Transaction, UnitOfWork
from servers.platform.windows import TimeWindow
from servers.tasks.domain import (
    COMPLETED,
    Change,
    Comment,
    ListQuery,
    NewTask,
    Stats,
    Task,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskPatch,
    TaskUpdated,
    apply_patch,
    check_assignee_patch,
    clean_title,
    due_date_changed,
    is_user_id,
)


class TaskWrites(Protocol):
    """The repository inside a unit of work (servers.tasks.store.TaskRepository)."""

    async def lock(self, task_id: str, viewer: Viewer) -> Task | None: ...
    async def insert(self, task_id: uuid.UUID, new: NewTask, actor: str, request_id: str) -> Task | None:
        """The task and its "created" history entry; None if `request_id` was used by `actor`."""
        ...

    async def by_request_id(self, actor: str, request_id: str) -> Task | None: ...
    async def save(self, task: Task, rearm_schedule: bool) -> None: ...
    async def record(self, task_id: str, changes: list[Change]) -> None: ...
    async def insert_comment(
        self, task_id: str, user_id: str, text: str, request_id: str
    ) -> Comment | None: ...
    async def comment_by_request_id(self, user_id: str, request_id: str) -> Comment | None: ...
    async def delete(self, task_id: str) -> None: ...


class Users(Protocol):
    """Which accounts exist (servers.tasks.assignees.AuthUserDirectory)."""

    async def is_active(self, user_id: str) -> bool: ...


class TaskReads(Protocol):
    """Reads outside a transaction (servers.tasks.queries.TaskQueries)."""

    async def get(self, task_id: str, viewer: Viewer) -> Task | None: ...
    async def list(self, query: ListQuery, viewer: Viewer) -> Page[Task]: ...
    async def stats(
        self, user_id: str | None, start: datetime | None, end: datetime, now: datetime
    ) -> Stats: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _not_found(task_id: str) -> NotFound:
    # The same answer whether the task does not exist or belongs to someone else.
    return NotFound(f"task {task_id!r} not found")


class TaskUseCases:
    def __init__(
        self,
        uow: UnitOfWork[TaskWrites],
        reads: TaskReads,
        users: Users,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self._uow = uow
        self._reads = reads
        self._users = users
        self._clock = clock

    async def _check_assignee(self, assignee: str | None) -> None:
        """An assignee named in a request must be an active account (asked
        before any transaction opens, so no row lock waits on the call)."""
        if not assignee:
            return
        if not is_user_id(assignee) or not await self._users.is_active(assignee):
            raise InvalidArgument(
                "the assignee is not an existing user",
                [FieldViolation("assignee", "must be the id of an existing, active user")],
            )

    async def create(self, new: NewTask, request_id: str) -> Task:
        """Create a task owned by the caller; a repeated request_id returns the
        task the first call created."""
        actor = current_viewer().user_id
        new = replace(new, title=clean_title(new.title))
        await self._check_assignee(new.assignee)
        async with self._uow() as tx:
            task = await tx.repo.insert(uuid.uuid4(), new, actor, request_id)
            if task is None:  # the key was used before (maybe by a racing retry, now committed)
                existing = await tx.repo.by_request_id(actor, request_id)
                if existing is None:
                    raise Conflict("a create with this request id is still in progress; retry")
                return existing
            tx.record(TaskCreated(task))
        return task

    async def get(self, task_id: str) -> Task:
        task = await self._reads.get(task_id, current_viewer())
        if task is None:
            raise _not_found(task_id)
        return task

    async def list_page(self, query: ListQuery) -> Page[Task]:
        return await self._reads.list(query, current_viewer())

    async def update(self, task_id: str, patch: TaskPatch) -> Task:
        """Apply a partial update under a row lock; optimistic check on expected_version."""
        viewer = current_viewer()
        await self._check_assignee(patch.assignee)
        async with self._uow() as tx:
            task = await self._locked(tx, task_id, viewer)
            if not viewer.owns(task.created_by):  # the assignee: only the work's progress
                check_assignee_patch(patch)
            if patch.expected_version is not None and patch.expected_version != task.version:
                raise Conflict(
                    f"task {task_id} is at version {task.version}, not {patch.expected_version}; "
                    "reload it and retry"
                )
            updated, changes = apply_patch(task, patch, viewer.user_id, self._clock())
            if not changes:
                return task
            await self._save(tx, task, updated, changes)
        return updated

    async def complete(self, task_id: str, actual_hours: float | None) -> Task:
        """Mark completed by the caller; completing a completed task changes nothing."""
        viewer = current_viewer()
        async with self._uow() as tx:
            task = await self._locked(tx, task_id, viewer)
            if task.status == COMPLETED:
                return task
            patch = TaskPatch(status=COMPLETED, actual_hours=actual_hours)
            updated, changes = apply_patch(task, patch, viewer.user_id, self._clock())
            await self._save(tx, task, updated, changes, updated_event=False)
        return updated

    async def delete(self, task_id: str) -> Task:
        """Delete (creator or admin only); an assignee gets PERMISSION_DENIED."""
        viewer = current_viewer()
        async with self._uow() as tx:
            task = await self._locked(tx, task_id, viewer)
            if not viewer.owns(task.created_by):
                raise PermissionDenied("only the task's creator or an admin can delete it")
            await tx.repo.delete(task.id)
            tx.record(TaskDeleted(task, viewer.user_id))
        return task

    async def comment(self, task_id: str, text: str, request_id: str) -> Comment:
        viewer = current_viewer()
        async with self._uow() as tx:
            task = await self._locked(tx, task_id, viewer)
            comment = await tx.repo.insert_comment(task.id, viewer.user_id, text, request_id)
            if comment is None:
                existing = await tx.repo.comment_by_request_id(viewer.user_id, request_id)
                if existing is None:
                    raise Conflict("a comment with this request id is still in progress; retry")
                return existing
            after = replace(task, updated_at=self._clock(), version=task.version + 1)
            changes = [Change("commented", "", None, text, viewer.user_id, comment.created_at)]
            await self._save(tx, task, after, changes)
        return comment

    async def stats(self, user_id: str, start: datetime | None, end: datetime | None) -> Stats:
        """Stats of the caller's tasks, another user's (admins), or everyone's
        (admins, no user given); over all time unless a window is given."""
        target = current_viewer().target(user_id, what="task stats")
        now = self._clock()
        window = TimeWindow.of(start, end, now=now, default=None)
        return await self._reads.stats(target, window.start, window.end, now)

    @staticmethod
    async def _locked(tx: Transaction[TaskWrites], task_id: str, viewer: Viewer) -> Task:
        task = await tx.repo.lock(task_id, viewer)
        if task is None:
            raise _not_found(task_id)
        return task

    @staticmethod
    async def _save(
        tx: Transaction[TaskWrites],
        before: Task,
        after: Task,
        changes: list[Change],
        updated_event: bool = True,
    ) -> None:
        await tx.repo.save(after, rearm_schedule=due_date_changed(changes))
        await tx.repo.record(after.id, changes)
        if updated_event:
            tx.record(TaskUpdated(after, tuple(changes)))
        if after.status == COMPLETED and before.status != COMPLETED:
            tx.record(TaskCompleted(after))
