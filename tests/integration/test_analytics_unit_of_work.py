"""The analytics unit of work against the real PostgreSQL: a committed
RecordEvent writes exactly its event (row, rollups, analytics.metric.recorded),
a repeated idempotency key or an exception inside writes none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from servers.analytics.domain import MetricRecorded, RecordedEvent, ServiceHealth, SystemMetrics
from servers.analytics.main import unit_of_work
from servers.analytics.queries import AnalyticsQueries
from servers.analytics.usecases import AnalyticsUseCases
from tests.helpers import acting_as, outbox_events


class NoHealth:
    async def check(self) -> list[ServiceHealth]:
        return []

    def metrics(self) -> SystemMetrics:
        return SystemMetrics(0.0, 0.0, 0.0)


@pytest.fixture
def analytics(pool: asyncpg.Pool) -> AnalyticsUseCases:
    return AnalyticsUseCases(unit_of_work(pool), AnalyticsQueries(pool), NoHealth())


async def _stored(pool: asyncpg.Pool, event_id: str) -> int:
    query = "SELECT count(*) FROM analytics.events WHERE id = $1"
    return int(await pool.fetchval(query, uuid.UUID(event_id)))


async def test_a_committed_record_writes_exactly_its_event(analytics: AnalyticsUseCases, pool) -> None:
    user = f"uow-{uuid.uuid4()}"
    when = datetime.now(UTC) - timedelta(hours=1)  # the user is new, so their counts are exact
    with acting_as(user):
        event_id = await analytics.record("page.viewed", "", {"page": "/x"}, when, request_id())
    assert await _stored(pool, event_id) == 1
    assert await outbox_events(pool, event_id) == ["analytics.metric.recorded"]
    hourly = await pool.fetchval(
        "SELECT count FROM analytics.usage_hourly WHERE user_id = $1 AND event_type = 'client.page.viewed'",
        user,
    )
    assert hourly == 1


async def test_a_repeated_idempotency_key_writes_nothing(analytics: AnalyticsUseCases, pool) -> None:
    user, key = f"uow-{uuid.uuid4()}", request_id()
    with acting_as(user):
        first = await analytics.record("page.viewed", "", {}, None, key)
        again = await analytics.record("page.viewed", "", {}, None, key)
    assert again == first
    assert await pool.fetchval("SELECT count(*) FROM analytics.events WHERE user_id = $1", user) == 1
    # Every event this user caused carries their id in its envelope (actor_id).
    caused = await pool.fetch(
        "SELECT event_type, subject FROM platform.outbox WHERE position($1::bytea IN payload) > 0",
        user.encode(),
    )
    assert [(r["event_type"], r["subject"]) for r in caused] == [("analytics.metric.recorded", first)]


async def test_an_exception_inside_writes_no_row_and_no_event(pool) -> None:
    uow = unit_of_work(pool)
    event = RecordedEvent(str(uuid.uuid4()), "page.viewed", "uow-raiser", "client", datetime.now(UTC))
    with acting_as("uow-raiser"), pytest.raises(RuntimeError):
        async with uow() as tx:
            assert await tx.repo.claim_request("uow-raiser", request_id(), event.id) is None
            assert await tx.repo.insert_event(event)
            tx.record(MetricRecorded(event))
            raise RuntimeError("boom")
    assert await _stored(pool, event.id) == 0
    assert await outbox_events(pool, event.id) == []
    claims = await pool.fetchval(
        "SELECT count(*) FROM analytics.record_requests WHERE event_id = $1", uuid.UUID(event.id)
    )
    assert claims == 0


def request_id() -> str:
    return uuid.uuid4().hex
