"""One trace spans the client, the server's interceptor chain and the event the
request emitted."""

from __future__ import annotations

import asyncpg
import grpc
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc
from aether.events.v1 import event_pb2
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from tests.helpers import STRONG_PASSWORD, unique_email


async def test_one_trace_from_client_through_server_into_the_outbox(auth_server, database_url, spans) -> None:
    email = unique_email("traced")
    tracer = trace.get_tracer("tests")
    async with grpc.aio.insecure_channel(auth_server, interceptors=aio_client_interceptors()) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        with tracer.start_as_current_span("user clicks register") as root:
            await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="T"))
    trace_id = root.get_span_context().trace_id

    finished = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    server_span = next(s for s in finished if s.kind == trace.SpanKind.SERVER)
    client_span = next(s for s in finished if s.kind == trace.SpanKind.CLIENT)
    assert server_span.name == "/aether.auth.v1.AuthService/Register"
    assert server_span.parent is not None and server_span.parent.span_id == client_span.context.span_id
    assert client_span.parent is not None and client_span.parent.span_id == root.get_span_context().span_id

    # The user.registered event carries the same trace to its consumers.
    conn = await asyncpg.connect(database_url)
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM platform.outbox WHERE event_type = 'user.registered'"
            " ORDER BY created_at DESC LIMIT 1"
        )
    finally:
        await conn.close()
    event = event_pb2.Event.FromString(payload)
    assert event.traceparent.split("-")[1] == format(trace_id, "032x")
    assert event.request_id and event.source == "auth"
