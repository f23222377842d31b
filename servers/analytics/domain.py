"""Analytics domain: recorded events, buckets, metrics, periods, health rules
and the domain event. No I/O, no protobuf."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from servers.platform.errors import FieldViolation, InvalidArgument
from servers.platform.paging import Page

GRANULARITIES = ("hour", "day", "week", "month")
MAX_BUCKETS = 1000
MAX_METADATA_BYTES = 16 * 1024
FUTURE_SKEW = timedelta(minutes=5)
# How far back a client may date an event (offline buffering), no further:
# usage reports of the past cannot be rewritten.
MAX_BACKDATE = timedelta(hours=24)
# Client-reported events are stored under this prefix, apart from the domain
# events (task.completed, ...) that the usage counters and the dashboard count.
CLIENT_NAMESPACE = "client."
PERIODS = ("day", "week", "month")
DEFAULT_PERIOD = "day"
DEFAULT_GRANULARITY = "day"
DEFAULT_TOP_USERS = 10

# Usage counters and the event types they count.
METRIC_EVENTS: dict[str, str] = {
    "task_created": "task.created",
    "task_completed": "task.completed",
    "ai_requests": "ai.request.received",
    "code_reviews": "code.review.completed",
}
METRICS = (*METRIC_EVENTS, "active_users")
_CAMEL = {"taskCreated": "task_created", "taskCompleted": "task_completed", "aiRequests": "ai_requests"}
_CAMEL |= {"codeReviews": "code_reviews", "activeUsers": "active_users"}

# Services whose failure makes the whole system unhealthy, not just degraded.
CORE_SERVICES = frozenset({"auth", "postgres"})


def metric_name(value: str) -> str | None:
    """A metric by JSON or snake_case name; None means all. Unknown -> 400."""
    if not value:
        return None
    name = _CAMEL.get(value, value)
    if name not in METRICS:
        raise InvalidArgument(
            "unknown metric", [FieldViolation("metric", f"must be one of {', '.join(METRICS)}")]
        )
    return name


@dataclass(frozen=True)
class RecordedEvent:
    """One usage event, from the bus or from a client."""

    id: str
    event_type: str
    user_id: str
    source: str
    occurred_at: datetime
    subject: str = ""
    request_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportedError:
    """One error occurrence a service reported."""

    event_id: str
    service: str
    severity: str
    message: str
    error_type: str
    occurred_at: datetime
    operation: str = ""
    request_id: str = ""
    trace_id: str = ""
    user_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRecorded:
    """Domain event: RecordEvent stored a client-reported event."""

    event: RecordedEvent


def check_metadata(metadata: dict[str, Any]) -> None:
    if len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise InvalidArgument(
            "metadata is too large", [FieldViolation("metadata", "must be at most 16 KiB serialized")]
        )


def check_timestamp(when: datetime, now: datetime) -> None:
    if when > now + FUTURE_SKEW:
        raise InvalidArgument(
            "timestamp is in the future",
            [FieldViolation("timestamp", "must not be more than 5 minutes in the future")],
        )
    if when < now - MAX_BACKDATE:
        raise InvalidArgument(
            "timestamp is too far in the past",
            [FieldViolation("timestamp", "must not be more than 24 hours in the past")],
        )


def client_event_type(event_type: str) -> str:
    """The namespaced type a client's event is stored under."""
    return event_type if event_type.startswith(CLIENT_NAMESPACE) else CLIENT_NAMESPACE + event_type


