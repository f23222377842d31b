"""Server streams over REST through a real Envoy, read by a bare HTTP/1.1 client as the bytes
arrive: Server-Sent Events when the request's Accept names text/event-stream, newline-delimited
JSON otherwise; each message is sent when the server sends it (not when the stream ends), and a
mid-stream error reaches the client as the chunked encoding's trailers (grpc-status,
grpc-message) after the messages sent before it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.edge.conftest import Edge
from tests.edge.fake_auth import WATCH_FAIL, WATCH_FAILURE, WATCH_HOLD
from tests.edge.http1 import http1

SSE = "text/event-stream"
WATCH_PATHS = ("/api/v1/edgetest/things:watch", "/api/v1/edgetest/watch")  # both bindings

# The Accept headers a client may send, and the framing each one gets.
ACCEPTS = [
    pytest.param({"accept": SSE}, SSE, id="sse"),
    pytest.param({"accept": "application/json, Text/Event-Stream;q=0.5"}, SSE, id="sse-among-others"),
    pytest.param({"accept": "application/json"}, "application/json", id="ndjson"),
    pytest.param({}, "application/json", id="ndjson-no-accept"),
]


def _headers(edge: Edge, accept: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {edge.key.token()}", **accept}


def _ids(messages: list[Any]) -> list[str]:
    return [m["id"] for m in messages]


@pytest.mark.parametrize("path", WATCH_PATHS)
@pytest.mark.parametrize(("accept", "content_type"), ACCEPTS)
def test_a_stream_is_framed_by_accept_and_ends_cleanly(
    edge: Edge, path: str, accept: dict[str, str], content_type: str
) -> None:
    with http1(edge.port) as exchange:
        exchange.send("GET", path, _headers(edge, accept))
        assert exchange.status == 200
        assert exchange.headers["content-type"] == content_type
        assert exchange.headers["transfer-encoding"] == "chunked"
        body = b"".join(exchange.chunks())
        # A clean end: the stream's OK status as trailers (HTTP/1.1 enable_trailers).
        assert exchange.trailers.get("grpc-status") == "0", exchange.trailers
    things = [{"id": str(i), "name": "", "displayName": f"Thing {i}"} for i in range(3)]
    if content_type == SSE:
        assert body == b"".join(
            b"data: " + json.dumps(t, separators=(",", ":")).encode() + b"\n\n" for t in things
        )
    else:
        assert [json.loads(line) for line in body.splitlines()] == things


@pytest.mark.parametrize(("accept", "content_type"), ACCEPTS[::2])
def test_each_message_arrives_while_the_stream_is_still_open(
    edge: Edge, accept: dict[str, str], content_type: str
) -> None:
    """The server holds the stream after Thing 0 until the test has read it: had Envoy buffered
    the stream, the first message would never come."""
    watch = uuid.uuid4().hex
    gate = edge.servicer.gates[watch]
    with http1(edge.port) as exchange:
        exchange.send("GET", f"{WATCH_PATHS[0]}?id={watch}&name={WATCH_HOLD}", _headers(edge, accept))
        assert exchange.headers["content-type"] == content_type
        messages = exchange.messages()
        assert next(messages)["id"] == "0"
        assert not gate.is_set() and not exchange.ended
        gate.set()
        assert _ids(list(messages)) == ["1", "2"]
        assert exchange.trailers.get("grpc-status") == "0"


@pytest.mark.parametrize(("accept", "content_type"), ACCEPTS[::2])
def test_a_mid_stream_error_reaches_the_client_as_trailers(
    edge: Edge, accept: dict[str, str], content_type: str
) -> None:
    with http1(edge.port) as exchange:
        exchange.send("GET", f"{WATCH_PATHS[0]}?name={WATCH_FAIL}", _headers(edge, accept))
        # The 200 and the messages before the error are already sent when it happens.
        assert exchange.status == 200 and exchange.headers["content-type"] == content_type
        assert _ids(list(exchange.messages())) == ["0", "1"]
    assert exchange.trailers["grpc-status"] == "14"  # UNAVAILABLE
    assert exchange.trailers["grpc-message"] == WATCH_FAILURE


def test_an_error_before_the_first_event_is_a_json_status(edge: Edge) -> None:
    with http1(edge.port) as exchange:
        exchange.send("GET", WATCH_PATHS[0], {"accept": SSE})  # no token
        assert exchange.status == 401
        assert exchange.headers["content-type"] == "application/json"
        body = json.loads(b"".join(exchange.chunks()))
    assert body["code"] == 16 and body["message"]
