"""One trace spans the client, the server's interceptor chain and the event the
request emitted; with the edge's tracer on, it starts at Envoy (a real one, exporting
to an in-process OTLP/HTTP receiver) and runs through the service into its calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc
from aether.events.v1 import event_pb2
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from servers.devtools.codegen import DESCRIPTOR
from servers.edge import EdgeSettings, write_bootstrap
from tests.edge.envoy_runner import IN_PROCESS_HEALTH_CHECK_TIMEOUT, free_port, running_envoy
from tests.helpers import STRONG_PASSWORD, unique_email
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver


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
    event = await _latest_registration(database_url)
    assert event.traceparent.split("-")[1] == format(trace_id, "032x")
    assert event.request_id and event.source == "auth"


async def _latest_registration(database_url: str) -> event_pb2.Event:
    conn = await asyncpg.connect(database_url)
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM platform.outbox WHERE event_type = 'user.registered'"
            " ORDER BY created_at DESC LIMIT 1"
        )
    finally:
        await conn.close()
    return event_pb2.Event.FromString(payload)


@pytest.fixture(scope="module")
async def traced_edge(
    app_server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, OtlpReceiver]]:
    """A real Envoy in front of the shared server with its tracer on, exporting to a receiver."""
    workdir = tmp_path_factory.mktemp("traced-edge")
    address, services = app_server
    port = free_port()
    with otlp_receiver() as receiver:
        settings = EdgeSettings(
            listen_port=port,
            upstreams=dict.fromkeys(services, address),
            access_log_path=str(workdir / "access.log"),
            health_check_timeout_seconds=IN_PROCESS_HEALTH_CHECK_TIMEOUT,
            otlp_endpoint=receiver.endpoint,
            trace_flush_seconds=0.1,
        )
        config = write_bootstrap(DESCRIPTOR, settings, workdir / "envoy.json")
        base = f"http://127.0.0.1:{port}"
        with running_envoy(config, workdir) as proc:
            async with httpx.AsyncClient() as client:
                for _ in range(300):
                    assert proc.poll() is None, (workdir / "envoy.log").read_text()[-2000:]
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base}/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise TimeoutError("envoy did not become ready")
            yield base, receiver


def _server_span(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    return next(s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER and s.name == name)


async def _envoy_span(receiver: OtlpReceiver, trace_id: int, parent: bytes = b"") -> trace_pb2.Span:
    """The edge's span of the client's request: in `trace_id`, a child of `parent` (b"": the
    trace's root). Other edge spans can share the trace, e.g. Envoy's own JWKS fetch."""

    def match(received: ReceivedSpan) -> bool:
        span = received.span
        return (
            received.service == "aether-edge"
            and span.trace_id == trace_id.to_bytes(16, "big")
            and span.parent_span_id == parent
        )

    span = (await receiver.wait_for(match)).span
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    return span


def _parent_id(span: ReadableSpan) -> int:
    assert span.parent is not None
    return span.parent.span_id


async def test_one_trace_from_envoy_through_the_server_into_the_outbox(
    traced_edge: tuple[str, OtlpReceiver], spans: InMemorySpanExporter, database_url: str
) -> None:
    base, receiver = traced_edge
    request_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email("edge-traced"), "password": STRONG_PASSWORD, "name": "T"},
            headers={"x-request-id": request_id},
        )
    assert r.status_code == 200, r.text
    # Envoy's sampling decision is not written into the client's request id.
    assert r.headers["x-request-id"] == request_id

    server = _server_span(spans, "/aether.auth.v1.AuthService/Register")
    trace_id = server.context.trace_id
    envoy = await _envoy_span(receiver, trace_id)
    assert not envoy.parent_span_id  # the trace starts at the edge
    assert _parent_id(server) == int.from_bytes(envoy.span_id, "big")
    event = await _latest_registration(database_url)
    assert event.traceparent.split("-")[1] == format(trace_id, "032x")
    assert event.request_id == request_id


async def test_envoy_continues_the_clients_trace(
    traced_edge: tuple[str, OtlpReceiver], spans: InMemorySpanExporter
) -> None:
    base, receiver = traced_edge
    trace_id, client_span = int.from_bytes(os.urandom(16), "big"), os.urandom(8)
    traceparent = f"00-{trace_id:032x}-{client_span.hex()}-01"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.get("/.well-known/jwks.json", headers={"traceparent": traceparent})
    assert r.status_code == 200, r.text

    server = _server_span(spans, "/aether.auth.v1.AuthService/GetJwks")
    assert server.context.trace_id == trace_id
    envoy = await _envoy_span(receiver, trace_id, parent=client_span)
    assert _parent_id(server) == int.from_bytes(envoy.span_id, "big")


async def test_the_trace_runs_on_into_service_to_service_calls(
    traced_edge: tuple[str, OtlpReceiver], spans: InMemorySpanExporter
) -> None:
    """Tasks asks auth whether the assignee is active: that call is in the edge's trace too."""
    base, receiver = traced_edge
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        email = unique_email("edge-traced")
        registered = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "T"}
        )
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
        spans.clear()
        r = await client.post(
            "/api/v1/tasks",
            json={"title": "Traced", "assignee": registered.json()["userId"]},
            headers={"authorization": f"Bearer {login.json()['accessToken']}"},
        )
    assert r.status_code == 200, r.text

    find_users = "/aether.auth.v1.UserDirectoryService/FindUsers"
    create = _server_span(spans, "/aether.tasks.v1.TaskService/CreateTask")
    lookup = _server_span(spans, find_users)
    call = next(
        s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT and s.name == find_users
    )
    envoy = await _envoy_span(receiver, create.context.trace_id)
    assert _parent_id(create) == int.from_bytes(envoy.span_id, "big")
    assert lookup.context.trace_id == call.context.trace_id == create.context.trace_id
    assert _parent_id(call) == create.context.span_id
    assert _parent_id(lookup) == call.context.span_id
