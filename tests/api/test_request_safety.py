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

from servers.edge.local_replies import BODY_MESSAGE, EDGE_JSON_DEPTH, QUERY_MESSAGE
from servers.platform.errors import ERROR_DOMAIN
from servers.platform.request_checks import DEPTH_MESSAGE, MAX_JSON_DEPTH
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
    # `metadata` nested `depth` levels is a body of depth + 1 levels. Up to the protobuf
    # decoder's limit (100 message levels, 3 per JSON level) the server's walk names the field;
    # past it the decoder's failure is the server's violation on the whole request; past
    # EDGE_JSON_DEPTH Envoy's parser refuses the body before any server sees it.
    decoder_limit = 33
    for depth in (MAX_JSON_DEPTH + 1, decoder_limit, decoder_limit + 1, 60, EDGE_JSON_DEPTH - 1):
        r = await http.post(
            "/api/v1/analytics/events",
            headers=headers,
            json={"eventType": "page.viewed", "metadata": nested(depth)},
        )
        assert r.status_code == 400, (depth, r.text)
        body = r.json()
        assert "upb" not in r.text and "DecodeError" not in r.text and "too deep" not in r.text
        assert body["code"] == 3 and request_id(body) == r.headers["x-request-id"]
        if depth <= decoder_limit:
            assert bad_request(body) == {"metadata": DEPTH_MESSAGE}, depth
        else:
            assert bad_request(body) == {"": f"request is malformed or {DEPTH_MESSAGE}"}, depth
    for depth in (EDGE_JSON_DEPTH, EDGE_JSON_DEPTH + 1, 200, 2000):
        r = await http.post(
            "/api/v1/analytics/events",
            headers=headers | {"content-type": "application/json"},
            # Built as text: json.dumps recurses per level.
            content='{"eventType": "page.viewed", "metadata": '
            + '{"k": ' * (depth - 1)
            + '{"leaf": 1}'
            + "}" * depth,
        )
        assert_edge_refused_the_body(r)
        assert "too deep" in parser_message(r.json())


def parser_message(body: dict[str, Any]) -> str:
    info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
    return str(info["metadata"]["parserMessage"])


def assert_edge_refused_the_body(r: httpx.Response, message: str = BODY_MESSAGE) -> None:
    """The platform's Status for a request Envoy's transcoder could not read: INVALID_ARGUMENT, a
    field violation on the request, the request id; the parser's own words only in ErrorInfo."""
    assert r.status_code == 400 and r.headers["content-type"] == "application/json", r.text
    body = r.json()
    assert body["code"] == 3 and body["message"] == message
    assert bad_request(body) == {"": message}
    assert request_id(body) == r.headers["x-request-id"]
    info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "VALIDATION_ERROR" and info["domain"] == ERROR_DOMAIN
    assert parser_message(body)  # what Envoy's parser said, for whoever debugs it


@pytest.mark.parametrize(
    "raw",
    [
        '{"eventType": "page.viewed", ',  # cut off
        '{"eventType": 5}',  # a number for a string
        '{"eventType": "page.viewed", "metadata": "not an object"}',
        "[1, 2]",
    ],
)
async def test_a_body_the_edge_cannot_read_is_the_platforms_400(
    http: httpx.AsyncClient, forge_token, raw: str
) -> None:
    headers = {
        "authorization": f"Bearer {await forge_token(str(uuid.uuid4()))}",
        "content-type": "application/json",
    }
    assert_edge_refused_the_body(await http.post("/api/v1/analytics/events", headers=headers, content=raw))


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
    # Every depth from the server's own limit up past the protobuf decoder's (about 33 JSON levels:
    # 3 message levels each, of its 100): the walk's violation, then the decoder's failure.
    for depth in (*range(MAX_JSON_DEPTH + 1, 40), 60, 500):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await record(deep_record_event(depth), metadata=token)
        error = rich_error(caught.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.request_id, depth
        assert f"deeper than {MAX_JSON_DEPTH} levels" in error.message
        assert "upb" not in error.message


async def test_a_query_string_the_edge_cannot_read_is_the_platforms_400(
    http: httpx.AsyncClient, forge_token
) -> None:
    headers = {"authorization": f"Bearer {await forge_token(str(uuid.uuid4()))}"}
    r = await http.get("/api/v1/tasks", params={"staus": "done"}, headers=headers)  # misspelt
    assert_edge_refused_the_body(r, QUERY_MESSAGE)
    assert "staus" in parser_message(r.json())


async def test_unknown_body_fields_are_dropped_at_the_edge(http: httpx.AsyncClient, forge_token) -> None:
    """Envoy's transcoder cannot refuse them (docs/security.md): its JSON-to-protobuf writer
    always ignores unknown fields, and what it drops never reaches a server, so none can
    check. The call is served as if they were absent; a misspelt required field is still a
    400 naming the real one."""
    headers = {"authorization": f"Bearer {await forge_token(str(uuid.uuid4()))}"}
    r = await http.post(
        "/api/v1/tasks", headers=headers, json={"title": "typo", "priorty": "high", "extra": {"a": [1]}}
    )
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["title"] == "typo" and task["priority"] != "high"
    assert "priorty" not in task and "extra" not in task
    r = await http.post("/api/v1/tasks", headers=headers, json={"titel": "typo"})
    assert r.status_code == 400 and "title" in bad_request(r.json()), r.text
