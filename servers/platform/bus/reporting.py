"""Reporting errors as events ("analytics.error.reported", payload
aether.events.v1.ErrorReported), which the analytics service groups for
GetErrors. Any service may call `report_error` inside a transaction, like any
other event."""

from __future__ import annotations

from typing import Any

import asyncpg
from aether.events.v1 import error_reported_pb2, event_pb2
from google.protobuf import struct_pb2, timestamp_pb2
from opentelemetry import trace

from servers.platform import events
from servers.platform.context import principal_var, request_id

ERROR_EVENT = "analytics.error.reported"
SEVERITIES = ("warning", "error", "critical")


async def report_error(
    conn: asyncpg.Connection,
    *,
    service: str,
    severity: str,
    message: str,
    error_type: str,
    operation: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    """Publish an ErrorReported event (through the outbox); returns its id.
    `message` must not contain request-specific details, so that identical
    errors group together; the request id, trace id and user come from the
    current context."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    span = trace.get_current_span().get_span_context()
    principal = principal_var.get()
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    extra = struct_pb2.Struct()
    extra.update(details or {})
    payload = error_reported_pb2.ErrorReported(
        service=service,
        severity=severity,
        message=message,
        error_type=error_type,
        operation=operation,
        request_id=request_id(),
        trace_id=format(span.trace_id, "032x") if span.is_valid else "",
        user_id=principal.user_id if principal else "",
        details=extra,
        occurred_at=now,
    )
    return await events.publish(
        conn, event_type=ERROR_EVENT, source=service, subject=request_id(), payload=payload
    )


async def report_dead_letter(
    conn: asyncpg.Connection, consumer: str, event: event_pb2.Event, attempts: int, error: str
) -> None:
    """A consumer gave up on an event: tell analytics (never about its own error events)."""
    if event.type == ERROR_EVENT:
        return
    await report_error(
        conn,
        service=consumer,
        severity="error",
        message=f"event {event.type} dead-lettered after {attempts} attempts",
        error_type="DeadLetter",
        operation=f"consume {event.type}",
        details={"event_id": event.id, "last_error": error[:500]},
    )
