"""Analytics use cases with in-memory fakes of the repository Protocols: what
RecordEvent commits (the event and its MetricRecorded), idempotency, owner
scoping with the platform's one admin rule, default windows and pages, and
the bus consumer's ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from servers.analytics import domain
from servers.analytics.domain import (
    ErrorReport,
    ErrorSummary,
    MetricRecorded,
    RecordedEvent,
    ReportedError,
    ServiceHealth,
    SystemMetrics,
    TopUser,
    UsageCounts,
)
from servers.analytics.usecases import AnalyticsUseCases, ingest
from servers.platform.errors import InvalidArgument, PermissionDenied
from servers.platform.paging import Page, PageRequest
from servers.platform.uow import InMemoryUnitOfWork
from servers.platform.windows import ERRORS_WINDOW, USAGE_WINDOW
from tests.helpers import acting_as

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


@dataclass
class FakeRepository:
    """AnalyticsWrites in memory."""

    events: dict[str, RecordedEvent] = field(default_factory=dict)
    errors: dict[str, ReportedError] = field(default_factory=dict)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)

    async def insert_event(self, event: RecordedEvent) -> bool:
        if event.id in self.events:
            return False
        self.events[event.id] = event
        return True

    async def insert_error(self, error: ReportedError) -> bool:
        if error.event_id in self.errors:
            return False
        self.errors[error.event_id] = error
        return True

    async def claim_request(self, user_id: str, request_id: str, event_id: str) -> str | None:
        earlier = self.claims.get((user_id, request_id))
        if earlier is None:
            self.claims[(user_id, request_id)] = event_id
        return earlier


@dataclass
class FakeReads:
    """AnalyticsReads in memory: fixed answers, and the arguments it was asked with."""

    counts: dict[datetime, UsageCounts] = field(default_factory=dict)
    asked: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    async def usage(
        self, start: datetime, end: datetime, granularity: str, user_id: str | None
    ) -> dict[datetime, UsageCounts]:
        self.asked.append(("usage", (start, end, granularity, user_id)))
        return self.counts

    async def totals(self, start: datetime, end: datetime) -> UsageCounts:
        self.asked.append(("totals", (start, end)))
        return (
            UsageCounts(task_created=4) if start >= domain.align(NOW, "day") else UsageCounts(task_created=2)
        )

    async def top_users(self, start: datetime, end: datetime, limit: int) -> list[TopUser]:
        self.asked.append(("top_users", (start, end, limit)))
        return [TopUser("u1", 3, 1, 1)]

    async def error_count(self, start: datetime, end: datetime) -> int:
        self.asked.append(("error_count", (start, end)))
        return 1

    async def errors(
        self, start: datetime, end: datetime, severity: str | None, service: str | None, page: PageRequest
    ) -> ErrorReport:
        self.asked.append(("errors", (start, end, severity, service, page)))
        return ErrorReport(ErrorSummary(0, {}, {}), Page([], 0, page))


class FakeHealth:
    async def check(self) -> list[ServiceHealth]:
        return [
            ServiceHealth("auth", "healthy", 1.0, 10, NOW),
            ServiceHealth("tasks", "unhealthy", 0, 0, NOW),
        ]

    def metrics(self) -> SystemMetrics:
        return SystemMetrics(1.0, 2.0, 3.0)


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def uow(repo: FakeRepository) -> InMemoryUnitOfWork[FakeRepository]:
    return InMemoryUnitOfWork(repo)


@pytest.fixture
def reads() -> FakeReads:
    return FakeReads()


@pytest.fixture
def analytics(uow: InMemoryUnitOfWork[FakeRepository], reads: FakeReads) -> AnalyticsUseCases:
    return AnalyticsUseCases(uow, reads, FakeHealth(), clock=lambda: NOW)


async def test_record_commits_the_event_and_its_metric_recorded(analytics, uow, repo) -> None:
    with acting_as("alice"):
        event_id = await analytics.record("page.viewed", "", {"page": "/tasks"}, None, "")
    stored = repo.events[event_id]
    assert (stored.user_id, stored.source, stored.occurred_at) == ("alice", "client", NOW)
    assert stored.metadata == {"page": "/tasks"}
    assert uow.committed == [MetricRecorded(stored)]


async def test_a_repeated_idempotency_key_returns_the_first_id_and_records_nothing(
    analytics, uow, repo
) -> None:
    with acting_as("alice"):
        first = await analytics.record("page.viewed", "", {}, None, "key-1")
        again = await analytics.record("page.viewed", "", {"other": 1}, None, "key-1")
    with acting_as("bob"):  # keys are per caller
        bobs = await analytics.record("page.viewed", "", {}, None, "key-1")
    assert first == again != bobs
    assert list(repo.events) == [first, bobs]
    assert [e.event.id for e in uow.committed] == [first, bobs]


async def test_events_are_recorded_only_for_the_caller_in_the_client_namespace(analytics, uow, repo) -> None:
    for roles in ((), ("admin",)):
        with acting_as("alice", *roles), pytest.raises(PermissionDenied):
            await analytics.record("task.created", "bob", {}, None, "")
    with acting_as("alice"):  # naming oneself is fine
        own = await analytics.record("task.completed", "alice", {}, None, "")
        prefixed = await analytics.record("client.page.viewed", "", {}, None, "")
    assert (repo.events[own].user_id, repo.events[own].event_type) == ("alice", "client.task.completed")
    assert repo.events[prefixed].event_type == "client.page.viewed"
    assert len(uow.committed) == 2


async def test_invalid_events_are_rejected_before_anything_is_written(analytics, uow, repo) -> None:
    with acting_as("alice"):
        with pytest.raises(InvalidArgument):
            await analytics.record("page.viewed", "", {}, NOW + timedelta(minutes=6), "key")
        with pytest.raises(InvalidArgument):
            await analytics.record("page.viewed", "", {"k": "x" * 20000}, None, "key")
        with pytest.raises(InvalidArgument):
            await analytics.record("page.viewed", "", {}, NOW - timedelta(hours=25), "key")
        earlier = NOW - timedelta(hours=3)
        kept = await analytics.record("page.viewed", "", {}, earlier, "key")  # the key was not claimed
    assert repo.events[kept].occurred_at == earlier
    assert len(uow.committed) == 1


async def test_usage_is_scoped_by_the_one_owner_rule(analytics, reads) -> None:
    start, end = NOW - timedelta(hours=2), NOW
    with acting_as("alice"):
        await analytics.usage(start, end, "hour", "", "")
        await analytics.usage(start, end, "hour", "", "alice")
        with pytest.raises(PermissionDenied):
            await analytics.usage(start, end, "hour", "", "bob")
    with acting_as("root", "admin"):
        await analytics.usage(start, end, "hour", "", "bob")
        await analytics.usage(start, end, "hour", "", "")
    assert [args[3] for name, args in reads.asked] == ["alice", "alice", "bob", None]


async def test_usage_fills_buckets_and_defaults_its_window_and_granularity(analytics, reads) -> None:
    day = domain.align(NOW, "day")
    reads.counts = {day: UsageCounts(task_created=2, ai_requests=1, active_users=1)}
    with acting_as("alice"):
        report = await analytics.usage(None, None, "", "taskCreated", "")
    assert report.granularity == "day"
    assert report.end == NOW
    assert report.start == domain.align(NOW - USAGE_WINDOW, "day")
    assert len(report.buckets) == 31  # 30 days back, aligned down, plus today
    assert report.buckets[-1].counts == UsageCounts(task_created=2)  # only the metric asked
    assert all(b.counts == UsageCounts() for b in report.buckets[:-1])  # empty buckets included


async def test_errors_default_to_the_last_day_and_pass_the_page(analytics, reads) -> None:
    page = PageRequest.of(2, 0)
    await analytics.errors(None, None, "", "", page)
    await analytics.errors(NOW, NOW, "critical", "ai", page)  # an empty window is allowed
    with pytest.raises(InvalidArgument):
        await analytics.errors(NOW, NOW - timedelta(seconds=1), "", "", page)
    assert reads.asked == [
        ("errors", (NOW - ERRORS_WINDOW, NOW, None, None, PageRequest(2, 20))),
        ("errors", (NOW, NOW, "critical", "ai", PageRequest(2, 20))),
    ]


async def test_dashboard_compares_periods_with_defaults(analytics, reads) -> None:
    board = await analytics.dashboard("", 0)
    today = NOW.replace(hour=0, minute=0)
    assert board.current.task_created == 4 and board.trends["task_created"] == 100.0
    assert board.system_health == "degraded"  # a non-core service is down
    assert board.errors == 1 and board.trends["errors"] == 0.0
    assert ("top_users", (today, NOW + timedelta(hours=1), domain.DEFAULT_TOP_USERS)) in reads.asked
    with pytest.raises(InvalidArgument):
        await analytics.dashboard("year", 0)


async def test_health_reports_every_service(analytics) -> None:
    report = await analytics.health()
    assert (report.status, report.timestamp, report.metrics.disk) == ("degraded", NOW, 3.0)
    assert [s.name for s in report.services] == ["auth", "tasks"]


async def test_ingest_records_bus_events_once(repo) -> None:
    event = RecordedEvent("e1", "task.created", "alice", "tasks", NOW)
    error = ReportedError("e2", "ai", "error", "provider failed", "UNAVAILABLE", NOW)
    assert await ingest(repo, event) and await ingest(repo, error)
    assert not await ingest(repo, event) and not await ingest(repo, error)  # redelivered
    assert not await ingest(repo, None)  # analytics.* events: nothing to record
    assert list(repo.events) == ["e1"] and list(repo.errors) == ["e2"]
