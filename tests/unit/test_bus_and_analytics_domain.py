"""Pure rules of the event bus (topic patterns, retry schedule), of the
analytics domain (buckets, limits, periods, trends, health) and its event
mappings (both ErrorReported payloads in, MetricRecorded out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aether.analytics.v1 import events_pb2 as analytics_events
from aether.events.v1 import error_reported_pb2, event_pb2
from google.protobuf import struct_pb2

from servers.analytics import domain, mapping
from servers.platform.bus import ERROR_EVENT, BusConfig, matches, pattern_regex
from servers.platform.errors import InvalidArgument
from servers.platform.timestamps import timestamp


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("task.*", "task.created", True),
        ("task.*", "task.due_soon", True),
        ("task.*", "task", False),
        ("task.*", "analytics.task.created", False),
        ("#", "analytics.error.reported", True),
        ("ai.#", "ai.request.received", True),
        ("ai.#", "ai", True),
        ("*.completed", "task.completed", True),
        ("*.completed", "code.review.completed", False),
        ("#.completed", "code.review.completed", True),
        ("user.registered", "user.registered", True),
    ],
)
def test_topic_patterns_follow_amqp_semantics(pattern: str, event_type: str, expected: bool) -> None:
    assert matches(pattern, event_type) is expected


def test_invalid_patterns_are_rejected() -> None:
    for bad in ("task.**", "Task.*", "", "task..x", "a b"):
        with pytest.raises(ValueError):
            pattern_regex(bad)


def test_retry_schedule_grows_and_ends_in_dead_letter() -> None:
    config = BusConfig(retry_delays=(1, 5, 30))
    assert config.max_attempts == 4
    assert [config.delay_after(a) for a in (1, 2, 3)] == [1, 5, 30]


def test_buckets_align_down_and_include_every_bucket() -> None:
    start = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday
    weeks = domain.buckets(start, start + timedelta(days=10), "week")
    assert weeks[0][0] == datetime(2026, 3, 2, tzinfo=UTC)  # Monday
    assert len(weeks) == 2
    months = domain.buckets(datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "month")
    assert [b[0].month for b in months] == [1, 2]
    assert months[1][1] == datetime(2026, 3, 1, tzinfo=UTC)
    assert len(domain.buckets(start, start + timedelta(hours=2), "hour")) == 3  # 10:00, 11:00, 12:00


def test_ranges_too_large_or_empty_are_invalid() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgument) as too_large:
        domain.buckets(start, start + timedelta(hours=1001), "hour")
    assert "1000" in too_large.value.violations[0].description
    assert len(domain.buckets(start, start + timedelta(hours=1000), "hour")) == 1000
    with pytest.raises(InvalidArgument):
        domain.buckets(start, start, "day")
    with pytest.raises(InvalidArgument):
        domain.buckets(start, start + timedelta(days=1), "year")


def test_metric_names_accept_json_and_snake_case() -> None:
    assert domain.metric_name("taskCreated") == domain.metric_name("task_created") == "task_created"
    assert domain.metric_name("") is None
    with pytest.raises(InvalidArgument):
        domain.metric_name("pageViews")
    counts = domain.UsageCounts(1, 2, 3, 4, 5).only("ai_requests")
    assert (counts.task_created, counts.ai_requests, counts.active_users) == (0, 3, 0)


def test_periods_trends_and_overall_health() -> None:
    now = datetime(2026, 3, 1, 15, tzinfo=UTC)
    assert domain.period_ranges("day", now) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        now,
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert domain.period_ranges("month", now)[2] == datetime(2026, 2, 1, tzinfo=UTC)
    assert domain.percent_change(15, 10) == 50.0
    assert domain.percent_change(5, 10) == -50.0
    assert domain.percent_change(3, 0) == 0.0

    def svc(name: str, status: str) -> domain.ServiceHealth:
        return domain.ServiceHealth(name, status, 1.0, 0, now)

    assert domain.overall_status([svc("auth", "healthy"), svc("tasks", "healthy")]) == "healthy"
    assert domain.overall_status([svc("auth", "healthy"), svc("tasks", "unhealthy")]) == "degraded"
    assert domain.overall_status([svc("postgres", "unhealthy"), svc("tasks", "healthy")]) == "unhealthy"


def test_metadata_and_timestamp_limits() -> None:
    now = datetime.now(UTC)
    domain.check_metadata({"k": "x" * 1000})
    with pytest.raises(InvalidArgument):
        domain.check_metadata({"k": "x" * 20000})
    domain.check_timestamp(now + timedelta(minutes=4), now)
    with pytest.raises(InvalidArgument):
        domain.check_timestamp(now + timedelta(minutes=6), now)


@pytest.mark.parametrize(
    "payload_type",
    [error_reported_pb2.ErrorReported, analytics_events.ErrorReported],  # the new one, the deprecated one
)
def test_the_consumer_reads_both_error_payloads(payload_type: type) -> None:
    details = struct_pb2.Struct()
    details.update({"attempt": 2})
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    payload = payload_type(
        service="ai",
        severity="critical",
        message="provider failed",
        error_type="UNAVAILABLE",
        request_id="req-1",
        details=details,
        occurred_at=timestamp(when),
    )
    event = event_pb2.Event(id="0b6f1c1e-0000-4000-8000-000000000001", type=ERROR_EVENT, source="ai")
    event.payload.Pack(payload)
    error = mapping.from_bus(event)
    assert error == domain.ReportedError(
        event_id=event.id,
        service="ai",
        severity="critical",
        message="provider failed",
        error_type="UNAVAILABLE",
        occurred_at=when,
        request_id="req-1",
        details={"attempt": 2.0},
    )


def test_analytics_events_are_not_recorded_and_others_are() -> None:
    ours = event_pb2.Event(id="e1", type="analytics.metric.recorded", source="analytics")
    theirs = event_pb2.Event(id="e2", type="task.created", source="tasks", actor_id="alice")
    assert mapping.from_bus(ours) is None
    recorded = mapping.from_bus(theirs)
    assert isinstance(recorded, domain.RecordedEvent)
    assert (recorded.id, recorded.user_id, recorded.source) == ("e2", "alice", "tasks")


def test_metric_recorded_maps_to_its_event() -> None:
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    recorded = domain.RecordedEvent("e1", "page.viewed", "alice", "client", when, metadata={"ms": 12})
    out = mapping.to_event(domain.MetricRecorded(recorded))
    assert (out.type, out.subject) == ("analytics.metric.recorded", "e1")
    assert isinstance(out.payload, analytics_events.MetricRecorded)
    payload = out.payload
    assert (payload.event_id, payload.event_type, payload.user_id) == ("e1", "page.viewed", "alice")
    assert dict(payload.metadata) == {"ms": 12.0}
    assert payload.timestamp.ToDatetime(tzinfo=UTC) == when
