"""What the request path's cuts keep (benchmarks/side_by_side.py measures them):
a pooled connection's release without asyncpg's reset query still ends an open
transaction, and a server making no spans still carries an incoming trace on."""

from __future__ import annotations

from typing import Any

from aether.events.v1 import event_pb2
from opentelemetry import context as otel_context
from opentelemetry import trace

from servers.platform import events
from servers.platform.context import request_id
from servers.platform.db import create_pool
from servers.platform.interceptors import begin_request


async def test_a_connection_released_inside_a_transaction_comes_back_without_it(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("CREATE TEMP TABLE left_open (x int) ON COMMIT DROP")
        async with pool.acquire() as conn:  # the same (only) connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await pool.close()


class _Context:
    """The part of grpc.aio.ServicerContext begin_request reads."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]):
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None


def _in_fresh_context(fn: Any) -> Any:
    token = otel_context.attach(otel_context.Context())
    try:
        return fn()
    finally:
        otel_context.detach(token)


def test_without_spans_an_incoming_traceparent_reaches_the_events() -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    context: Any = _Context((("traceparent", f"00-{trace_id}-{parent}-01"), ("x-request-id", "req-7")))

    def run() -> event_pb2.Event:
        begin_request(context, attach_trace=True)
        assert format(trace.get_current_span().get_span_context().trace_id, "032x") == trace_id
        assert request_id() == "req-7"
        return events.envelope(event_type="t.x", source="t", subject="s", payload=event_pb2.Event())

    event = _in_fresh_context(run)
    assert event.traceparent.split("-")[1:3] == [trace_id, parent]


def test_with_opentelemetry_in_front_the_traceparent_is_left_to_it() -> None:
    context: Any = _Context((("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),))

    def run() -> bool:
        begin_request(context, attach_trace=False)
        return trace.get_current_span().get_span_context().is_valid

    assert _in_fresh_context(run) is False
