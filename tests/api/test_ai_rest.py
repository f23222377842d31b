"""AiService as REST/JSON through a real Envoy (generated config) in front of
the shared server, whose AI providers are the local fakes: the spec's payloads
and JSON names, the NDJSON stream, models, switching, usage, embeddings, error
bodies (google.rpc.Status JSON) and the per-user rate limit's 429.

Note on X-RateLimit-* headers: the gateway sets them per user and model, and
Envoy's own local rate limiter (per route) adds its draft-03 headers too, so a
REST client receives two values per header (the gateway's first), e.g.
`X-RateLimit-Limit: 30, 600`. The tests look for the gateway's value among them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from servers.ai.providers.local import _load as load_local_model
from tests.edge.http1 import http1
from tests.fakes.ai_providers import FakeProviders, Fault

GROQ = "llama-3.3-70b-versatile"  # alias "groq", the shared server's default; 30 requests/minute
GROQ_RPM = 30


class Caller:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str):
        self.http, self.id = http, user_id
        self.headers = {"authorization": f"Bearer {token}"}

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/ai{path}", json=body, headers=self.headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/v1/ai{path}", params=params, headers=self.headers)

    async def chat(self, message: str = "hello gateway", **fields: Any) -> dict[str, Any]:
        r = await self.post("/chat", {"message": message} | fields)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=20) as client:
        yield client


@pytest.fixture
async def caller(http: httpx.AsyncClient, forge_token, fake_ai: FakeProviders) -> Caller:
    """A fresh user (own limits, cache, usage and default model)."""
    user = str(uuid.uuid4())
    return Caller(http, user, await forge_token(user))


@pytest.fixture
async def admin(http: httpx.AsyncClient, forge_token) -> Caller:
    user = str(uuid.uuid4())
    return Caller(http, user, await forge_token(user, roles=("admin",)))


def header_values(r: httpx.Response, name: str) -> list[str]:
    return r.headers.get_list(name, split_commas=True)


def detail(r: httpx.Response, kind: str) -> dict[str, Any] | None:
    """The google.rpc detail of that type (e.g. "BadRequest") in a JSON error body."""
    for d in r.json().get("details", []):
        if d["@type"] == f"type.googleapis.com/google.rpc.{kind}":
            return dict(d)
    return None


def violations(r: httpx.Response) -> dict[str, str]:
    bad = detail(r, "BadRequest")
    return {v["field"]: v["description"] for v in bad["fieldViolations"]} if bad else {}


def assert_status_body(r: httpx.Response, status: int, grpc_code: int) -> dict[str, Any]:
    """A google.rpc.Status JSON body with its code, a message and the request id."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = dict(r.json())
    assert body["code"] == grpc_code and body["message"]
    info = detail(r, "RequestInfo")
    assert info is not None and info["requestId"] == r.headers["x-request-id"]
    return body


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def same_minute(needed_seconds: float = 5.0) -> None:
    """Rate limits use fixed one-minute windows: start a burst that must stay in one
    window far enough from its end (waits at most `needed_seconds`)."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        await asyncio.sleep(left + 0.05)


# --------------------------------------------------------------------------- chat


async def test_chat_with_the_spec_payload(caller: Caller) -> None:
    r = await caller.post(
        "/chat",
        {
            "model": "groq",
            "message": "explain the gateway",
            "context": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "hi, how can I help"},
            ],
            "options": {"temperature": 0.7, "maxTokens": 100},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "response",
        "model",
        "tokens",
        "latencyMs",
        "requestId",
        "cached",
        "provider",
        "finishReason",
    }
    assert body["response"] == "echo: explain the gateway"
    assert body["model"] == GROQ and body["provider"] == "groq"
    assert body["finishReason"] == "stop" and body["cached"] is False
    # The fake counts a word as a prompt token (every message) and a chunk as an output token.
    assert body["tokens"] == {"input": 2 + 1 + 5 + 3, "output": 4, "total": 15}
    assert isinstance(body["latencyMs"], int) and body["latencyMs"] >= 0
    assert body["requestId"] == r.headers["x-request-id"]
    # The gateway's per-user window for this model (plus Envoy's own per-route values).
    assert header_values(r, "x-ratelimit-limit")[0] == str(GROQ_RPM)
    assert header_values(r, "x-ratelimit-remaining")[0] == str(GROQ_RPM - 1)
    assert 1 <= int(header_values(r, "x-ratelimit-reset")[0]) <= 60


async def test_chat_echoes_a_client_request_id_and_honours_max_tokens(caller: Caller) -> None:
    body = await caller.chat("one two three four five", requestId="client-42", options={"maxTokens": 2})
    assert body["requestId"] == "client-42"
    assert body["response"] == "echo: one " and body["finishReason"] == "length"
    assert body["tokens"]["output"] == 2


async def test_stream_is_newline_delimited_json(caller: Caller) -> None:
    """Envoy's transcoder (stream_newline_delimited) sends each StreamChatResponse as
    one JSON object per line, NOT a JSON array: {"chunk":{...}}\\n ... {"final":{...}}\\n,
    with content-type application/json and chunked transfer encoding."""
    async with caller.http.stream(
        "POST",
        "/api/v1/ai/chat/stream",
        json={"model": "groq", "message": "stream these words"},
        headers=caller.headers,
    ) as r:
        assert r.status_code == 200
        assert header_values(r, "x-ratelimit-limit")[0] == str(GROQ_RPM)
        lines = [line async for line in r.aiter_lines() if line.strip()]
    messages = [json.loads(line) for line in lines]
    chunks, final = messages[:-1], messages[-1]
    assert all(set(m) == {"chunk"} for m in chunks) and len(chunks) == 4
    assert "".join(m["chunk"]["content"] for m in chunks) == "echo: stream these words"
    rid = r.headers["x-request-id"]
    assert {m["chunk"]["requestId"] for m in chunks} == {rid}
    assert set(final) == {"final"}
    assert final["final"] == {
        "done": True,
        "tokens": {"input": 3, "output": 4, "total": 7},
        "latencyMs": final["final"]["latencyMs"],
        "model": GROQ,
        "requestId": rid,
        "cached": False,
        "provider": "groq",
        "finishReason": "stop",
    }


async def test_stream_as_server_sent_events(caller: Caller) -> None:
    """With Accept: text/event-stream the same stream comes as SSE: `data: <message>` and a
    blank line per StreamChatResponse, content-type text/event-stream."""
    async with caller.http.stream(
        "POST",
        "/api/v1/ai/chat/stream",
        json={"model": "groq", "message": "stream these words"},
        headers=caller.headers | {"accept": "text/event-stream"},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        lines = [line async for line in r.aiter_lines()]
    assert lines[1::2] == [""] * (len(lines) // 2)  # each event ends with a blank line
    messages = [json.loads(line.removeprefix("data: ")) for line in lines[::2]]
    chunks, final = messages[:-1], messages[-1]
    assert "".join(m["chunk"]["content"] for m in chunks) == "echo: stream these words"
    assert final["final"]["done"] is True and final["final"]["requestId"] == r.headers["x-request-id"]


async def test_a_stream_cut_mid_way_ends_with_the_error_in_its_trailers(
    caller: Caller, fake_ai: FakeProviders
) -> None:
    """After the first chunk the 200 is sent: the error is the chunked encoding's trailers
    (grpc-status, grpc-message, grpc-status-details-bin), read here by a bare HTTP/1.1 client
    (httpx drops trailers); the body just ends, without `final`."""
    fake_ai.script("groq", Fault.cut_after(2))
    headers = caller.headers | {"accept": "text/event-stream", "content-type": "application/json"}
    body = json.dumps({"model": "groq", "message": f"one two three {uuid.uuid4().hex}"}).encode()

    def exchange() -> tuple[int, dict[str, str], list[Any], dict[str, str]]:
        with http1(caller.http.base_url.port or 80, timeout=20) as ex:
            ex.send("POST", "/api/v1/ai/chat/stream", headers, body)
            return ex.status, ex.headers, list(ex.messages()), ex.trailers

    # A thread: the in-process servers run on this event loop.
    status, response_headers, messages, trailers = await asyncio.to_thread(exchange)
    assert status == 200 and response_headers["content-type"] == "text/event-stream"
    assert [set(m) for m in messages] == [{"chunk"}, {"chunk"}]
    assert trailers["grpc-status"] == "14", trailers  # UNAVAILABLE
    assert "mid-stream" in unquote(trailers["grpc-message"])
    details = status_pb2.Status.FromString(base64.b64decode(trailers["grpc-status-details-bin"] + "=="))
    assert details.code == 14
    infos = [d for d in details.details if d.Is(error_details_pb2.RequestInfo.DESCRIPTOR)]
    request_info = error_details_pb2.RequestInfo()
    assert infos and infos[0].Unpack(request_info)
    assert request_info.request_id == response_headers["x-request-id"]


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
async def test_stream_errors_before_the_first_message_are_plain_error_bodies(
    caller: Caller, accept: str
) -> None:
    headers = caller.headers | {"accept": accept}
    body = {"model": "gpt-99", "message": "hi"}
    r = await caller.http.post("/api/v1/ai/chat/stream", json=body, headers=headers)
    assert_status_body(r, 404, 5)
    body = {"message": "hi", "options": {"temperature": 2.5}}
    r = await caller.http.post("/api/v1/ai/chat/stream", json=body, headers=headers)
    assert_status_body(r, 400, 3)
    assert "options.temperature" in violations(r)


# --------------------------------------------------------------------------- models and switching


async def test_list_models_with_filters_and_pages(caller: Caller) -> None:
    r = await caller.get("/models")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["currentModel"] == GROQ
    by_id = {m["id"]: m for m in body["models"]}
    assert body["pagination"]["total"] == len(body["models"]) >= 10
    groq = by_id[GROQ]
    assert groq["status"] == "available" and groq["provider"] == "groq"
    assert groq["capabilities"] == ["chat", "streaming", "code"]
    assert groq["rateLimit"] == {"requestsPerMinute": 30, "tokensPerMinute": 60000}
    assert groq["maxTokens"] == 32768 and groq["contextWindow"] == 131072 and groq["local"] is False
    local = by_id["all-MiniLM-L6-v2"]
    assert local["local"] is True and local["dimensions"] == 384 and local["status"] == "available"
    assert by_id["llama3.1:8b"]["local"] is True

    groq_only = (await caller.get("/models", provider="groq")).json()
    assert {m["id"] for m in groq_only["models"]} == {GROQ, "llama-3.1-8b-instant"}
    embedders = (await caller.get("/models", capability="embeddings")).json()["models"]
    assert {m["id"] for m in embedders} == {
        "all-MiniLM-L6-v2",
        "nomic-embed-text",
        "text-embedding-004",
        "text-embedding-3-small",
    }
    assert all("embeddings" in m["capabilities"] for m in embedders)

    page2 = (await caller.get("/models", page=2, limit=3)).json()
    assert [m["id"] for m in page2["models"]] == [m["id"] for m in body["models"]][3:6]
    assert page2["pagination"]["page"] == 2 and page2["pagination"]["limit"] == 3
    assert page2["pagination"]["hasNext"] is True and page2["pagination"]["hasPrev"] is True

    r = await caller.get("/models", provider="skynet")
    assert_status_body(r, 400, 3)
    assert "provider" in violations(r)
    r = await caller.get("/models", limit=101)
    assert_status_body(r, 400, 3)


async def test_switch_model_then_chat_uses_it(caller: Caller) -> None:
    r = await caller.post("/switch", {"model": "openai"})  # an alias
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["currentModel"] == "gpt-4o-mini" and body["previousModel"] == GROQ
    assert body["status"] == "switched" and "gpt-4o-mini" in body["message"]

    again = (await caller.post("/switch", {"model": "gpt-4o-mini"})).json()
    assert again["status"] == "unchanged"
    assert again["currentModel"] == again["previousModel"] == "gpt-4o-mini"

    reply = await caller.chat("who answers")
    assert reply["model"] == "gpt-4o-mini" and reply["provider"] == "openai"
    assert (await caller.get("/models", provider="openai")).json()["currentModel"] == "gpt-4o-mini"

    r = await caller.post("/switch", {"model": "all-MiniLM-L6-v2"})
    assert_status_body(r, 400, 3)
    assert "model" in violations(r)
    r = await caller.post("/switch", {"model": "gpt-99"})
    assert_status_body(r, 404, 5)
    r = await caller.post("/switch", {"model": ""})
    assert_status_body(r, 400, 3)
    # Still the last good choice.
    assert (await caller.chat("still"))["model"] == "gpt-4o-mini"


async def test_switch_is_per_user(caller: Caller, admin: Caller) -> None:
    await caller.post("/switch", {"model": "gemini"})
    assert (await caller.chat())["provider"] == "gemini"
    assert (await admin.chat())["provider"] == "groq"


# --------------------------------------------------------------------------- usage


async def test_usage_totals_and_by_model(caller: Caller) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    a = await caller.chat("one two", model="groq", options={"temperature": 0.5})
    b = await caller.chat("three four five", model="groq", options={"temperature": 0.5})
    c = await caller.chat("six", model="gpt-4o-mini")
    end = datetime.now(UTC) + timedelta(minutes=1)

    r = await caller.get("/usage", startDate=iso(start), endDate=iso(end))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalRequests"] == 3
    # int64 fields are JSON strings.
    assert body["totalTokens"] == str(sum(x["tokens"]["total"] for x in (a, b, c)))
    assert set(body["byModel"]) == {GROQ, "gpt-4o-mini"}
    assert body["byModel"][GROQ]["requests"] == 2
    assert body["byModel"][GROQ]["tokens"] == str(a["tokens"]["total"] + b["tokens"]["total"])
    assert body["byModel"]["gpt-4o-mini"]["tokens"] == str(c["tokens"]["total"])
    assert body["costEstimateUsd"] > 0
    assert body["costEstimateUsd"] == pytest.approx(sum(m["costUsd"] for m in body["byModel"].values()))
    assert body["period"]["startDate"].startswith(iso(start)[:19])

    only = (await caller.get("/usage", startDate=iso(start), endDate=iso(end), model="gpt-4o-mini")).json()
    assert only["totalRequests"] == 1 and set(only["byModel"]) == {"gpt-4o-mini"}
    # A range before the requests is empty; the default range (last 30 days) has them.
    before = (await caller.get("/usage", endDate=iso(start))).json()
    assert before["totalRequests"] == 0 and before["byModel"] == {} and before["totalTokens"] == "0"
    assert (await caller.get("/usage")).json()["totalRequests"] == 3


async def test_usage_errors_and_admin_access(caller: Caller, admin: Caller, http: httpx.AsyncClient) -> None:
    await caller.chat()
    now = datetime.now(UTC)
    r = await caller.get("/usage", startDate=iso(now), endDate=iso(now - timedelta(days=1)))
    assert_status_body(r, 400, 3)
    assert "start_date must not be after end_date" in r.json()["message"]

    r = await caller.get("/usage", userId=admin.id)
    body = assert_status_body(r, 403, 7)
    assert "admin" in body["message"]
    assert (await caller.get("/usage", userId=caller.id)).json()["totalRequests"] == 1

    other = (await admin.get("/usage", userId=caller.id)).json()
    assert other["totalRequests"] == 1 and set(other["byModel"]) == {GROQ}
    assert (await admin.get("/usage")).json()["totalRequests"] >= 1  # everyone's


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "hi", "options": {"temperature": 3}}, "options.temperature"),
        ({"message": "hi", "options": {"temperature": -0.1}}, "options.temperature"),
        ({"message": "hi", "model": "groq", "options": {"maxTokens": 32769}}, "options.maxTokens"),
        ({"message": "hi", "context": [{"role": "robot", "content": "beep"}]}, "context[0].role"),
        ({"message": "hi", "context": [{"role": "user", "content": ""}]}, "context[0].content"),
    ],
)
async def test_bad_chat_input_is_400_with_field_violations(
    caller: Caller, body: dict[str, Any], field: str
) -> None:
    r = await caller.post("/chat", body)
    result = assert_status_body(r, 400, 3)
    assert field in violations(r), result
    assert detail(r, "ErrorInfo")["reason"] == "VALIDATION_ERROR"


async def test_context_too_long_is_not_reachable_over_rest(caller: Caller) -> None:
    """Every built-in chat model leaves > 100k tokens of context beside its largest
    maxTokens, far more than the edge's 64 KiB REST body limit can carry: Envoy
    refuses the body first (test_ai_accounting.py tests context-too-long over gRPC)."""
    r = await caller.post("/chat", {"message": "x " * 40_000})
    assert r.status_code == 413


async def test_unknown_model_is_404_listing_valid_models(caller: Caller) -> None:
    r = await caller.post("/chat", {"model": "gpt-99", "message": "hi"})
    body = assert_status_body(r, 404, 5)
    assert "gpt-99" in body["message"]
    for valid in (GROQ, "gpt-4o-mini", "gemini-2.0-flash", "llama3.1:8b"):
        assert valid in body["message"]
    assert detail(r, "ErrorInfo")["reason"] == "NOT_FOUND"


async def test_missing_or_insufficient_token(http: httpx.AsyncClient, forge_token) -> None:
    r = await http.post("/api/v1/ai/chat", json={"message": "hi"})
    assert r.status_code == 401
    r = await http.get("/api/v1/ai/models")
    assert r.status_code == 401
    user = str(uuid.uuid4())
    chat_only = await forge_token(user, permissions=("ai:chat",))
    r = await http.post(
        "/api/v1/ai/embeddings", json={"text": "x"}, headers={"authorization": f"Bearer {chat_only}"}
    )
    assert r.status_code == 403, r.text


# --------------------------------------------------------------------------- rate limit


async def test_rate_limit_is_429_with_headers_and_retry_info(caller: Caller) -> None:
    await same_minute()
    replies = await asyncio.gather(
        *(caller.post("/chat", {"message": f"n{i}", "model": "groq"}) for i in range(GROQ_RPM))
    )
    assert [r.status_code for r in replies] == [200] * GROQ_RPM
    remaining = sorted(int(header_values(r, "x-ratelimit-remaining")[0]) for r in replies)
    assert remaining == list(range(GROQ_RPM))  # each admission saw its own count

    r = await caller.post("/chat", {"message": "one too many", "model": "groq"})
    body = assert_status_body(r, 429, 8)
    assert "rate limit" in body["message"]
    assert header_values(r, "x-ratelimit-limit")[0] == str(GROQ_RPM)
    assert header_values(r, "x-ratelimit-remaining")[0] == "0"
    reset = int(header_values(r, "x-ratelimit-reset")[0])
    assert 1 <= reset <= 60
    assert detail(r, "ErrorInfo")["reason"] == "RATE_LIMIT_EXCEEDED"
    retry = detail(r, "RetryInfo")
    assert retry is not None and retry["retryDelay"] == f"{reset}s"

    # Per model and per user: another model, or another user, is unaffected.
    assert (await caller.chat("other model", model="llama-3.1-8b-instant"))["provider"] == "groq"


# --------------------------------------------------------------------------- embeddings


async def test_embeddings_single_and_batch(caller: Caller) -> None:
    # Loading the local model takes a while (torch); wait for the shared server's
    # background warm-up rather than race it with the 3 s upstream timeout of the tests.
    await asyncio.to_thread(load_local_model, 0)
    r = await caller.post("/embeddings", {"text": "a cat sits on the mat"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "all-MiniLM-L6-v2" and body["dimensions"] == 384
    assert len(body["embedding"]) == 384 and body["embeddings"] == []
    assert body["tokens"] > 0
    assert sum(v * v for v in body["embedding"]) == pytest.approx(1.0, abs=1e-3)

    r = await caller.post("/embeddings", {"texts": ["first text", "second text", "third"]})
    assert r.status_code == 200, r.text
    batch = r.json()
    assert [e["index"] for e in batch["embeddings"]] == [0, 1, 2]
    assert all(len(e["values"]) == 384 for e in batch["embeddings"])
    assert batch["dimensions"] == 384 and batch["tokens"] > 0

    r = await caller.post("/embeddings", {"text": "x", "texts": ["y"]})
    assert_status_body(r, 400, 3)
    assert "exactly one of text and texts" in r.json()["message"]
    r = await caller.post("/embeddings", {})
    assert_status_body(r, 400, 3)
    r = await caller.post("/embeddings", {"text": "x", "model": "groq"})
    assert_status_body(r, 400, 3)
    assert "model" in violations(r)

    usage = (await caller.get("/usage")).json()
    assert usage["byModel"]["all-MiniLM-L6-v2"]["requests"] == 2
    assert usage["byModel"]["all-MiniLM-L6-v2"]["costUsd"] == 0
