"""PostgreSQL persistence of the analytics service (schema `analytics`).

Usage reads only the rollup tables (hourly for hour buckets, daily for day,
week and month), which are maintained in the transaction that inserts each raw
event, so a usage query over months touches at most days x users x types rows.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import asyncpg

from servers.analytics.domain import (
    METRIC_EVENTS,
    ErrorGroup,
    ErrorSummary,
    RecordedEvent,
    ReportedError,
    TopUser,
    UsageCounts,
)

_ROLLUP = """
INSERT INTO analytics.{table} (bucket, event_type, user_id, count)
VALUES (date_trunc($1, $2::timestamptz, 'UTC'), $3, $4, 1)
ON CONFLICT (bucket, event_type, user_id) DO UPDATE SET count = {table}.count + 1
"""

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


class AnalyticsStore:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    # --- writes (inside the caller's transaction) -----------------------------------
    async def insert_event(self, conn: asyncpg.Connection, event: RecordedEvent) -> bool:
        """Store the event and count it in the rollups; False if its id exists."""
        inserted = await conn.fetchval(
            "INSERT INTO analytics.events (id, event_type, user_id, source, subject, request_id, metadata,"
            " occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)"
            " ON CONFLICT (id) DO NOTHING RETURNING true",
            uuid.UUID(event.id),
            event.event_type,
            event.user_id,
            event.source,
            event.subject,
            event.request_id,
            json.dumps(event.metadata),
            event.occurred_at,
        )
        if not inserted:
            return False
        for table, unit in (("usage_hourly", "hour"), ("usage_daily", "day")):
            await conn.execute(
                _ROLLUP.format(table=table), unit, event.occurred_at, event.event_type, event.user_id
            )
        return True

    async def insert_error(self, conn: asyncpg.Connection, error: ReportedError) -> bool:
        inserted = await conn.fetchval(
            "INSERT INTO analytics.errors (event_id, service, severity, message, error_type, operation,"
            " request_id, trace_id, user_id, details, occurred_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING true",
            uuid.UUID(error.event_id),
            error.service,
            error.severity,
            error.message,
            error.error_type,
            error.operation,
            error.request_id,
            error.trace_id,
            error.user_id,
            json.dumps(error.details),
            error.occurred_at,
        )
        return bool(inserted)

    async def claim_request(
        self, conn: asyncpg.Connection, user_id: str, request_id: str, event_id: str
    ) -> str | None:
        """Claim an idempotency key for `event_id`; returns the earlier event id
        if the key was used in the last 24 hours, else None."""
        claimed = await conn.fetchval(
            "INSERT INTO analytics.record_requests (user_id, request_id, event_id) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, request_id)"
            " DO UPDATE SET event_id = EXCLUDED.event_id, created_at = now()"
            " WHERE record_requests.created_at < now() - interval '24 hours' RETURNING true",
            user_id,
            request_id,
            uuid.UUID(event_id),
        )
        if claimed:
            return None
        earlier = await conn.fetchval(
            "SELECT event_id FROM analytics.record_requests WHERE user_id = $1 AND request_id = $2",
            user_id,
            request_id,
        )
        return str(earlier)

    # --- reads ----------------------------------------------------------------------
    async def usage(
        self, start: datetime, end: datetime, granularity: str, user_id: str | None
    ) -> dict[datetime, UsageCounts]:
        """Counts per bucket start (buckets without events are absent)."""
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
        self,
        start: datetime,
        end: datetime,
        severity: str | None,
        service: str | None,
        offset: int,
        limit: int,
    ) -> tuple[ErrorSummary, list[ErrorGroup], int]:
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
                limit,
                offset,
            )
            total_groups = groups[0]["total_groups"] if groups else 0
            if not groups and offset:
                total_groups = await conn.fetchval(
                    "SELECT count(*)::int FROM (SELECT 1 FROM analytics.errors"  # noqa: S608
                    f" WHERE {where} GROUP BY service, severity, message, error_type) g",
                    *args,
                )
        by_severity = {r["severity"]: r["n"] for r in by if r["severity"] is not None}
        by_service = {r["service"]: r["n"] for r in by if r["service"] is not None}
        summary = ErrorSummary(sum(by_severity.values()), by_severity, by_service)
        return (
            summary,
            [
                ErrorGroup(
                    r["service"],
                    r["severity"],
                    r["message"],
                    r["error_type"],
                    r["n"],
                    r["first"],
                    r["last"],
                    r["last_request_id"],
                )
                for r in groups
            ],
            total_groups,
        )

    async def ping(self) -> float:
        """Round trip of a trivial query, in milliseconds."""
        started = time.perf_counter()
        await self.pool.fetchval("SELECT 1")
        return (time.perf_counter() - started) * 1000
