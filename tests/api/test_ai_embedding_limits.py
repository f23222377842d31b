"""Embeddings fairness through the real Envoy and over native gRPC: caps on
texts per request and characters per text (400 naming the field), the local
model's default per-user limits, and per-user concurrency on the local model
(servers/ai/fairness.py; its scheduling is tested in tests/unit/test_ai_fairness.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc

from tests.helpers import bearer, rich_error

MAX_TEXTS = 64  # AI_EMBEDDING_MAX_TEXTS
MAX_CHARS = 8192  # AI_EMBEDDING_MAX_CHARS_PER_TEXT


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=120) as client:  # the model loads on first use
        yield client


def violations(body: dict) -> dict[str, str]:
    bad = next(d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    return {v["field"]: v["description"] for v in bad["fieldViolations"]}


async def test_embeddings_over_the_caps_are_a_400_through_envoy(http: httpx.AsyncClient, forge_token) -> None:
    headers = {"authorization": f"Bearer {await forge_token(str(uuid.uuid4()))}"}
    too_many = await http.post(
        "/api/v1/ai/embeddings", headers=headers, json={"texts": ["word"] * (MAX_TEXTS + 1)}
    )
    assert too_many.status_code == 400, too_many.text
    assert violations(too_many.json()) == {"texts": f"must hold at most {MAX_TEXTS} texts"}
    too_long = await http.post(
        "/api/v1/ai/embeddings", headers=headers, json={"texts": ["short", "x" * (MAX_CHARS + 1)]}
    )
    assert too_long.status_code == 400, too_long.text
    assert violations(too_long.json()) == {"texts[1]": f"must be at most {MAX_CHARS} characters"}
    single = await http.post("/api/v1/ai/embeddings", headers=headers, json={"text": "y" * (MAX_CHARS + 1)})
    assert single.status_code == 400 and "text" in violations(single.json())
    ok = await http.post("/api/v1/ai/embeddings", headers=headers, json={"texts": ["word", "x" * MAX_CHARS]})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["embeddings"]) == 2


async def test_caps_and_local_limits_over_grpc(app_server: tuple[str, list[str]], forge_token) -> None:
    token = bearer(await forge_token(str(uuid.uuid4())))
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        stub = ai_service_pb2_grpc.AiServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateEmbeddings(
                pb.CreateEmbeddingsRequest(texts=["a"] * (MAX_TEXTS + 1)), metadata=token
            )
        error = rich_error(caught.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "texts" in error.field_violations
        models = await stub.ListModels(pb.ListModelsRequest(), metadata=token)
        local = next(m for m in models.models if m.id == "all-MiniLM-L6-v2")
        assert local.rate_limit.requests_per_minute > 0 and local.rate_limit.tokens_per_minute > 0


async def test_a_users_requests_beyond_the_concurrency_cap_are_refused(start_ai_server, forge_token) -> None:
    """With a cap of 0 in flight per user nothing may run: a deterministic check that the
    cap guards the local model (the cap of 1+ and the turn order are unit-tested)."""
    address = await start_ai_server(AI_EMBEDDING_CONCURRENCY_PER_USER="0")
    token = bearer(await forge_token(str(uuid.uuid4())))
    async with grpc.aio.insecure_channel(address) as channel:
        stub = ai_service_pb2_grpc.AiServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateEmbeddings(pb.CreateEmbeddingsRequest(text="hello"), metadata=token)
    error = rich_error(caught.value)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay_seconds
    assert "at most 0 embeddings requests" in error.message
