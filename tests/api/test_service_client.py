"""Service-to-service calls through the platform client (servers/platform/clients.py),
between real in-process grpc.aio servers built by the platform runtime:

- domain A (serving RagService) calls domain B (serving TaskService): B sees
  the original user, the same request id, one trace and a deadline that
  shrank instead of resetting;
- only RPCs marked idempotent are retried on UNAVAILABLE (attempts counted on
  bare test servers answering UNAVAILABLE);
- background work acts with a service identity on behalf of a user: B sees
  that user as Principal.user_id, and the service's name;
- a service identity cannot be had without the service credential (natively
  and through Envoy), and a service token is refused at the edge.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import jwt
import pytest
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from aether.auth.v1 import service_tokens_service_pb2 as st_pb2
from aether.auth.v1 import service_tokens_service_pb2_grpc as st_grpc
from aether.rag.v1 import document_pb2, rag_service_pb2, rag_service_pb2_grpc
from aether.tasks.v1 import task_pb2, tasks_service_pb2, tasks_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from servers.platform.clients import ServiceClients, acting_as, idempotent_methods
from servers.platform.context import current_principal, request_id
from servers.platform.identity import SERVICE_CREDENTIAL_METADATA, service_credential
from servers.platform.runtime import Domain, Mount, Resources, Server, Service
from servers.platform.settings import PlatformSettings
from tests.helpers import STRONG_PASSWORD, bearer, unique_email

SECRET = os.environ["AETHER_SECRET_KEY"]


@dataclass
class Seen:
    """What B observed of one call."""

    user_id: str
    service: str
    permissions: frozenset[str]
    token_id: str
    request_id: str
    traceparent: str
    time_remaining: float | None


@dataclass
class Calls:
    seen_by_b: list[Seen] = field(default_factory=list)
    a_remaining: list[float | None] = field(default_factory=list)


CALLS = Calls()


class TasksB(tasks_service_pb2_grpc.TaskServiceServicer):
    """Domain B: records who called, with what, and how much time it got."""

    async def GetTask(self, request: Any, context: grpc.aio.ServicerContext) -> task_pb2.Task:
        principal = current_principal()
        metadata = dict(context.invocation_metadata() or ())
        CALLS.seen_by_b.append(
            Seen(
                principal.user_id,
                principal.service,
                principal.permissions,
                principal.token_id,
                request_id(),
                str(metadata.get("traceparent", "")),
                context.time_remaining(),
            )
        )
        return task_pb2.Task(id=request.id, title=f"task of {principal.user_id}")


class RagA(rag_service_pb2_grpc.RagServiceServicer):
    """Domain A: answers GetDocument by asking B, through the platform client."""

    def __init__(self, clients: ServiceClients):
        self._tasks = clients.stub("aether.tasks.v1.TaskService", tasks_service_pb2_grpc.TaskServiceStub)

    async def GetDocument(self, request: Any, context: grpc.aio.ServicerContext) -> document_pb2.Document:
        await asyncio.sleep(0.2)  # some work before the call: the deadline must not reset
        CALLS.a_remaining.append(context.time_remaining())
        # An explicit timeout far beyond the caller's: the caller's remaining one wins.
        task = await self._tasks.GetTask(tasks_service_pb2.GetTaskRequest(id=request.id), timeout=60)
        return document_pb2.Document(id=request.id, title=task.title)


async def _build_b(res: Resources) -> Mount:
    return Mount(
        [
            Service(
                "aether.tasks.v1.TaskService",
                TasksB(),
                tasks_service_pb2_grpc.add_TaskServiceServicer_to_server,
            )
        ]
    )


async def _build_a(res: Resources) -> Mount:
    return Mount(
        [
            Service(
                "aether.rag.v1.RagService",
                RagA(res.clients),
                rag_service_pb2_grpc.add_RagServiceServicer_to_server,
            )
        ]
    )


@dataclass
class Domains:
    a: str
    b: str


@pytest.fixture(scope="module")
async def domains(auth_server: str) -> AsyncIterator[Domains]:
    """B, then A configured with B's address as TASKS_ADDR; both trust the shared auth service."""
    b = Server([Domain("b", _build_b, needs_database=False)], PlatformSettings(auth_addr=auth_server))
    b_port = await b.start()
    b_addr = f"127.0.0.1:{b_port}"
    a = Server(
        [Domain("a", _build_a, needs_database=False)],
        PlatformSettings(auth_addr=auth_server, tasks_addr=b_addr),
    )
    a_port = await a.start()
    yield Domains(f"127.0.0.1:{a_port}", b_addr)
    await a.stop()
    await b.stop()


@dataclass
class User:
    id: str
    token: str


@pytest.fixture(scope="module")
async def user(auth_channel: grpc.aio.Channel) -> User:
    stub = auth_service_pb2_grpc.AuthServiceStub(auth_channel)
    email = unique_email("svc")
    registered = await stub.Register(
        auth_service_pb2.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Svc")
    )
    login = await stub.Login(auth_service_pb2.LoginRequest(email=email, password=STRONG_PASSWORD))
    return User(registered.user_id, login.access_token)


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.seen_by_b.clear()
    CALLS.a_remaining.clear()


