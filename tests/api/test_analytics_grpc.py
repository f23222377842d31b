"""AnalyticsService over native gRPC against the shared in-process server
(every domain, the embedded PostgreSQL bus): recording, usage buckets from the
rollups, errors, live health, dashboard, permissions and bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from aether.analytics.v1 import analytics_service_pb2 as pb
from aether.analytics.v1 import analytics_service_pb2_grpc
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from google.protobuf import struct_pb2, timestamp_pb2

from servers.platform import events
from servers.platform.bus import report_error
from tests.helpers import STRONG_PASSWORD, acting_as, bearer, rich_error, unique_email


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def window() -> datetime:
    """A random past hour nobody else writes to, so system-wide counts are exact."""
    base = datetime(2001, 1, 1, tzinfo=UTC)
    return base + timedelta(hours=uuid.uuid4().int % (20 * 365 * 24))


@pytest.fixture
async def stub(
    app_server: tuple[str, list[str]],
) -> AsyncIterator[analytics_service_pb2_grpc.AnalyticsServiceStub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield analytics_service_pb2_grpc.AnalyticsServiceStub(channel)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()


async def consumed_so_far(db: asyncpg.Pool) -> None:
    """Wait until the analytics consumer has handled the events published before
    this call: publish a sentinel event after them and wait until it is recorded
    (the outbox is relayed and consumed in order). A fixed sleep would let an
    assertion that something was NOT recorded pass just because it came late."""
    async with db.acquire() as conn, conn.transaction():
        sentinel = await events.publish(
            conn,
            event_type="test.sentinel",
            source="tests",
            subject=str(uuid.uuid4()),
            payload=struct_pb2.Struct(),
        )
    for _ in range(200):
        if await db.fetchval("SELECT count(*) FROM analytics.events WHERE id = $1", uuid.UUID(sentinel)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the analytics consumer did not record the sentinel event within 10 s")


async def domain_event(db: asyncpg.Pool, event_type: str, user_id: str, when: datetime) -> None:
    """A domain event as a domain emits it (outbox -> bus -> the analytics consumer),
    by `user_id` and dated `when`: the only way usage counters grow."""
    with acting_as(user_id):
        event = events.envelope(
            event_type=event_type, source="tests", subject=str(uuid.uuid4()), payload=struct_pb2.Struct()
        )
    event.time.CopyFrom(ts(when))
    async with db.acquire() as conn, conn.transaction():
        await events.insert(conn, event)


async def record(stub, token: str, event_type: str, when: datetime, **fields) -> str:
    reply = await stub.RecordEvent(
        pb.RecordEventRequest(event_type=event_type, timestamp=ts(when), **fields), metadata=bearer(token)
    )
    assert reply.success
    return str(reply.event_id)


async def test_domain_events_are_counted_per_bucket_for_their_user(stub, forge_token, db) -> None:
    me = str(uuid.uuid4())
    token = await forge_token(me)
    start = window().replace(hour=0)
    for offset, kind in [
        (1, "task.created"),
        (1, "task.created"),
        (2, "task.completed"),
        (26, "ai.request.received"),
    ]:
        await domain_event(db, kind, me, start + timedelta(hours=offset, minutes=5))
    await domain_event(db, "code.review.completed", me, start + timedelta(hours=26, minutes=30))
    await consumed_so_far(db)

    days = await stub.GetUsage(
        pb.GetUsageRequest(start_date=ts(start), end_date=ts(start + timedelta(days=3)), granularity="day"),
        metadata=bearer(token),
    )
    assert days.period.granularity == "day" and len(days.metrics) == 3  # empty buckets included
    first, second, third = days.metrics
    assert (first.task_created, first.task_completed, first.active_users) == (2, 1, 1)
    assert (second.ai_requests, second.code_reviews, second.active_users) == (1, 1, 1)
    assert (third.task_created, third.active_users) == (0, 0)
    assert second.bucket_start.ToDatetime(tzinfo=UTC) == start + timedelta(days=1)

    hours = await stub.GetUsage(
        pb.GetUsageRequest(
            start_date=ts(start + timedelta(minutes=30)),  # aligned down to the hour
            end_date=ts(start + timedelta(hours=3)),
            granularity="hour",
            metric="taskCreated",
        ),
        metadata=bearer(token),
    )
    assert [b.task_created for b in hours.metrics] == [0, 2, 0]
    assert all(b.task_completed == 0 and b.active_users == 0 for b in hours.metrics)  # only the metric asked
    assert hours.period.start_date.ToDatetime(tzinfo=UTC) == start

    month = await stub.GetUsage(
        pb.GetUsageRequest(start_date=ts(start), end_date=ts(start + timedelta(days=2)), granularity="month"),
        metadata=bearer(token),
    )
    assert month.metrics[0].bucket_start.ToDatetime(tzinfo=UTC).day == 1
    assert sum(b.task_created for b in month.metrics) == 2


async def test_record_event_is_idempotent_and_emits_metric_recorded(stub, forge_token, db) -> None:
    token = await forge_token(str(uuid.uuid4()))
    meta = struct_pb2.Struct()
    meta.update({"page": "/tasks", "ms": 12})
    key = uuid.uuid4().hex
    first = await record(stub, token, "page.viewed", datetime.now(UTC), metadata=meta, request_id=key)
    again = await record(stub, token, "page.viewed", datetime.now(UTC), metadata=meta, request_id=key)
    assert first == again
    stored = await db.fetchrow(
        "SELECT event_type, source, metadata FROM analytics.events WHERE id = $1", uuid.UUID(first)
    )
    assert (stored["event_type"], stored["source"]) == ("client.page.viewed", "client")
    assert '"page": "/tasks"' in stored["metadata"]
    emitted = await db.fetchval(
        "SELECT count(*) FROM platform.outbox"
        " WHERE event_type = 'analytics.metric.recorded' AND subject = $1",
        first,
    )
    assert emitted == 1
    await consumed_so_far(db)  # the consumer has seen it: it must not record analytics.* events
    assert await db.fetchval("SELECT count(*) FROM analytics.events WHERE event_type LIKE 'analytics.%'") == 0


async def test_domain_events_from_the_bus_are_recorded_once(app_server, stub, forge_token, db) -> None:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        auth = auth_service_pb2_grpc.AuthServiceStub(channel)
        user = await auth.Register(
            auth_service_pb2.RegisterRequest(email=unique_email("an"), password=STRONG_PASSWORD, name="An")
        )

    async def seen() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM analytics.events WHERE event_type = 'user.registered' AND user_id = $1",
                user.user_id,
            )
        )

    for _ in range(100):
        if await seen():
            break
        await asyncio.sleep(0.1)
    await consumed_so_far(db)  # a duplicate delivery would be recorded by now
    assert await seen() == 1
    row = await db.fetchrow("SELECT source, metadata FROM analytics.events WHERE subject = $1", user.user_id)
    assert row["source"] == "auth" and user.user_id in row["metadata"]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"start": 2, "end": 1, "granularity": "day"}, "before end_date"),  # end before start
        ({"start": 0, "end": 1, "granularity": "fortnight"}, "granularity"),
        ({"start": 0, "end": 24 * 50, "granularity": "hour"}, "endDate"),  # 1200 buckets: too many
        ({"start": 0, "end": 1, "granularity": "day", "metric": "pageViews"}, "metric"),
    ],
)
async def test_bad_usage_requests_are_invalid_argument(stub, forge_token, request_fields, field) -> None:
    token = await forge_token(str(uuid.uuid4()))
    base = datetime(2024, 1, 1, tzinfo=UTC)
    unit = timedelta(hours=1) if request_fields["granularity"] == "hour" else timedelta(days=1)
    request = pb.GetUsageRequest(
        start_date=ts(base + request_fields["start"] * unit),
        end_date=ts(base + request_fields["end"] * unit),
        granularity=request_fields["granularity"],
        metric=request_fields.get("metric", ""),
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetUsage(request, metadata=bearer(token))
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_ERROR"
    assert any(field in f"{k}: {v}" for k, v in error.field_violations.items()), error


async def test_missing_dates_are_invalid_argument(stub, forge_token) -> None:
    token = await forge_token(str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetUsage(pb.GetUsageRequest(granularity="day"), metadata=bearer(token))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cross_user_data_needs_admin(stub, forge_token, db) -> None:
    me, other = str(uuid.uuid4()), str(uuid.uuid4())
    user = await forge_token(me)
    admin = await forge_token(str(uuid.uuid4()), roles=("admin",))
    when = window()
    span = pb.GetUsageRequest(
        start_date=ts(when - timedelta(hours=1)), end_date=ts(when + timedelta(hours=1)), granularity="hour"
    )
    for call in (
        stub.GetUsage(pb.GetUsageRequest(**_fields(span), user_id=other), metadata=bearer(user)),
        stub.RecordEvent(
            pb.RecordEventRequest(event_type="task.created", user_id=other), metadata=bearer(user)
        ),
        stub.GetErrors(pb.GetErrorsRequest(), metadata=bearer(user)),
        stub.GetDashboard(pb.GetDashboardRequest(), metadata=bearer(user)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED

    with pytest.raises(grpc.aio.AioRpcError) as raised:  # not even an admin records for someone else
        await record(stub, admin, "page.viewed", when, user_id=other)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # An admin reads another user's usage, and everyone's without user_id.
    await domain_event(db, "task.created", other, when)
    await domain_event(db, "task.created", me, when)
    await consumed_so_far(db)
    theirs = await stub.GetUsage(pb.GetUsageRequest(**_fields(span), user_id=other), metadata=bearer(admin))
    everyone = await stub.GetUsage(span, metadata=bearer(admin))
    mine = await stub.GetUsage(span, metadata=bearer(user))
    assert sum(b.task_created for b in theirs.metrics) == 1
    assert sum(b.task_created for b in mine.metrics) == 1  # a user sees only their own
    assert sum(b.task_created for b in everyone.metrics) == 2
    assert max(b.active_users for b in everyone.metrics) == 2


def _fields(request: pb.GetUsageRequest) -> dict:
    return {
        "start_date": request.start_date,
        "end_date": request.end_date,
        "granularity": request.granularity,
    }


async def test_errors_are_grouped_by_service_and_severity(stub, forge_token, db) -> None:
    service = f"svc{uuid.uuid4().hex[:6]}"
    async with db.acquire() as conn, conn.transaction():
        for severity, message in [
            ("error", "provider failed"),
            ("error", "provider failed"),
            ("critical", "db down"),
        ]:
            await report_error(
                conn, service=service, severity=severity, message=message, error_type="UNAVAILABLE"
            )
    admin = await forge_token(str(uuid.uuid4()), roles=("admin",))

    async def fetch(**filters) -> pb.GetErrorsResponse:
        return await stub.GetErrors(pb.GetErrorsRequest(service=service, **filters), metadata=bearer(admin))

    for _ in range(100):
        if (await fetch()).summary.total_errors == 3:
            break
        await asyncio.sleep(0.1)
    report = await fetch()
    assert report.summary.total_errors == 3
    assert dict(report.summary.by_severity) == {"error": 2, "critical": 1}
    assert dict(report.summary.by_service) == {service: 3}
    groups = {(g.severity, g.message): g for g in report.errors}
    provider = groups[("error", "provider failed")]
    assert provider.count == 2 and provider.error_type == "UNAVAILABLE"
    assert provider.first_seen.ToDatetime() <= provider.last_seen.ToDatetime()
    assert report.pagination.total == 2

    critical = await fetch(severity="critical")
    assert critical.summary.total_errors == 1 and [g.message for g in critical.errors] == ["db down"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await fetch(severity="fatal")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_health_is_public_and_checks_every_service_live(stub) -> None:
    report = await stub.GetHealth(pb.GetHealthRequest())
    services = {s.name: s for s in report.services}
    assert {"auth", "analytics", "postgres", "redis"} <= set(services)
    for name in ("auth", "analytics", "postgres", "redis"):
        assert services[name].status == "healthy" and services[name].latency_ms > 0, services[name]
    assert report.status in {"healthy", "degraded"}
    assert 0 <= report.metrics.memory <= 100 and 0 <= report.metrics.disk <= 100
    assert report.timestamp.seconds > 0


async def test_dashboard_counts_today_trends_and_top_users(stub, forge_token, db) -> None:
    admin = await forge_token(str(uuid.uuid4()), roles=("admin",))
    heavy, light = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    before = await stub.GetDashboard(pb.GetDashboardRequest(), metadata=bearer(admin))
    for _ in range(3):
        await domain_event(db, "task.completed", heavy, now)
    await domain_event(db, "ai.request.received", heavy, now)
    await domain_event(db, "task.created", light, now)
    await consumed_so_far(db)
    board = await stub.GetDashboard(pb.GetDashboardRequest(top_users_limit=50), metadata=bearer(admin))
    assert board.summary.task_completed - before.summary.task_completed == 3
    assert board.summary.task_created - before.summary.task_created == 1
    assert board.summary.system_health in {"healthy", "degraded"}
    top = {u.user_id: u for u in board.top_users}
    assert (top[heavy].event_count, top[heavy].tasks_completed, top[heavy].ai_requests) == (4, 3, 1)
    # Busiest first (other tests' users may outrank both, so compare counts, not positions).
    counts = [u.event_count for u in board.top_users]
    assert counts == sorted(counts, reverse=True)
    assert light not in top or top[light].event_count == 1

    # Trends compare today so far with yesterday (only this test writes code reviews).
    for _ in range(2):
        await domain_event(db, "code.review.completed", light, now - timedelta(days=1))
    for _ in range(3):
        await domain_event(db, "code.review.completed", light, now)
    await consumed_so_far(db)
    board = await stub.GetDashboard(pb.GetDashboardRequest(), metadata=bearer(admin))
    assert board.summary.code_reviews == 3
    assert board.trends.code_reviews == 50.0  # 3 today vs 2 yesterday
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetDashboard(pb.GetDashboardRequest(period="year"), metadata=bearer(admin))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_clients_cannot_forge_domain_events_or_rewrite_the_past(stub, forge_token, db) -> None:
    admin = await forge_token(str(uuid.uuid4()), roles=("admin",))
    developer_id = str(uuid.uuid4())
    developer = await forge_token(developer_id, roles=("developer",))
    before = await stub.GetDashboard(pb.GetDashboardRequest(), metadata=bearer(admin))
    reply = await stub.RecordEvent(
        pb.RecordEventRequest(event_type="task.completed"), metadata=bearer(developer)
    )
    assert reply.event_type == "client.task.completed"  # its own namespace
    for when in (datetime.now(UTC) - timedelta(hours=25), datetime(2020, 1, 1, tzinfo=UTC)):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await record(stub, developer, "task.completed", when)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "timestamp" in rich_error(raised.value).field_violations
    await consumed_so_far(db)
    after = await stub.GetDashboard(pb.GetDashboardRequest(), metadata=bearer(admin))
    assert after.summary.task_completed == before.summary.task_completed
    stored = await db.fetchval(
        "SELECT event_type FROM analytics.events WHERE id = $1", uuid.UUID(reply.event_id)
    )
    assert stored == "client.task.completed"
