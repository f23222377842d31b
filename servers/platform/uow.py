"""Unit of Work: one connection and transaction, the domain's repository bound
to it, and the domain events the use case records on it.

    async with self._uow() as tx:
        task = await tx.repo.insert(...)
        tx.record(TaskCreated(task))

On a clean exit the recorded events are mapped to their `aether.<domain>.v1`
event protos (the domain's one `to_event` mapping) and written to the outbox in
the same transaction, so an event exists if and only if its change commits
(docs/events.md). An exception rolls everything back and writes no event.

Use cases depend on `UnitOfWork[R]` and on a repository Protocol `R` they own;
`PostgresUnitOfWork` is the real one, `InMemoryUnitOfWork` the unit-test fake
(cosmicpython's pattern; a factory rather than one shared object, because
concurrent RPCs each need their own transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aether.events.v1 import event_pb2
from google.protobuf.message import Message

from servers.platform import events

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class OutgoingEvent:
    """A domain event as it goes on the bus: CloudEvents type, subject, payload."""

    type: str
    subject: str
    payload: Message
    # The actor when the change has no caller (default: the caller).
    actor_id: str = ""


@dataclass(frozen=True)
class PreparedEvent:
    """A domain event already wrapped in its envelope, so it keeps the context
    (request id, caller, trace) of the moment it was prepared, for work that
    commits later and in batches (the AI usage ledger)."""

    envelope: Any  # aether.events.v1.Event


class Transaction(Generic[R_co]):
    """An open unit of work: its repository and the events recorded so far."""

    def __init__(self, repo: R_co):
        self._repo = repo
        self.events: list[object] = []

    @property
    def repo(self) -> R_co:
        """The domain's repository, bound to this transaction's connection."""
        return self._repo

    def record(self, *domain_events: object) -> None:
        """Publish these events (domain events or PreparedEvents) if, and only
        if, the transaction commits."""
        self.events.extend(domain_events)


class UnitOfWork(Protocol[R_co]):
    """What use cases depend on: `async with uow() as tx`."""

    def __call__(self) -> AbstractAsyncContextManager[Transaction[R_co]]: ...


class PostgresUnitOfWork(Generic[R]):
    """A transaction on a pooled connection; events go to `platform.outbox`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        source: str,
        repository: Callable[[asyncpg.Connection], R],
        to_event: Callable[[Any], OutgoingEvent],
    ):
        self._pool = pool
        self._source = source
        self._repository = repository
        self._to_event = to_event

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Transaction[R]]:
        envelopes: list[event_pb2.Event] = []
        async with self._pool.acquire() as conn, conn.transaction():
            tx = Transaction(self._repository(conn))
            yield tx
            if tx.events:
                envelopes = [self.prepare(e).envelope for e in tx.events]
                await events.insert(conn, *envelopes)
        if envelopes:
            events.committed(e.source for e in envelopes)

    def prepare(self, domain_event: object) -> PreparedEvent:
        """The event in its outbox envelope, with the current request's context."""
        if isinstance(domain_event, PreparedEvent):
            return domain_event
        out = self._to_event(domain_event)
        return PreparedEvent(
            events.envelope(
                event_type=out.type,
                source=self._source,
                subject=out.subject,
                payload=out.payload,
                actor_id=out.actor_id,
            )
        )


class InMemoryUnitOfWork(Generic[R]):
    """For use-case unit tests: the given (fake) repository, and `committed`
    holding the events of every transaction that exited cleanly. Rolled-back
    transactions record nothing; the fake repository's own writes are not undone."""

    def __init__(self, repo: R):
        self.repo = repo
        self.committed: list[object] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Transaction[R]]:
        tx = Transaction(self.repo)
        yield tx
        self.committed.extend(tx.events)
