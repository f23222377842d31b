"""Analytics use cases: recording (RecordEvent, and every domain event from the
bus), usage, errors, health, dashboard. Owner scoping comes from the caller
(platform.scoping); a recorded event, its idempotency claim and its
MetricRecorded event commit in one unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from servers.analytics import domain
from servers.analytics.domain import (
    Dashboard,
    ErrorReport,
    HealthReport,
    MetricRecorded,
    RecordedEvent,
    ReportedError,
    ServiceHealth,
    SystemMetrics,
    TopUser,
    UsageBucket,
    UsageCounts,
    UsageReport,
)
from servers.platform.context import request_id
from servers.platform.errors import PermissionDenied
from servers.platform.paging import PageRequest
from servers.platform.scoping import current_viewer
from servers.platform.uow import UnitOfWork
from servers.platform.windows import ERRORS_WINDOW, USAGE_WINDOW, TimeWindow


class AnalyticsWrites(Protocol):
    """The repository on one transaction (servers.analytics.store.AnalyticsRepository)."""

    async def insert_event(self, event: RecordedEvent) -> bool: ...
    async def insert_error(self, error: ReportedError) -> bool: ...
    async def claim_request(self, user_id: str, request_id: str, event_id: str) -> str | None: ...


class AnalyticsReads(Protocol):
    """Reads outside a transaction (servers.analytics.queries.AnalyticsQueries)."""

    async def usage(
        self, start: datetime, end: datetime, granularity: str, user_id: str | None
    ) -> dict[datetime, UsageCounts]: ...
    async def totals(self, start: datetime, end: datetime) -> UsageCounts: ...
    async def top_users(self, start: datetime, end: datetime, limit: int) -> list[TopUser]: ...
    async def error_count(self, start: datetime, end: datetime) -> int: ...
    async def errors(
        self, start: datetime, end: datetime, severity: str | None, service: str | None, page: PageRequest
    ) -> ErrorReport: ...


class Health(Protocol):
    """Live checks of every service (servers.analytics.health.HealthChecker)."""

    async def check(self) -> list[ServiceHealth]: ...
    def metrics(self) -> SystemMetrics: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _bounded(window: TimeWindow) -> tuple[datetime, datetime]:
    assert window.start is not None  # a window with a default always has a start
    return window.start, window.end


async def ingest(repo: AnalyticsWrites, item: RecordedEvent | ReportedError | None) -> bool:
    """Record one event consumed from the bus through `repo`, bound to the
    consumer's transaction; idempotent on the event id (False: seen before, or
    nothing to record)."""
    if isinstance(item, RecordedEvent):
        return await repo.insert_event(item)
    if isinstance(item, ReportedError):
        return await repo.insert_error(item)
    return False


class AnalyticsUseCases:
    def __init__(
        self,
        uow: UnitOfWork[AnalyticsWrites],
        reads: AnalyticsReads,
        health: Health,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self._uow = uow
        self._reads = reads
        self._health = health
        self._clock = clock

    async def record(
        self,
        event_type: str,
        user_id: str,
        metadata: dict[str, Any],
        timestamp: datetime | None,
        idempotency_key: str,
    ) -> str:
        """Store a client-reported event for the caller only, under the client
        namespace (domain.client_event_type); returns its id (the first one's for
        a repeated idempotency key)."""
        viewer = current_viewer()
        if user_id and user_id != viewer.user_id:
            raise PermissionDenied("events are recorded only for the caller")
        now = self._clock()
        domain.check_timestamp(timestamp or now, now)
        domain.check_metadata(metadata)
        event = RecordedEvent(
            id=str(uuid.uuid4()),
            event_type=domain.client_event_type(event_type),
            user_id=viewer.user_id,
            source="client",
            occurred_at=timestamp or now,
            request_id=request_id(),
            metadata=metadata,
        )
        async with self._uow() as tx:
            if idempotency_key:
                earlier = await tx.repo.claim_request(viewer.user_id, idempotency_key, event.id)
                if earlier is not None:
                    return earlier
            await tx.repo.insert_event(event)
            tx.record(MetricRecorded(event))
        return event.id

    async def usage(
        self, start: datetime | None, end: datetime | None, granularity: str, metric: str, user_id: str
    ) -> UsageReport:
        """Counts per bucket of the caller's activity, another user's (admins)
        or everyone's (admins, no user given)."""
        granularity = granularity or domain.DEFAULT_GRANULARITY
        wanted = domain.metric_name(metric)
        first, last = _bounded(TimeWindow.of(start, end, now=self._clock(), default=USAGE_WINDOW))
        spans = domain.buckets(first, last, granularity)
        target = current_viewer().target(user_id, what="analytics")
        counts = await self._reads.usage(spans[0][0], spans[-1][1], granularity, target)
        return UsageReport(
            spans[0][0],
            last,
            granularity,
            [UsageBucket(s, e, counts.get(s, UsageCounts()).only(wanted)) for s, e in spans],
        )

    async def errors(
        self,
        start: datetime | None,
        end: datetime | None,
        severity: str,
        service: str,
        page: PageRequest,
    ) -> ErrorReport:
        """Error groups in the window (by default the last ERRORS_WINDOW)."""
        window = TimeWindow.of(start, end, now=self._clock(), default=ERRORS_WINDOW, allow_empty=True)
        first, last = _bounded(window)
        return await self._reads.errors(first, last, severity or None, service or None, page)

    async def health(self) -> HealthReport:
        services = await self._health.check()
        return HealthReport(domain.overall_status(services), self._clock(), self._health.metrics(), services)

    async def dashboard(self, period: str, top_users_limit: int) -> Dashboard:
        """This period so far against the previous one, health and top users."""
        now = self._clock()
        start, now, prev_start, prev_end = domain.period_ranges(period or domain.DEFAULT_PERIOD, now)
        current = await self._reads.totals(start, now + timedelta(hours=1))
        previous = await self._reads.totals(prev_start, prev_end)
        errors = await self._reads.error_count(start, now + timedelta(seconds=1))
        previous_errors = await self._reads.error_count(prev_start, prev_end)
        trends = {m: domain.percent_change(getattr(current, m), getattr(previous, m)) for m in domain.METRICS}
        trends["errors"] = domain.percent_change(errors, previous_errors)
        health = await self.health()
        limit = top_users_limit or domain.DEFAULT_TOP_USERS
        top = await self._reads.top_users(start, now + timedelta(hours=1), limit)
        return Dashboard(current, errors, health.status, trends, top)
