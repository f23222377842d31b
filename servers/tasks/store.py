"""PostgreSQL persistence of the Task Manager (schema `tasks`). Every query that
reads or changes a task is scoped by owner: created by or assigned to the
viewer, unless the viewer is an admin."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from servers.tasks.domain import (
    COMPLETED,
    PRIORITIES,
    STATUSES,
    Change,
    Comment,
    ListQuery,
    NewTask,
    Stats,
    Task,
    Viewer,
)

COLUMNS = """id, title, description, status, priority, category, due_date, tags, assignee,
    estimated_hours, actual_hours, progress, created_at, created_by, updated_at,
    completed_at, completed_by, version"""


def parse_id(task_id: str) -> uuid.UUID | None:
    """A task id as a UUID; None for anything else (which then is simply not found)."""
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return None


def _task(row: asyncpg.Record, comments: tuple[Comment, ...] = (), history: tuple[Change, ...] = ()) -> Task:
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


def _comment(row: asyncpg.Record) -> Comment:
    return Comment(str(row["id"]), str(row["task_id"]), row["user_id"], row["text"], row["created_at"])


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _scope(viewer: Viewer, param: int, alias: str = "") -> tuple[str, list[Any]]:
    """The owner-scope predicate. Admin and user queries are distinct SQL texts,
    so each gets its own (index-friendly) prepared plan."""
    if viewer.is_admin:
        return "TRUE", []
    return f"({alias}created_by = ${param} OR {alias}assignee = ${param})", [viewer.user_id]


@dataclass
class TaskTx:
    """One transaction over the tasks schema (a unit of work for the use cases)."""

    conn: asyncpg.Connection

    async def lock(self, task_id: str, viewer: Viewer) -> Task | None:
        """The visible task, row-locked until the transaction ends (FOR UPDATE)."""
        tid = parse_id(task_id)
        if tid is None:
            return None
        scope, args = _scope(viewer, 2)
        row = await self.conn.fetchrow(
            f"SELECT {COLUMNS} FROM tasks.tasks WHERE id = $1 AND {scope} FOR UPDATE",  # noqa: S608
            tid,
            *args,
        )
        return _task(row) if row else None

    async def insert(self, task_id: uuid.UUID, new: NewTask, actor: str, request_id: str) -> Task | None:
        """Insert a task; None if `request_id` was already used by this actor."""
        row = await self.conn.fetchrow(
            f"""INSERT INTO tasks.tasks (id, title, description, priority, category, due_date, tags,
                    assignee, estimated_hours, created_by, request_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''))
                ON CONFLICT (created_by, request_id) WHERE request_id IS NOT NULL DO NOTHING
                RETURNING {COLUMNS}""",  # noqa: S608
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
        return _task(row) if row else None

    async def by_request_id(self, actor: str, request_id: str) -> Task | None:
        row = await self.conn.fetchrow(
            f"SELECT {COLUMNS} FROM tasks.tasks WHERE created_by = $1 AND request_id = $2",  # noqa: S608
            actor,
            request_id,
        )
        return _task(row) if row else None

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
        await self.conn.executemany(
            """INSERT INTO tasks.history (task_id, action, field, from_value, to_value, user_id, created_at)
               VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, COALESCE($7, now()))""",
            [
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
            ],
        )

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
        return _comment(row) if row else None

    async def comment_by_request_id(self, user_id: str, request_id: str) -> Comment | None:
        row = await self.conn.fetchrow(
            """SELECT id, task_id, user_id, text, created_at FROM tasks.comments
               WHERE user_id = $1 AND request_id = $2""",
            user_id,
            request_id,
        )
        return _comment(row) if row else None

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
        return [_task(r) for r in rows]

    async def mark_notified(self, kind: str, task_ids: list[str], now: datetime) -> None:
        column = "due_soon_notified_at" if kind == "due_soon" else "overdue_notified_at"
        await self.conn.execute(
            f"UPDATE tasks.tasks SET {column} = $2 WHERE id = ANY($1::uuid[])",  # noqa: S608
            [uuid.UUID(t) for t in task_ids],
            now,
        )

    async def delete(self, task_id: str) -> None:
        await self.conn.execute("DELETE FROM tasks.tasks WHERE id = $1", uuid.UUID(task_id))


class TaskStore:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[TaskTx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield TaskTx(conn)

    async def get(self, task_id: str, viewer: Viewer) -> Task | None:
        """The visible task with its comments and history (oldest first)."""
        tid = parse_id(task_id)
        if tid is None:
            return None
        scope, args = _scope(viewer, 2)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM tasks.tasks WHERE id = $1 AND {scope}",  # noqa: S608
                tid,
                *args,
            )
            if row is None:
                return None
            comments = await conn.fetch(
                """SELECT id, task_id, user_id, text, created_at FROM tasks.comments
                   WHERE task_id = $1 ORDER BY created_at, id""",
                tid,
            )
            history = await conn.fetch(
                """SELECT action, field, from_value::text, to_value::text, user_id, created_at
                   FROM tasks.history WHERE task_id = $1 ORDER BY id""",
                tid,
            )
        return _task(
            row,
            tuple(_comment(c) for c in comments),
            tuple(
                Change(
                    h["action"],
                    h["field"],
                    _loads(h["from_value"]),
                    _loads(h["to_value"]),
                    h["user_id"],
                    h["created_at"],
                )
                for h in history
            ),
        )

    async def list(self, query: ListQuery, viewer: Viewer) -> tuple[list[Task], int]:
        """One page of visible tasks matching the query, and the total count.
        The page's ids and the count come from the covering owner indexes
        (index-only); only the page's rows are read from the table."""
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        filters: list[str] = []
        if query.status:
            filters.append(f"status = {arg(query.status)}")
        if query.priority:
            filters.append(f"priority = {arg(query.priority)}")
        if query.category:
            filters.append(f"category = {arg(query.category)}")
        if query.assignee:
            filters.append(f"assignee = {arg(query.assignee)}")
        if query.tags:
            filters.append(f"tags && {arg(list(query.tags))}::text[]")
        if query.due_before is not None:
            filters.append(f"due_date < {arg(query.due_before)}")
        # query.sort is a column name from domain.SORT_COLUMNS, never client text.
        source = _visible(viewer, f"id, {query.sort} AS k", filters, arg)
        count_args = list(args)
        direction = "DESC" if query.descending else "ASC"
        order = f"k {direction} NULLS LAST, id {direction}"
        limit, offset = arg(query.limit), arg(query.offset)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""WITH page AS (
                        SELECT id, k, count(*) OVER () AS total FROM ({source}) AS visible
                        ORDER BY {order} LIMIT {limit} OFFSET {offset})
                    SELECT {_T_COLUMNS}, page.total FROM page JOIN tasks.tasks t ON t.id = page.id
                    ORDER BY page.{order.replace(", id", ", page.id")}""",  # noqa: S608
                *args,
            )
            if rows:
                total = rows[0]["total"]
            else:  # past the last page: the window count has no row to ride on
                total = await conn.fetchval(
                    f"SELECT count(*) FROM ({source}) AS visible",  # noqa: S608
                    *count_args,
                )
        return [_task(r) for r in rows], int(total)

    async def stats(self, user_id: str | None, start: datetime | None, end: datetime, now: datetime) -> Stats:
        """Aggregates over the tasks created in [start, end), all in SQL (index-only
        for one user); `user_id` None means every user's tasks."""
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        now_param = arg(now)
        filters = [f"created_at < {arg(end)}"]
        if start is not None:
            filters.append(f"created_at >= {arg(start)}")
        viewer = Viewer(user_id) if user_id is not None else Viewer("", is_admin=True)
        source = _visible(viewer, "status, priority, due_date, created_at, completed_at", filters, arg)
        per_status = ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS s_{s}" for s in STATUSES)
        per_priority = ", ".join(f"count(*) FILTER (WHERE priority = '{p}') AS p_{p}" for p in PRIORITIES)
        row = await self.pool.fetchrow(
            f"""SELECT count(*) AS total, {per_status}, {per_priority},
                    coalesce(avg(extract(epoch FROM completed_at - created_at) / 3600.0)
                             FILTER (WHERE status = '{COMPLETED}'), 0)::float8 AS avg_hours,
                    count(*) FILTER (WHERE due_date < {now_param} AND status <> '{COMPLETED}') AS overdue
                FROM ({source}) AS visible""",  # noqa: S608
            *args,
        )
        assert row is not None
        return Stats(
            total=row["total"],
            by_status={s: row[f"s_{s}"] for s in STATUSES},
            by_priority={p: row[f"p_{p}"] for p in PRIORITIES},
            completed=row[f"s_{COMPLETED}"],
            average_completion_time_hours=round(row["avg_hours"], 2),
            overdue=row["overdue"],
        )


_T_COLUMNS = ", ".join(f"t.{c.strip()}" for c in COLUMNS.split(","))


def _visible(viewer: Viewer, columns: str, filters: list[str], arg: Callable[[Any], str]) -> str:
    """SQL selecting `columns` of the tasks the viewer may see that pass `filters`.
    For a user: created by them UNION ALL assigned to them (and created by someone
    else), so each branch is a scan of one covering index instead of a BitmapOr
    over scattered heap pages. Every fragment is built here from constants;
    values are bind parameters made by `arg`."""
    extra = "".join(f" AND {f}" for f in filters)
    if viewer.is_admin:
        return f"SELECT {columns} FROM tasks.tasks WHERE TRUE{extra}"  # noqa: S608
    me = arg(viewer.user_id)
    return (
        f"SELECT {columns} FROM tasks.tasks WHERE created_by = {me}{extra} "  # noqa: S608
        f"UNION ALL SELECT {columns} FROM tasks.tasks "
        f"WHERE assignee = {me} AND assignee <> '' AND created_by <> {me}{extra}"
    )
