"""Errors made by Envoy itself carry what a server's errors carry: ErrorInfo (reason, the
platform's ERROR_DOMAIN) and RequestInfo (the response's x-request-id), over REST and native gRPC;
gRPC reflection, unknown methods and contract-only services are answered at once."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from servers.platform.errors import ERROR_DOMAIN
from tests.edge.conftest import RealEdge
from tests.helpers import rich_error


def _rest_error(r: httpx.Response, status: int, code: int, reason: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["message"]
    info = {d["@type"].rsplit(".", 1)[-1]: d for d in body["details"]}
    assert info["ErrorInfo"]["reason"] == reason and info["ErrorInfo"]["domain"] == ERROR_DOMAIN
    assert info["RequestInfo"]["requestId"] == r.headers["x-request-id"]
    return body


def _grpc_error(error: grpc.aio.AioRpcError, code: grpc.StatusCode, reason: str) -> str:
    rich = rich_error(error)
    assert rich.code == code, rich
    assert rich.reason == reason, rich
    metadata = dict(error.trailing_metadata() or ())
    assert rich.request_id and rich.request_id == metadata["x-request-id"]
    return rich.message


@pytest.fixture(scope="module")
async def auth_only_edge(app_server: tuple[str, list[str]], start_edge: Any) -> RealEdge:
    """An edge that routes only the auth services: every other service is a contract here."""
    address, services = app_server
    edge: RealEdge = await start_edge({s: address for s in services if s.startswith("aether.auth.")})
    return edge


async def test_rest_errors_of_the_edge_carry_error_info(default_edge: RealEdge, forge_token: Any) -> None:
    token = await forge_token("user-edge-errors")
    async with default_edge.client() as c:
        _rest_error(await c.get("/api/v1/tasks"), 401, 16, "UNAUTHENTICATED")
        bad = {"authorization": f"Bearer {token[:-4]}AAAA"}
        _rest_error(await c.get("/api/v1/tasks", headers=bad), 401, 16, "UNAUTHENTICATED")
        wrong_audience = {"authorization": f"Bearer {await forge_token('u', aud='other')}"}
        _rest_error(await c.get("/api/v1/tasks", headers=wrong_audience), 401, 16, "UNAUTHENTICATED")
        _rest_error(await c.get("/api/v1/no-such-thing"), 404, 5, "NOT_FOUND")


async def test_native_grpc_errors_of_the_edge_carry_error_info(
    default_edge: RealEdge, forge_token: Any
) -> None:
    token = await forge_token("user-edge-errors")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{default_edge.port}") as channel:
        stub = tasks_grpc.TaskServiceStub(channel)
        for metadata in ((), (("authorization", f"Bearer {token[:-4]}AAAA"),)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListTasks(tasks_pb.ListTasksRequest(), metadata=metadata, timeout=10)
            _grpc_error(refused.value, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await channel.unary_unary("/aether.tasks.v1.TaskService/NoSuchMethod")(b"", timeout=10)
        _grpc_error(refused.value, grpc.StatusCode.UNIMPLEMENTED, "NOT_FOUND")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            big = tasks_pb.CreateTaskRequest(title="x" * 2_000_000)
            await stub.CreateTask(big, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        _grpc_error(refused.value, grpc.StatusCode.RESOURCE_EXHAUSTED, "VALIDATION_ERROR")


async def test_a_contract_only_service_is_unimplemented_and_says_so(auth_only_edge: RealEdge) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_only_edge.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tasks_grpc.TaskServiceStub(channel).ListTasks(tasks_pb.ListTasksRequest(), timeout=10)
    message = _grpc_error(refused.value, grpc.StatusCode.UNIMPLEMENTED, "NOT_CONFIGURED")
    assert message == "aether.tasks.v1.TaskService is only a contract: this deployment does not serve it"
    async with auth_only_edge.client() as c:
        _rest_error(await c.get("/api/v1/tasks"), 404, 5, "NOT_FOUND")


async def test_reflection_through_the_edge_is_answered_at_once(default_edge: RealEdge) -> None:
    """grpcurl list on the public port: UNIMPLEMENTED (use the descriptor set), not a hang."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{default_edge.port}") as channel:
        for method in (
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ):
            call = channel.stream_stream(
                method,
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
                # No request message: Envoy answers before reading any, and a message still being sent
                # when its reply resets the stream is gRPC core's INTERNAL race, not the edge's answer.
            )(iter(()), timeout=30)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in call:
                    pass
            message = _grpc_error(refused.value, grpc.StatusCode.UNIMPLEMENTED, "NOT_CONFIGURED")
            assert "-protoset gen/descriptors/aether.binpb" in message
    assert reflection_pb2_grpc  # the generated stub names the same methods
