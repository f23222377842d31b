"""Reads of the analytics service outside a transaction: usage from the rollups
(servers.analytics.store maintains them), totals, top users, error groups."""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg

from servers.analytics.domain import (
    METRIC_EVENTS,
    ErrorGroup,
    ErrorReport,
    ErrorSummary,
    TopUser,
    UsageCounts,
)
from servers.platform.paging import Page, PageRequest

# The usage counters of a set of rollup rows, in METRIC_EVENTS order + active users.
_COUNTS = (
    ", ".join(
        f"coalesce(sum(count) FILTER (WHERE event_type = '{t}'), 0)::int" for t in METRIC_EVENTS.values()
    )
    + ", count(DISTINCT user_id) FILTER (WHERE user_id <> '')::int"
)


def _counts(row: asyncpg.Record, offset: int = 0) -> UsageCounts:
    values = [row[offset + i] for i in range(5)]
    return UsageCounts(*values)


def _group(row: asyncpg.Record) -> ErrorGroup:
    return ErrorGroup(
        row["service"],
        row["severity"],
        row["message"],
        row["error_type"],
        row["n"],
        row["first"],
        row["last"],
        row["last_request_id"],
    )


class AnalyticsQueries:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def usage(
        self, start: datetime, end: datetime, granularity: str, user_id: str | None
    ) -> dict[datetime, UsageCounts]:
        """Counts per bucket start (buckets without events are absent); None: every user."""
        table = "usage_hourly" if granularity == "hour" else "usage_daily"
        rows = await self.pool.fetch(
            f"SELECT date_trunc($1, bucket, 'UTC') AS b, {_COUNTS} FROM analytics.{table}"  # noqa: S608
            " WHERE bucket >= $2 AND bucket < $3 AND ($4::text IS NULL OR user_id = $4) GROUP BY 1",
            granularity,
            start,
            end,
            user_id,
        )
        return {r["b"]: _counts(r, 1) for r in rows}

    async def totals(self, start: datetime, end: datetime) -> UsageCounts:
        """System-wide counts in [start, end) from the hourly rollup."""
        row = await self.pool.fetchrow(
            f"SELECT {_COUNTS} FROM analytics.usage_hourly WHERE bucket >= $1 AND bucket < $2",  # noqa: S608
            start,
            end,
        )
        assert row is not None
        return _counts(row)

    async def top_users(self, start: datetime, end: datetime, limit: int) -> list[TopUser]:
        rows = await self.pool.fetch(
            "SELECT user_id, sum(count)::int AS events,"
            " coalesce(sum(count) FILTER (WHERE event_type = 'task.completed'), 0)::int AS completed,"
            " coalesce(sum(count) FILTER (WHERE event_type = 'ai.request.received'), 0)::int AS ai"
            " FROM analytics.usage_hourly WHERE bucket >= $1 AND bucket < $2 AND user_id <> ''"
            " GROUP BY user_id ORDER BY events DESC, user_id LIMIT $3",
            start,
            end,
            limit,
        )
        return [TopUser(r["user_id"], r["events"], r["completed"], r["ai"]) for r in rows]

    async def error_count(self, start: datetime, end: datetime) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM analytics.errors WHERE occurred_at >= $1 AND occurred_at < $2",
                start,
                end,
            )
        )

    async def errors(
        self, start: datetime, end: datetime, severity: str | None, service: str | None, page: PageRequest
    ) -> ErrorReport:
        """The summary of the selected errors and one page of their groups."""
        where = (
            "occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR severity = $3)"
            " AND ($4::text IS NULL OR service = $4)"
        )
        args = (start, end, severity, service)
        async with self.pool.acquire() as conn:
            by = await conn.fetch(
                f"SELECT severity, service, count(*)::int AS n FROM analytics.errors WHERE {where}"  # noqa: S608
                " GROUP BY GROUPING SETS ((severity), (service))",
                *args,
            )
            groups = await conn.fetch(
                "SELECT service, severity, message, error_type, count(*)::int AS n,"  # noqa: S608
                " min(occurred_at) AS first,"
                " max(occurred_at) AS last,"
                " (array_agg(request_id ORDER BY occurred_at DESC))[1] AS last_request_id,"
                " count(*) OVER ()::int AS total_groups"
                f" FROM analytics.errors WHERE {where}"
                " GROUP BY service, severity, message, error_type"
                " ORDER BY last DESC, service, message LIMIT $5 OFFSET $6",
                *args,
                page.limit,
                page.offset,
            )
            total_groups = groups[0]["total_groups"] if groups else 0
            if not groups and page.offset:
                total_groups = await conn.fetchval(
                    "SELECT count(*)::int FROM (SELECT 1 FROM analytics.errors"  # noqa: S608
                    f" WHERE {where} GROUP BY service, severity, message, error_type) g",
                    *args,
                )
        by_severity = {r["severity"]: r["n"] for r in by if r["severity"] is not None}
        by_service = {r["service"]: r["n"] for r in by if r["service"] is not None}
        summary = ErrorSummary(sum(by_severity.values()), by_severity, by_service)
        return ErrorReport(summary, Page([_group(r) for r in groups], total_groups, page))

    async def ping(self) -> float:
        """Round trip of a trivial query, in milliseconds."""
        started = time.perf_counter()
        await self.pool.fetchval("SELECT 1")
        return (time.perf_counter() - started) * 1000
