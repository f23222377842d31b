"""Task Manager use cases: create, list, get, update, delete, complete, comment,
stats. Owner scoping comes from the caller (context.current_principal()); each
state change, its history and its outbox event commit in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from servers.platform import events
from servers.platform.context import current_principal
from servers.platform.errors import Conflict, NotFound, PermissionDenied
from servers.tasks import mapping
from servers.tasks.domain import (
    COMPLETED,
    Change,
    Comment,
    ListQuery,
    NewTask,
    Page,
    Stats,
    Task,
    TaskPatch,
    Viewer,
    apply_patch,
    clean_title,
    due_date_changed,
)
from servers.tasks.store import TaskTx

SOURCE = "tasks"


class TaskRepository(Protocol):
    """What the use cases need from storage (servers.tasks.store.TaskStore)."""

    def transaction(self) -> AbstractAsyncContextManager[TaskTx]: ...
    async def get(self, task_id: str, viewer: Viewer) -> Task | None: ...
    async def list(self, query: ListQuery, viewer: Viewer) -> tuple[list[Task], int]: ...
    async def stats(
        self, user_id: str | None, start: datetime | None, end: datetime, now: datetime
    ) -> Stats: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _viewer() -> Viewer:
    principal = current_principal()
    return Viewer(principal.user_id, principal.is_admin)


def _not_found(task_id: str) -> NotFound:
    # The same answer whether the task does not exist or belongs to someone else.
    return NotFound(f"task {task_id!r} not found")


class TaskUseCases:
    def __init__(self, store: TaskRepository, clock: Callable[[], datetime] = _utcnow):
        self._store = store
        self._clock = clock

    async def create(self, new: NewTask, request_id: str) -> Task:
        """Create a task owned by the caller; a repeated request_id returns the
        task the first call created."""
        actor = _viewer().user_id
        new = replace(new, title=clean_title(new.title))
        async with self._store.transaction() as tx:
            task = await tx.insert(uuid.uuid4(), new, actor, request_id)
            if task is None:  # the key was used before (maybe by a racing retry, now committed)
                existing = await tx.by_request_id(actor, request_id)
                if existing is None:
                    raise Conflict("a create with this request id is still in progress; retry")
                return existing
            await tx.record(task.id, [Change("created", "", None, None, actor, task.created_at)])
            await events.publish(
                tx.conn,
                event_type="task.created",
                source=SOURCE,
                subject=task.id,
                payload=mapping.task_created(task),
            )
        return task

    async def get(self, task_id: str) -> Task:
        task = await self._store.get(task_id, _viewer())
        if task is None:
            raise _not_found(task_id)
        return task

    async def list_page(self, query: ListQuery) -> Page:
        tasks, total = await self._store.list(query, _viewer())
        return Page(tasks, total, query.page, query.limit)

    async def update(self, task_id: str, patch: TaskPatch) -> Task:
        """Apply a partial update under a row lock; optimistic check on expected_version."""
        viewer = _viewer()
        async with self._store.transaction() as tx:
            task = await tx.lock(task_id, viewer)
            if task is None:
                raise _not_found(task_id)
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
        viewer = _viewer()
        async with self._store.transaction() as tx:
            task = await tx.lock(task_id, viewer)
            if task is None:
                raise _not_found(task_id)
            if task.status == COMPLETED:
                return task
            patch = TaskPatch(status=COMPLETED, actual_hours=actual_hours)
            updated, changes = apply_patch(task, patch, viewer.user_id, self._clock())
            await self._save(tx, task, updated, changes, updated_event=False)
        return updated

    async def _save(
        self, tx: TaskTx, before: Task, after: Task, changes: list[Change], updated_event: bool = True
    ) -> None:
        await tx.save(after, rearm_schedule=due_date_changed(changes))
        await tx.record(after.id, changes)
        if updated_event:
            await events.publish(
                tx.conn,
                event_type="task.updated",
                source=SOURCE,
                subject=after.id,
                payload=mapping.task_updated(after, changes),
            )
        if after.status == COMPLETED and before.status != COMPLETED:
            await events.publish(
                tx.conn,
                event_type="task.completed",
                source=SOURCE,
                subject=after.id,
                payload=mapping.task_completed(after),
            )

    async def delete(self, task_id: str) -> Task:
        """Delete (creator or admin only); an assignee gets PERMISSION_DENIED."""
        viewer = _viewer()
        async with self._store.transaction() as tx:
            task = await tx.lock(task_id, viewer)
            if task is None:
                raise _not_found(task_id)
            if not viewer.is_admin and task.created_by != viewer.user_id:
                raise PermissionDenied("only the task's creator or an admin can delete it")
            await tx.delete(task.id)
            await events.publish(
                tx.conn,
                event_type="task.deleted",
                source=SOURCE,
                subject=task.id,
                payload=mapping.task_deleted(task, viewer.user_id),
            )
        return task

    async def comment(self, task_id: str, text: str, request_id: str) -> Comment:
        viewer = _viewer()
        async with self._store.transaction() as tx:
            task = await tx.lock(task_id, viewer)
            if task is None:
                raise _not_found(task_id)
            comment = await tx.insert_comment(task.id, viewer.user_id, text, request_id)
            if comment is None:
                existing = await tx.comment_by_request_id(viewer.user_id, request_id)
                if existing is None:
                    raise Conflict("a comment with this request id is still in progress; retry")
                return existing
            now = self._clock()
            after = replace(task, updated_at=now, version=task.version + 1)
            changes = [Change("commented", "", None, text, viewer.user_id, comment.created_at)]
            await self._save(tx, task, after, changes)
        return comment

    async def stats(self, user_id: str, start: datetime | None, end: datetime | None) -> Stats:
        viewer = _viewer()
        if user_id and user_id != viewer.user_id and not viewer.is_admin:
            raise PermissionDenied("only admins can read another user's task stats")
        target = user_id or (None if viewer.is_admin else viewer.user_id)
        now = self._clock()
        return await self._store.stats(target, start, end or now, now)
