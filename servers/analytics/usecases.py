"""Analytics application logic: recording, usage, errors, health, dashboard."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg

from servers.analytics import domain
from servers.analytics.domain import (
    Dashboard,
    ErrorReport,
    HealthReport,
    RecordedEvent,
    ReportedError,
    ServiceHealth,
    SystemMetrics,
    UsageBucket,
    UsageCounts,
    UsageReport,
)
from servers.platform.context import Principal, request_id
from servers.platform.errors import PermissionDenied

ADMIN = "analytics:admin"

# Emits "analytics.metric.recorded" inside the recording transaction.
OnRecorded = Callable[[asyncpg.Connection, RecordedEvent], Awaitable[None]]


class Store(Protocol):
    pool: asyncpg.Pool

    async def insert_event(self, conn: asyncpg.Connection, event: RecordedEvent) -> bool: ...
    async def insert_error(self, conn: asyncpg.Connection, error: ReportedError) -> bool: ...
    async def claim_request(
        self, conn: asyncpg.Connection, user_id: str, request_id: str, event_id: str
    ) -> str | None: ...
    async def usage(
        self, start: datetime, end: datetime, granularity: str, user_id: str | None
    ) -> dict[datetime, UsageCounts]: ...
    async def totals(self, start: datetime, end: datetime) -> UsageCounts: ...
    async def top_users(self, start: datetime, end: datetime, limit: int) -> list[domain.TopUser]: ...
    async def error_count(self, start: datetime, end: datetime) -> int: ...
    async def errors(
        self,
        start: datetime,
        end: datetime,
        severity: str | None,
        service: str | None,
        offset: int,
        limit: int,
    ) -> tuple[domain.ErrorSummary, list[domain.ErrorGroup], int]: ...


class Health(Protocol):
    async def check(self) -> list[ServiceHealth]: ...
    def metrics(self) -> SystemMetrics: ...


def _is_admin(principal: Principal) -> bool:
    return ADMIN in principal.permissions


def _scope(principal: Principal, user_id: str) -> str | None:
    """Whose data a request may see: the caller's own, or (admin) anyone's."""
    if user_id and user_id != principal.user_id:
        if not _is_admin(principal):
            raise PermissionDenied("reading or writing another user's analytics needs analytics:admin")
        return user_id
    if user_id or not _is_admin(principal):
        return principal.user_id
    return None  # admin, everyone


class AnalyticsUseCases:
    def __init__(self, store: Store, health: Health, on_recorded: OnRecorded):
        self._store = store
        self._health = health
        self._on_recorded = on_recorded

    # --- writes -------------------------------------------------------------------------
    async def record(
        self,
        principal: Principal,
        event_type: str,
        user_id: str,
        metadata: dict[str, Any],
        timestamp: datetime | None,
        idempotency_key: str,
    ) -> str:
        """Store a client-reported event; returns its id (the first id for a
        repeated idempotency key)."""
        owner = _scope(principal, user_id) or principal.user_id
        now = datetime.now(UTC)
        domain.check_timestamp(timestamp or now, now)
        domain.check_metadata(metadata)
        event = RecordedEvent(
            id=str(uuid.uuid4()),
            event_type=event_type,
            user_id=owner,
            source="client",
            occurred_at=timestamp or now,
            request_id=request_id(),
            metadata=metadata,
        )
        async with self._store.pool.acquire() as conn, conn.transaction():
            if idempotency_key:
                earlier = await self._store.claim_request(conn, principal.user_id, idempotency_key, event.id)
                if earlier is not None:
                    return earlier
            await self._store.insert_event(conn, event)
            await self._on_recorded(conn, event)
        return event.id

    async def ingest(self, conn: asyncpg.Connection, item: RecordedEvent | ReportedError | None) -> bool:
        """Record one event consumed from the bus, inside the consumer's
        transaction; idempotent on the event id."""
        if isinstance(item, RecordedEvent):
            return await self._store.insert_event(conn, item)
        if isinstance(item, ReportedError):
            return await self._store.insert_error(conn, item)
        return False

    # --- reads --------------------------------------------------------------------------
    async def usage(
        self,
        principal: Principal,
        start: datetime,
        end: datetime,
        granularity: str,
        metric: str,
        user_id: str,
    ) -> UsageReport:
        granularity = granularity or "day"
        wanted = domain.metric_name(metric)
        spans = domain.buckets(start, end, granularity)
        scope = _scope(principal, user_id)
        counts = await self._store.usage(spans[0][0], spans[-1][1], granularity, scope)
        return UsageReport(
            spans[0][0],
            end,
            granularity,
            [UsageBucket(s, e, counts.get(s, UsageCounts()).only(wanted)) for s, e in spans],
        )

    async def errors(
        self,
        start: datetime | None,
        end: datetime | None,
        severity: str,
        service: str,
        page: int,
        limit: int,
    ) -> ErrorReport:
        end = end or datetime.now(UTC)
        start = start or end - timedelta(hours=24)
        page, limit = max(page, 1), limit or 20
        summary, groups, total = await self._store.errors(
            start, end, severity or None, service or None, (page - 1) * limit, limit
        )
        return ErrorReport(summary, groups, total, page, limit)

    async def health(self) -> HealthReport:
        services = await self._health.check()
        return HealthReport(
            domain.overall_status(services), datetime.now(UTC), self._health.metrics(), services
        )

    async def dashboard(self, period: str, top_users_limit: int) -> Dashboard:
        start, now, prev_start, prev_end = domain.period_ranges(period or "day", datetime.now(UTC))
        current = await self._store.totals(start, now + timedelta(hours=1))
        previous = await self._store.totals(prev_start, prev_end)
        errors = await self._store.error_count(start, now + timedelta(seconds=1))
        previous_errors = await self._store.error_count(prev_start, prev_end)
        trends = {m: domain.percent_change(getattr(current, m), getattr(previous, m)) for m in domain.METRICS}
        trends["errors"] = domain.percent_change(errors, previous_errors)
        health = await self.health()
        top = await self._store.top_users(start, now + timedelta(hours=1), top_users_limit or 10)
        return Dashboard(current, errors, health.status, trends, top)
