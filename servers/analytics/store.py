"""The analytics repository inside a unit of work (schema `analytics`): raw
events with their rollup counts, error occurrences, idempotency claims.

Usage reads only the rollup tables (hourly for hour buckets, daily for day,
week and month), which are maintained here in the transaction that inserts each
raw event, so a usage query over months touches at most days x users x types
rows. Reads live in servers.analytics.queries.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from servers.analytics.domain import RecordedEvent, ReportedError

_ROLLUP = """
INSERT INTO analytics.{table} (bucket, event_type, user_id, count)
VALUES (date_trunc($1, $2::timestamptz, 'UTC'), $3, $4, 1)
ON CONFLICT (bucket, event_type, user_id) DO UPDATE SET count = {table}.count + 1
"""


@dataclass
class AnalyticsRepository:
    """The analytics schema on one transaction's connection: a unit of work's
    (RecordEvent) or the bus consumer's."""

    conn: asyncpg.Connection

    async def insert_event(self, event: RecordedEvent) -> bool:
        """Store the event and count it in the rollups; False if its id exists."""
        inserted = await self.conn.fetchval(
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
            await self.conn.execute(
                _ROLLUP.format(table=table), unit, event.occurred_at, event.event_type, event.user_id
            )
        return True

    async def insert_error(self, error: ReportedError) -> bool:
        """Store one error occurrence; False if its event id exists."""
        inserted = await self.conn.fetchval(
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

    async def claim_request(self, user_id: str, request_id: str, event_id: str) -> str | None:
        """Claim an idempotency key for `event_id`; returns the earlier event id
        if the key was used in the last 24 hours, else None."""
        claimed = await self.conn.fetchval(
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
        earlier = await self.conn.fetchval(
            "SELECT event_id FROM analytics.record_requests WHERE user_id = $1 AND request_id = $2",
            user_id,
            request_id,
        )
        return str(earlier)
