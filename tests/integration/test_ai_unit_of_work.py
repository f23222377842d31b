"""The AI gateway's unit of work against the real PostgreSQL: a ledger batch
commits its usage rows and exactly its events (prepared at request time, with
the request's context); a rolled-back batch writes neither, and the ledger's
retry then writes them once; SwitchModel commits through the same unit of work."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest
from aether.ai.v1 import events_pb2
from aether.events.v1 import event_pb2

from servers.ai import mapping
from servers.ai.catalog import Catalog, ModelSpec
from servers.ai.domain import LedgerEntry, RequestReceived, ResponseGenerated, Settlement
from servers.ai.ledger import Ledger
from servers.ai.main import unit_of_work
from servers.ai.store import AiQueries, AiRepository
from servers.ai.usecases.models import ModelCatalogue
from servers.platform.context import request_id_var
from servers.platform.uow import PostgresUnitOfWork, Transaction
from tests.helpers import acting_as, outbox_events


class NoSettlements:
    def __init__(self) -> None:
        self.settled: list[Settlement] = []

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        self.settled.extend(settlements)


def entry(rid: str, user: str, operation: str = "chat") -> LedgerEntry:
    return LedgerEntry(
        rid, user, operation, "gpt-4o-mini", "openai", finished_at=datetime.now(UTC), input_tokens=3
    )


def record(ledger: Ledger, rid: str, user: str, operation: str = "chat") -> None:
    """What a request does: enqueue its events (prepared now, in its context)."""
    token = request_id_var.set(f"http-{rid}")
    try:
        ledger.received(RequestReceived(rid, user, operation, "gpt-4o-mini", input_chars=5))
        ledger.finished(
            ResponseGenerated(entry(rid, user, operation)), Settlement(user, "gpt-4o-mini", None, 3, 0.0, 0)
        )
    finally:
        request_id_var.reset(token)


async def usage_rows(pool: asyncpg.Pool, rid: str) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM ai.usage WHERE request_id = $1", rid))


async def test_a_ledger_batch_commits_its_rows_and_exactly_its_events(pool: asyncpg.Pool) -> None:
    user, rid = f"uow-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    settler = NoSettlements()
    ledger = Ledger(unit_of_work(pool), settler)
    with acting_as(user):
        record(ledger, rid, user)
    await ledger.flush()
    await ledger.close()
    assert await outbox_events(pool, rid) == ["ai.request.received", "ai.response.generated"]
    assert await usage_rows(pool, rid) == 1 and len(settler.settled) == 1
    rows = await pool.fetch("SELECT payload FROM platform.outbox WHERE subject = $1", rid)
    envelopes = sorted((event_pb2.Event.FromString(r["payload"]) for r in rows), key=lambda e: e.type)
    # Written by the ledger's writer task, with the context of the request that prepared them.
    assert {(e.request_id, e.actor_id, e.source) for e in envelopes} == {(f"http-{rid}", user, "ai")}
    generated = events_pb2.AiResponseGenerated()
    envelopes[1].payload.Unpack(generated)  # sorted: ai.request.received, ai.response.generated
    assert (generated.request_id, generated.user_id, generated.tokens.input) == (rid, user, 3)


class FailsOnce(AiRepository):
    """Inserts the rows, then fails: the unit of work must roll them back."""

    failures = 1

    async def insert_entries(self, rows: Sequence[LedgerEntry]) -> None:
        await super().insert_entries(rows)
        if FailsOnce.failures:
            FailsOnce.failures -= 1
            raise ConnectionError("the database went away mid-batch")


async def test_a_rolled_back_batch_writes_nothing_and_its_retry_writes_once(pool: asyncpg.Pool) -> None:
    user, rid = f"uow-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    uow = PostgresUnitOfWork(pool, source="ai", repository=FailsOnce, to_event=mapping.to_event)
    ledger = Ledger(uow, NoSettlements(), retry_seconds=0.01)
    with acting_as(user):
        record(ledger, rid, user)
    await ledger.flush()
    await ledger.close()
    assert FailsOnce.failures == 0
    assert await outbox_events(pool, rid) == ["ai.request.received", "ai.response.generated"]
    assert await usage_rows(pool, rid) == 1


async def test_a_failing_unit_of_work_writes_no_event(pool: asyncpg.Pool) -> None:
    user, rid = f"uow-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    uow = unit_of_work(pool)
    with acting_as(user):
        prepared = uow.prepare(ResponseGenerated(entry(rid, user, operation="not-an-operation")))
    with pytest.raises(asyncpg.CheckViolationError):
        async with uow() as tx:
            tx.record(prepared)
            await tx.repo.insert_entries([entry(rid, user, operation="not-an-operation")])
    assert await outbox_events(pool, rid) == [] and await usage_rows(pool, rid) == 0


class Committed:
    """The real unit of work, keeping the events of each transaction that committed."""

    def __init__(self, uow: PostgresUnitOfWork[AiRepository]):
        self._uow = uow
        self.events: list[object] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Transaction[AiRepository]]:
        async with self._uow() as tx:
            yield tx
            recorded = list(tx.events)
        self.events.extend(recorded)


async def test_switch_model_commits_through_the_unit_of_work(pool: asyncpg.Pool) -> None:
    specs = [ModelSpec("uow-a", "A", "openai"), ModelSpec("uow-b", "B", "openai")]
    uow = Committed(unit_of_work(pool))
    models = ModelCatalogue(Catalog(specs), {"openai"}, None, None, AiQueries(pool), uow, "uow-a", {})
    user = f"uow-{uuid.uuid4().hex[:8]}"
    with acting_as(user):
        first = await models.switch_model("uow-b")
        again = await models.switch_model("uow-b")
        assert await models.current_model(user) == "uow-b"
    assert (first.previous, first.current, again.unchanged) == ("uow-a", "uow-b", True)
    assert uow.events == []  # a default model is no event
