"""The Task Manager's repository inside a unit of work (schema `tasks`): row
locks, writes, history, comments, the scheduler's claims. Every query that
reads or changes a task is scoped by owner: created by or assigned to the
viewer, unless the viewer is an admin. Reads outside a transaction live in
servers.tasks.queries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from servers.platform.scoping import Viewer
from servers.tasks.domain import (
    Change,
    Comment,
    NewTask,
    Task,
)

COLUMNS = """id, title, description, status, priority, category, due_date, tags, assignee,
    estimated_hours, actual_hours, progress, created_at, created_by, updated_at,
    completed_at, completed_by, version"""


_RECORD = """INSERT INTO tasks.history (task_id, action, field, from_value, to_value, user_id, created_at)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, COALESCE($7, now()))"""


def parse_id(task_id: str) -> uuid.UUID | None:
    """A task id as a UUID; None for anything else (which then is simply not found)."""
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return None


def task_from_row(
    row: asyncpg.Record, comments: tuple[Comment, ...] = (), history: tuple[Change, ...] = ()
) -> Task:
    return Task(
        id=str(row["id"]),
        title=row["title"],
        description=row["description"],
        status=row["status"],
        priority=row["priority"],
        category=row["category"],
        due_date=row["due_date"],
        tags=tuple(row["tags"]),
        assignee=row["assignee"],
        estimated_hours=row["estimated_hours"],
        actual_hours=row["actual_hours"],
        progress=row["progress"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        completed_by=row["completed_by"],
        version=row["version"],
        comments=comments,
        history=history,
    )


def comment_from_row(row: asyncpg.Record) -> Comment:
    return Comment(str(row["id"]), str(row["task_id"]), row["user_id"], row["text"], row["created_at"])


def owner_scope(viewer: Viewer, param: int, alias: str = "") -> tuple[str, list[Any]]:
    """The owner-scope predicate. Admin and user queries are distinct SQL texts,
    so each gets its own (index-friendly) prepared plan."""
    if viewer.is_admin:
        return "TRUE", []
    return f"({alias}created_by = ${param} OR {alias}assignee = ${param})", [viewer.user_id]


@dataclass
class TaskRepository:
    """The tasks schema on the connection of one unit of work."""

    conn: asyncpg.Connection

    async def lock(self, task_id: str, viewer: Viewer) -> Task | None:
        """The visible task, row-locked until the transaction ends (FOR UPDATE)."""
        tid = parse_id(task_id)
        if tid is None:
            return None
        scope, args = owner_scope(viewer, 2)
        row = await self.conn.fetchrow(
            f"SELECT {COLUMNS} FROM tasks.tasks WHERE id = $1 AND {scope} FOR UPDATE",  # noqa: S608
            tid,
            *args,
        )
        return task_from_row(row) if row else None

    async def insert(self, task_id: uuid.UUID, new: NewTask, actor: str, request_id: str) -> Task | None:
        """Insert a task and its "created" history entry; None if `request_id` was already used by
        this actor. One statement (the entry from the insert's RETURNING): a round trip fewer."""
        row = await self.conn.fetchrow(
            f"""WITH task AS (
                  INSERT INTO tasks.tasks (id, title, description, priority, category, due_date, tags,
                      assignee, estimated_hours, created_by, request_id)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''))
                  ON CONFLICT (created_by, request_id) WHERE request_id IS NOT NULL DO NOTHING
                  RETURNING {COLUMNS}),
                created AS (
                  INSERT INTO tasks.history (task_id, action, user_id, created_at)
                  SELECT id, 'created', created_by, created_at FROM task)
                SELECT {COLUMNS} FROM task""",  # noqa: S608
            task_id,
            new.title,
            new.description,
            new.priority,
            new.category,
            new.due_date,
            list(new.tags),
            new.assignee,
            new.estimated_hours,
            actor,
            request_id,
        )
        return task_from_row(row) if row else None

    async def by_request_id(self, actor: str, request_id: str) -> Task | None:
        row = await self.conn.fetchrow(
            f"SELECT {COLUMNS} FROM tasks.tasks WHERE created_by = $1 AND request_id = $2",  # noqa: S608
            actor,
            request_id,
        )
        return task_from_row(row) if row else None

    async def save(self, task: Task, rearm_schedule: bool) -> None:
        """Write every mutable column of `task` (already locked by this transaction)."""
        await self.conn.execute(
            """UPDATE tasks.tasks SET title = $2, description = $3, status = $4, priority = $5,
                   category = $6, due_date = $7, tags = $8, assignee = $9, estimated_hours = $10,
                   actual_hours = $11, progress = $12, updated_at = $13, completed_at = $14,
                   completed_by = $15, version = $16,
                   due_soon_notified_at = CASE WHEN $17 THEN NULL ELSE due_soon_notified_at END,
                   overdue_notified_at = CASE WHEN $17 THEN NULL ELSE overdue_notified_at END
               WHERE id = $1""",
            uuid.UUID(task.id),
            task.title,
            task.description,
            task.status,
            task.priority,
            task.category,
            task.due_date,
            list(task.tags),
            task.assignee,
            task.estimated_hours,
            task.actual_hours,
            task.progress,
            task.updated_at,
            task.completed_at,
            task.completed_by,
            task.version,
            rearm_schedule,
        )

    async def record(self, task_id: str, changes: list[Change]) -> None:
        """Append history entries."""
        rows = [
            (
                uuid.UUID(task_id),
                c.action,
                c.field,
                None if c.action in ("created", "commented") else json.dumps(c.from_value),
                None if c.action == "created" else json.dumps(c.to_value),
                c.user_id,
                c.timestamp,
            )
            for c in changes
        ]
        if len(rows) == 1:  # a comment, a one-field update: executemany's batch costs more than one row
            await self.conn.execute(_RECORD, *rows[0])
        else:
            await self.conn.executemany(_RECORD, rows)

    async def insert_comment(self, task_id: str, user_id: str, text: str, request_id: str) -> Comment | None:
        """None if `request_id` was already used by this user."""
        row = await self.conn.fetchrow(
            """INSERT INTO tasks.comments (id, task_id, user_id, text, request_id)
               VALUES ($1, $2, $3, $4, NULLIF($5, ''))
               ON CONFLICT (user_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
               RETURNING id, task_id, user_id, text, created_at""",
            uuid.uuid4(),
            uuid.UUID(task_id),
            user_id,
            text,
            request_id,
        )
        return comment_from_row(row) if row else None

    async def comment_by_request_id(self, user_id: str, request_id: str) -> Comment | None:
        row = await self.conn.fetchrow(
            """SELECT id, task_id, user_id, text, created_at FROM tasks.comments
               WHERE user_id = $1 AND request_id = $2""",
            user_id,
            request_id,
        )
        return comment_from_row(row) if row else None

    async def claim_due(self, kind: str, now: datetime, window_end: datetime, batch: int) -> list[Task]:
        """Lock up to `batch` uncompleted tasks whose due-soon (due date in
        (now, window_end]) or overdue (due date <= now) event is not sent yet.
        SKIP LOCKED: rows another scheduler holds are left to it, and a row it
        just marked fails the re-checked WHERE, so each event is claimed once."""
        if kind == "due_soon":
            condition = "due_soon_notified_at IS NULL AND due_date > $1 AND due_date <= $2"
        else:
            condition = "overdue_notified_at IS NULL AND due_date <= $1 AND $2::timestamptz IS NOT NULL"
        rows = await self.conn.fetch(
            f"""SELECT {COLUMNS} FROM tasks.tasks
                WHERE due_date IS NOT NULL AND status <> 'completed' AND {condition}
                ORDER BY due_date LIMIT $3 FOR UPDATE SKIP LOCKED""",  # noqa: S608
            now,
            window_end,
            batch,
        )
        return [task_from_row(r) for r in rows]

    async def mark_notified(self, kind: str, task_ids: list[str], now: datetime) -> None:
        column = "due_soon_notified_at" if kind == "due_soon" else "overdue_notified_at"
        await self.conn.execute(
            f"UPDATE tasks.tasks SET {column} = $2 WHERE id = ANY($1::uuid[])",  # noqa: S608
            [uuid.UUID(t) for t in task_ids],
            now,
        )

    async def delete(self, task_id: str) -> None:
        await self.conn.execute("DELETE FROM tasks.tasks WHERE id = $1", uuid.UUID(task_id))
