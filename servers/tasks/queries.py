"""Reads of the Task Manager outside a transaction: a task with its comments and
history, list pages, stats. Owner-scoped like every query (servers.tasks.store)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from servers.platform.paging import Page
from servers.platform.scoping import Viewer
from servers.tasks.domain import COMPLETED, PRIORITIES, STATUSES, Change, Comment, ListQuery, Stats, Task
from servers.tasks.store import COLUMNS, owner_scope, parse_id, task_from_row


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class TaskQueries:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def get(self, task_id: str, viewer: Viewer) -> Task | None:
        """The visible task with its comments and history (oldest first), in one
        round trip: the comments and history ride along as arrays of records."""
        tid = parse_id(task_id)
        if tid is None:
            return None
        scope, args = owner_scope(viewer, 2)
        row = await self.pool.fetchrow(
            f"""SELECT {COLUMNS},
                    ARRAY(SELECT (c.id, c.task_id, c.user_id, c.text, c.created_at) FROM tasks.comments c
                          WHERE c.task_id = tasks.id ORDER BY c.created_at, c.id) AS comment_rows,
                    ARRAY(SELECT (h.action, h.field, h.from_value::text, h.to_value::text, h.user_id,
                                  h.created_at) FROM tasks.history h
                          WHERE h.task_id = tasks.id ORDER BY h.id) AS history_rows
                FROM tasks.tasks WHERE id = $1 AND {scope}""",  # noqa: S608
            tid,
            *args,
        )
        if row is None:
            return None
        return task_from_row(
            row,
            tuple(Comment(str(c[0]), str(c[1]), c[2], c[3], c[4]) for c in row["comment_rows"]),
            tuple(Change(h[0], h[1], loads(h[2]), loads(h[3]), h[4], h[5]) for h in row["history_rows"]),
        )

    async def list(self, query: ListQuery, viewer: Viewer) -> Page[Task]:
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
        limit, offset = arg(query.page.limit), arg(query.page.offset)
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
        return Page([task_from_row(r) for r in rows], int(total), query.page)

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
