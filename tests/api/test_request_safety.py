"""Requests every server refuses alike, whatever the RPC (servers/platform/request_checks.py):
strings with NUL characters and JSON nested too deeply are 400 / INVALID_ARGUMENT with a
field violation and a request id, through the real Envoy and over gRPC straight to the
server; never a 500 or library text."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from aether.analytics.v1 import analytics_service_pb2 as analytics_pb
from aether.auth.v1 import auth_service_pb2 as auth_pb
from aether.auth.v1 import auth_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc

from servers.platform.request_checks import MAX_JSON_DEPTH
from tests.helpers import STRONG_PASSWORD, bearer, rich_error, unique_email


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


def bad_request(body: dict[str, Any]) -> dict[str, str]:
    bad = next(d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    return {v.get("field", ""): v["description"] for v in bad["fieldViolations"]}


def request_id(body: dict[str, Any]) -> str:
    return str(next(d for d in body["details"] if d["@type"].endswith("RequestInfo"))["requestId"])


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "x" * 12}, "email"),
        (
            "/api/v1/auth/register",
            {"email": "nul@example.com", "password": STRONG_PASSWORD, "name": "Bad\u0000Name"},
            "name",
        ),
    ],
)
async def test_nul_in_a_public_rest_body_is_a_400_naming_the_field(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    r = await http.post(path, json=body)
    assert r.status_code == 400, r.text
    assert "U+0000" in bad_request(r.json())[field]
    assert request_id(r.json()) == r.headers["x-request-id"]


async def test_nul_in_nested_repeated_and_map_strings_is_refused_over_rest(
    http: httpx.AsyncClient, forge_token
) -> None:
    token = await forge_token(str(uuid.uuid4()))
    headers = {"authorization": f"Bearer {token}"}
    r = await http.post("/api/v1/tasks", headers=headers, json={"title": "ok", "tags": ["fine", "b\u0000d"]})
    assert r.status_code == 400, r.text
    assert "tags[1]" in bad_request(r.json())

    r = await http.post(
        "/api/v1/analytics/events",
        headers=headers,
        json={"eventType": "page.viewed", "metadata": {"outer": {"inner": ["x", "y\u0000"]}}},
    )
    assert r.status_code == 400, r.text
    assert any(f.startswith("metadata") for f in bad_request(r.json()))


async def test_nul_over_grpc_straight_to_the_server(auth_channel: grpc.aio.Channel, forge_token) -> None:
    auth = auth_service_pb2_grpc.AuthServiceStub(auth_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await auth.Login(auth_pb.LoginRequest(email=unique_email() + "\x00", password="x" * 12))
    error = rich_error(caught.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "email" in error.field_violations and error.request_id

    tasks = tasks_service_pb2_grpc.TaskServiceStub(auth_channel)
    token = await forge_token(str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tasks.CreateTask(
            tasks_pb.CreateTaskRequest(title="t", description="d\x00"), metadata=bearer(token)
        )
    assert rich_error(caught.value).field_violations.keys() == {"description"}


async def test_json_deeper_than_the_documented_depth_is_a_clean_400(
    http: httpx.AsyncClient, forge_token
) -> None:
    headers = {"authorization": f"Bearer {await forge_token(str(uuid.uuid4()))}"}
    ok = await http.post(
        "/api/v1/analytics/events",
        headers=headers,
        json={"eventType": "page.viewed", "metadata": nested(MAX_JSON_DEPTH - 1)},
    )
    assert ok.status_code == 200, ok.text
    for depth in (MAX_JSON_DEPTH + 1, 32, 40, 200):
        r = await http.post(
            "/api/v1/analytics/events",
            headers=headers,
            json={"eventType": "page.viewed", "metadata": nested(depth)},
        )
        assert r.status_code == 400, (depth, r.text)
        body = r.json()
        assert "upb" not in r.text and "DecodeError" not in r.text
        assert request_id(body) == r.headers["x-request-id"]
        if depth <= 32:  # deeper still, the edge's own JSON parser stops first ("Message too deep")
            assert bad_request(body) == {"metadata": f"nests JSON deeper than {MAX_JSON_DEPTH} levels"}


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def deep_record_event(depth: int) -> bytes:
    """RecordEventRequest bytes with `metadata` nested `depth` objects deep: too deep
    for the protobuf library to build, so encoded by hand."""
    struct = b""
    for _ in range(depth):
        value = _field(5, struct)  # Value.struct_value
        struct = _field(1, _field(1, b"k") + _field(2, value))  # Struct.fields entry
    return _field(1, b"page.viewed") + _field(3, struct)


async def test_deep_json_over_grpc_straight_to_the_server(
    auth_channel: grpc.aio.Channel, forge_token
) -> None:
    record = auth_channel.unary_unary(
        "/aether.analytics.v1.AnalyticsService/RecordEvent",
        request_serializer=lambda raw: raw,
        response_deserializer=analytics_pb.RecordEventResponse.FromString,
    )
    token = bearer(await forge_token(str(uuid.uuid4())))
    for depth in (MAX_JSON_DEPTH + 1, 60, 500):  # 60, 500: past the protobuf decoder's own limit
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await record(deep_record_event(depth), metadata=token)
        error = rich_error(caught.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.request_id, depth
        assert f"deeper than {MAX_JSON_DEPTH} levels" in error.message
        assert "upb" not in error.message
