"""Publishing domain events through the transactional outbox.

`publish(conn, ...)` must be called inside the transaction that makes the state
change: the event exists if and only if the change commits. A relay (the event
backbone) delivers outbox rows to the bus.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from aether.events.v1 import event_pb2
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from opentelemetry import propagate

from servers.platform.context import principal_var, request_id

MIGRATIONS = Path(__file__).with_name("migrations")


async def publish(
    conn: asyncpg.Connection, *, event_type: str, source: str, subject: str, payload: Message
) -> str:
    """Write one event to the outbox; returns its id."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the current trace continues in the consumer
    principal = principal_var.get()
    packed = any_pb2.Any()
    packed.Pack(payload)
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    event = event_pb2.Event(
        id=str(uuid.uuid4()),
        type=event_type,
        source=source,
        time=now,
        subject=subject,
        request_id=request_id(),
        traceparent=carrier.get("traceparent", ""),
        tracestate=carrier.get("tracestate", ""),
        actor_id=principal.user_id if principal else "",
        payload=packed,
    )
    await conn.execute(
        "INSERT INTO platform.outbox (id, event_type, source, subject, payload) VALUES ($1, $2, $3, $4, $5)",
        uuid.UUID(event.id),
        event_type,
        source,
        subject,
        event.SerializeToString(),
    )
    return event.id