async def test_b_sees_the_user_the_request_id_one_trace_and_a_shrinking_deadline(
    domains: Domains, user: User, spans: Any
) -> None:
    tracer = trace.get_tracer("tests")
    async with grpc.aio.insecure_channel(domains.a, interceptors=aio_client_interceptors()) as channel:
        stub = rag_service_pb2_grpc.RagServiceStub(channel)
        with tracer.start_as_current_span("user opens a document") as root:
            document = await stub.GetDocument(
                rag_service_pb2.GetDocumentRequest(id="t-1"),
                metadata=(*bearer(user.token), ("x-request-id", "req-service-client-1")),
                timeout=5,
            )
    assert document.title == f"task of {user.id}"
    [seen] = CALLS.seen_by_b
    # The user's own token arrived: B's scoping sees the real user.
    assert (seen.user_id, seen.service) == (user.id, "")
    assert seen.request_id == "req-service-client-1"

    # One trace: B's server span descends from A's client span, in the root's trace.
    trace_id = root.get_span_context().trace_id
    assert seen.traceparent.split("-")[1] == format(trace_id, "032x")
    finished = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    servers = {s.name: s for s in finished if s.kind == trace.SpanKind.SERVER}
    assert set(servers) >= {"/aether.rag.v1.RagService/GetDocument", "/aether.tasks.v1.TaskService/GetTask"}
    b_span = servers["/aether.tasks.v1.TaskService/GetTask"]
    a_client = next(s for s in finished if s.kind == trace.SpanKind.CLIENT and s.name.endswith("/GetTask"))
    assert b_span.parent is not None and b_span.parent.span_id == a_client.context.span_id

    # The deadline: 5 s from the client, 0.2 s spent in A, 60 s asked for -> under 4.8 s in B.
    [a_remaining] = CALLS.a_remaining
    assert a_remaining is not None and seen.time_remaining is not None
    assert seen.time_remaining <= a_remaining < 4.85
    assert seen.time_remaining > 3


async def test_background_work_acts_on_behalf_of_the_user(
    domains: Domains, user: User, auth_server: str
) -> None:
    clients = ServiceClients(PlatformSettings(auth_addr=auth_server, tasks_addr=domains.b))
    try:
        tasks = clients.stub("tasks", tasks_service_pb2_grpc.TaskServiceStub)
        # No caller token here (as in an event consumer): without an identity, B refuses.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tasks.GetTask(tasks_service_pb2.GetTaskRequest(id="t-2"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        with acting_as("integrations", on_behalf_of=user.id, permissions=["tasks:read", "users:admin"]):
            first = await tasks.GetTask(tasks_service_pb2.GetTaskRequest(id="t-2"))
            await tasks.GetTask(tasks_service_pb2.GetTaskRequest(id="t-3"))
        assert first.title == f"task of {user.id}"
        one, two = CALLS.seen_by_b
        assert (one.user_id, one.service) == (user.id, "integrations")
        # The declared subset, never more than the user has (users:admin is not theirs).
        assert one.permissions == frozenset({"tasks:read"})
        assert one.token_id == two.token_id  # the service token is cached, not minted per call
    finally:
        await clients.close()


async def test_a_service_token_is_short_lived_and_internal(auth_server: str, user: User) -> None:
    async with grpc.aio.insecure_channel(auth_server) as channel:
        reply = await st_grpc.ServiceTokenServiceStub(channel).IssueServiceToken(
            st_pb2.IssueServiceTokenRequest(service="rag", on_behalf_of=user.id),
            metadata=((SERVICE_CREDENTIAL_METADATA, service_credential(SECRET, "rag")),),
        )
        claims = jwt.decode(reply.access_token, options={"verify_signature": False})
        assert claims["aud"] == "aether-internal" and claims["sub"] == "service:rag"
        assert claims["on_behalf_of"] == user.id and claims["exp"] - claims["iat"] == 300
        assert reply.expires_at.seconds == claims["exp"]
        # Natively the servers accept it, as the user it acts for.
        me = await auth_service_pb2_grpc.AuthServiceStub(channel).GetMe(
            auth_service_pb2.GetMeRequest(), metadata=bearer(reply.access_token)
        )
        assert me.id == user.id