# --- buckets -------------------------------------------------------------------
def align(t: datetime, granularity: str) -> datetime:
    """The start of the UTC bucket containing `t` (weeks start on Monday)."""
    t = t.astimezone(UTC)
    if granularity == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(t: datetime, granularity: str) -> datetime:
    if granularity == "hour":
        return t + timedelta(hours=1)
    if granularity == "day":
        return t + timedelta(days=1)
    if granularity == "week":
        return t + timedelta(weeks=1)
    return (t.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(start: datetime, end: datetime, granularity: str) -> list[tuple[datetime, datetime]]:
    """The buckets covering [start, end), start aligned down. More than
    MAX_BUCKETS is a range too large to answer (INVALID_ARGUMENT)."""
    if granularity not in GRANULARITIES:
        raise InvalidArgument(
            "unknown granularity", [FieldViolation("granularity", "must be hour, day, week or month")]
        )
    if start >= end:
        raise InvalidArgument("empty range", [FieldViolation("endDate", "must be after startDate")])
    result: list[tuple[datetime, datetime]] = []
    at = align(start, granularity)
    while at < end:
        if len(result) == MAX_BUCKETS:
            raise InvalidArgument(
                "range too large",
                [
                    FieldViolation(
                        "endDate",
                        f"the range holds more than {MAX_BUCKETS} {granularity} buckets;"
                        " use a shorter range or a coarser granularity",
                    )
                ],
            )
        nxt = next_bucket(at, granularity)
        result.append((at, nxt))
        at = nxt
    return result


@dataclass
class UsageCounts:
    task_created: int = 0
    task_completed: int = 0
    ai_requests: int = 0
    code_reviews: int = 0
    active_users: int = 0

    def only(self, metric: str | None) -> UsageCounts:
        """These counts with every metric but `metric` zeroed (None: all)."""
        if metric is None:
            return self
        return UsageCounts(**{m: getattr(self, m) if m == metric else 0 for m in METRICS})


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    end: datetime
    counts: UsageCounts


@dataclass(frozen=True)
class UsageReport:
    start: datetime
    end: datetime
    granularity: str
    buckets: list[UsageBucket]


# --- errors ----------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorGroup:
    service: str
    severity: str
    message: str
    error_type: str
    count: int
    first_seen: datetime
    last_seen: datetime
    last_request_id: str


@dataclass(frozen=True)
class ErrorSummary:
    total: int
    by_severity: dict[str, int]
    by_service: dict[str, int]


@dataclass(frozen=True)
class ErrorReport:
    summary: ErrorSummary
    groups: Page[ErrorGroup]


# --- health ----------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceHealth:
    name: str
    status: str  # healthy | unhealthy | unknown
    latency_ms: float
    uptime_seconds: int
    last_check: datetime


@dataclass(frozen=True)
class SystemMetrics:
    cpu: float
    memory: float
    disk: float


@dataclass(frozen=True)
class HealthReport:
    status: str
    timestamp: datetime
    metrics: SystemMetrics
    services: list[ServiceHealth]


def overall_status(services: list[ServiceHealth]) -> str:
    """unhealthy if a core service is down, degraded if any other is, else healthy."""
    down = {s.name for s in services if s.status != "healthy"}
    if down & CORE_SERVICES:
        return "unhealthy"
    return "degraded" if down else "healthy"


# --- dashboard ---------------------------------------------------------------------
@dataclass(frozen=True)
class TopUser:
    user_id: str
    event_count: int
    tasks_completed: int
    ai_requests: int


@dataclass(frozen=True)
class Dashboard:
    current: UsageCounts
    errors: int
    system_health: str
    trends: dict[str, float]
    top_users: list[TopUser]


def period_ranges(period: str, now: datetime) -> tuple[datetime, datetime, datetime, datetime]:
    """(current start, current end = now, previous start, previous end): today
    so far vs yesterday, this week vs last week, this month vs last month."""
    if period not in PERIODS:
        raise InvalidArgument("unknown period", [FieldViolation("period", "must be day, week or month")])
    start = align(now, period)
    if period == "month":
        previous = align(start - timedelta(days=1), "month")
    else:
        previous = start - (timedelta(days=1) if period == "day" else timedelta(weeks=1))
    return start, now, previous, start


def percent_change(current: float, previous: float) -> float:
    """+25.0 for a quarter more; 0 when there was nothing before."""
    if not previous:
        return 0.0
    return round((current - previous) / previous * 100, 2)
