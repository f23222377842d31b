"""AI gateway over native gRPC against the fake providers: chat on every
provider's protocol, streams, cache, models, switch, usage, embeddings, errors."""

from __future__ import annotations

import uuid

import grpc
import numpy as np
import pytest
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.fakes.ai_providers import FakeProviders


@pytest.fixture
async def ai(app_server, forge_token, fake_ai: FakeProviders):
    """(stub, metadata, user id) for a fresh user; the fakes start clean."""
    fake_ai.reset()
    user = f"u-{uuid.uuid4().hex[:10]}"
    token = await forge_token(user)
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield ai_service_pb2_grpc.AiServiceStub(channel), (("authorization", f"Bearer {token}"),), user


def details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)
    assert status is not None
    out: dict[str, object] = {}
    for any_detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if any_detail.Is(kind.DESCRIPTOR):
                msg = kind()
                any_detail.Unpack(msg)
                out[kind.__name__] = msg
    return out


@pytest.mark.parametrize(
    ("model", "provider", "upstream_path"),
    [
        ("groq", "groq", "/groq/openai/v1/chat/completions"),
        ("gpt-4o-mini", "openai", "/openai/v1/chat/completions"),
        ("huggingface", "huggingface", "/huggingface/v1/chat/completions"),
        ("llama3:8b", "ollama", "/ollama/api/chat"),
        ("gemini", "gemini", ":generateContent"),
    ],
)
async def test_chat_on_every_provider(ai, fake_ai, model, provider, upstream_path) -> None:
    stub, md, _ = ai
    reply = await stub.Chat(
        pb.ChatRequest(
            model=model,
            message="hello there gateway",
            context=[
                pb.ChatMessage(role="system", content="be brief"),
                pb.ChatMessage(role="user", content="hi"),
            ],
            options=pb.ChatOptions(temperature=0.5, max_tokens=50),
        ),
        metadata=md,
    )
    assert reply.response == "echo: hello there gateway"
    assert reply.provider == provider
    assert reply.tokens.output == 4 and reply.tokens.input > 0
    assert reply.tokens.total == reply.tokens.input + reply.tokens.output
    assert reply.finish_reason == "stop" and not reply.cached and reply.request_id
    sent = fake_ai.requests(provider)
    assert sent and upstream_path in sent[-1].path


async def test_stream_chat_sends_chunks_then_final(ai) -> None:
    stub, md, _ = ai
    messages = [
        m
        async for m in stub.StreamChat(
            pb.StreamChatRequest(model="groq", message="one two three"), metadata=md
        )
    ]
    chunks = [m.chunk.content for m in messages if m.WhichOneof("event") == "chunk"]
    assert "".join(chunks) == "echo: one two three" and len(chunks) == 4
    final = messages[-1].final
    assert messages[-1].WhichOneof("event") == "final" and final.done
    assert final.tokens.output == 4 and final.model == "llama-3.3-70b-versatile" and final.provider == "groq"


async def test_unknown_model_lists_valid_ones(ai) -> None:
    stub, md, _ = ai
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Chat(pb.ChatRequest(model="gpt-99", message="hi"), metadata=md)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "gpt-4o-mini" in caught.value.details() and "gemini-2.0-flash" in caught.value.details()


async def test_local_embeddings_are_semantic(ai) -> None:
    stub, md, _ = ai
    reply = await stub.CreateEmbeddings(
        pb.CreateEmbeddingsRequest(
            texts=["a cat sits on the mat", "a kitten rests on a rug", "quarterly tax report"]
        ),
        metadata=md,
    )
    assert reply.model == "all-MiniLM-L6-v2" and reply.dimensions == 384
    vectors = np.array([e.values for e in reply.embeddings])
    assert vectors.shape == (3, 384)
    cat_kitten = vectors[0] @ vectors[1]
    assert cat_kitten > vectors[0] @ vectors[2] and cat_kitten > vectors[1] @ vectors[2]