async def _issue(channel: grpc.aio.Channel, user_id: str, credential: str | None) -> grpc.StatusCode:
    metadata = () if credential is None else ((SERVICE_CREDENTIAL_METADATA, credential),)
    try:
        await st_grpc.ServiceTokenServiceStub(channel).IssueServiceToken(
            st_pb2.IssueServiceTokenRequest(service="integrations", on_behalf_of=user_id),
            metadata=metadata,
            timeout=10,
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _refused_without_the_credential(address: str, user_id: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        assert await _issue(channel, user_id, None) == grpc.StatusCode.UNAUTHENTICATED
        assert await _issue(channel, user_id, "") == grpc.StatusCode.UNAUTHENTICATED
        assert await _issue(channel, user_id, "not-a-credential") == grpc.StatusCode.PERMISSION_DENIED
        # Another service's credential does not make you this one.
        other = service_credential(SECRET, "tasks")
        assert await _issue(channel, user_id, other) == grpc.StatusCode.PERMISSION_DENIED
        # A different deployment's secret derives different credentials.
        foreign = service_credential("A" * 43 + "=", "integrations")
        assert await _issue(channel, user_id, foreign) == grpc.StatusCode.PERMISSION_DENIED


async def test_no_service_identity_without_the_service_credential(auth_server: str, user: User) -> None:
    await _refused_without_the_credential(auth_server, user.id)


async def test_no_service_identity_through_the_edge_either(edge: str, user: User) -> None:
    await _refused_without_the_credential(edge.removeprefix("http://"), user.id)


async def test_the_edge_refuses_a_service_token(edge: str, auth_server: str, user: User) -> None:
    async with grpc.aio.insecure_channel(auth_server) as channel:
        reply = await st_grpc.ServiceTokenServiceStub(channel).IssueServiceToken(
            st_pb2.IssueServiceTokenRequest(service="integrations", on_behalf_of=user.id),
            metadata=((SERVICE_CREDENTIAL_METADATA, service_credential(SECRET, "integrations")),),
        )
    token = reply.access_token
    async with httpx.AsyncClient(base_url=edge, timeout=10) as http:
        assert (
            await http.get("/api/v1/auth/me", headers={"authorization": f"Bearer {user.token}"})
        ).status_code == 200
        refused = await http.get("/api/v1/auth/me", headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401, refused.text
    async with grpc.aio.insecure_channel(edge.removeprefix("http://")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as native:
            await auth_service_pb2_grpc.AuthServiceStub(channel).GetMe(
                auth_service_pb2.GetMeRequest(), metadata=bearer(token), timeout=10
            )
        assert native.value.code() == grpc.StatusCode.UNAUTHENTICATED


# --------------------------------------------------------------------------- retries


class Unavailable:
    """Bare servicers (no platform runtime) that count attempts and always answer UNAVAILABLE."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    async def fail(self, name: str, context: grpc.aio.ServicerContext) -> Any:
        self.attempts[name] = self.attempts.get(name, 0) + 1
        await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")


class FlakyHealth(health_pb2_grpc.HealthServicer):
    def __init__(self, counter: Unavailable):
        self._counter = counter

    async def Check(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._counter.fail("Health/Check", context)


class FlakyTasks(tasks_service_pb2_grpc.TaskServiceServicer):
    def __init__(self, counter: Unavailable):
        self._counter = counter

    async def GetTask(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._counter.fail("TaskService/GetTask", context)


class FlakyServiceTokens(st_grpc.ServiceTokenServiceServicer):
    def __init__(self, counter: Unavailable):
        self._counter = counter

    async def IssueServiceToken(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._counter.fail("ServiceTokenService/IssueServiceToken", context)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, Unavailable]]:
    counter = Unavailable()
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(FlakyHealth(counter), server)
    tasks_service_pb2_grpc.add_TaskServiceServicer_to_server(FlakyTasks(counter), server)
    st_grpc.add_ServiceTokenServiceServicer_to_server(FlakyServiceTokens(counter), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", counter
    await server.stop(0)


async def _fails_unavailable(call: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_retryable_set_comes_from_the_protos() -> None:
    marked = idempotent_methods()
    assert "aether.auth.v1.ServiceTokenService/IssueServiceToken" in marked
    assert "aether.auth.v1.AuthService/Login" not in marked
    assert "aether.tasks.v1.TaskService/CreateTask" not in marked


async def test_only_idempotent_rpcs_are_retried_on_unavailable(flaky: tuple[str, Unavailable]) -> None:
    address, counter = flaky
    clients = ServiceClients(PlatformSettings(service_call_max_attempts=3))
    try:
        # Not marked in its proto: tried once.
        tasks = clients.stub(address, tasks_service_pb2_grpc.TaskServiceStub)
        await _fails_unavailable(tasks.GetTask(tasks_service_pb2.GetTaskRequest(id="x"), timeout=5))
        assert counter.attempts["TaskService/GetTask"] == 1
        # Marked IDEMPOTENT in its proto: three attempts.
        tokens = clients.stub(address, st_grpc.ServiceTokenServiceStub)
        await _fails_unavailable(tokens.IssueServiceToken(st_pb2.IssueServiceTokenRequest(), timeout=5))
        assert counter.attempts["ServiceTokenService/IssueServiceToken"] == 3
        # grpc.health.v1 is not ours to annotate: by default tried once.
        health = clients.stub(address, health_pb2_grpc.HealthStub)
        await _fails_unavailable(health.Check(health_pb2.HealthCheckRequest(), timeout=5))
        assert counter.attempts["Health/Check"] == 1
    finally:
        await clients.close()

    # ... and retried once declared idempotent for the client.
    override = ServiceClients(PlatformSettings(), idempotent=["grpc.health.v1.Health/Check"])
    try:
        health = override.stub(address, health_pb2_grpc.HealthStub)
        await _fails_unavailable(health.Check(health_pb2.HealthCheckRequest(), timeout=5))
        assert counter.attempts["Health/Check"] == 1 + 3
    finally:
        await override.close()
