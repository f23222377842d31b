"""The fake AI providers (tests/fakes/ai_providers.py) speak the real wire protocols:
the official SDKs (openai, ollama, google-genai) use them unchanged, faults included."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import aiohttp
import httpx
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.fakes.ai_providers import FakeProviders, Fault

# google-genai's own aiohttp session subclass warns on every client; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

USER = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there world"}]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeProviders]:
    async with FakeProviders() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(fake: FakeProviders) -> None:
    fake.reset()


@pytest.fixture
async def oai(fake: FakeProviders) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=fake.openai_base, api_key="test-key", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def gemini(fake: FakeProviders) -> AsyncIterator[genai.client.AsyncClient]:
    client = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.gemini_base)).aio
    yield client
    await client.aclose()


# -- OpenAI-compatible -------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "groq", "huggingface"])
async def test_openai_compatible_chat_with_usage(fake: FakeProviders, provider: str) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url(provider), api_key="test-key", max_retries=0) as c:
        reply = await c.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "echo: hello there world"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (5, 4, 9)
    [seen] = fake.requests(provider)
    assert seen.path.endswith("/chat/completions") and seen.headers["authorization"] == "Bearer test-key"
    assert seen.body["messages"] == USER


async def test_openai_stream_ends_with_usage_chunk(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )  # type: ignore[call-overload]
    chunks = [chunk async for chunk in stream]
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["echo: ", "hello ", "there ", "world"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4 and chunks[-1].usage.prompt_tokens == 5


async def test_openai_max_tokens_truncates(oai: openai.AsyncOpenAI) -> None:
    reply = await oai.chat.completions.create(model="m", messages=USER, max_tokens=2)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "echo: hello "
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 2


async def test_openai_embeddings_base64_by_default(fake: FakeProviders, oai: openai.AsyncOpenAI) -> None:
    result = await oai.embeddings.create(model="e", input=["alpha beta", "gamma"])
    # The SDK asks for base64 unless told otherwise and decodes it back to floats.
    assert fake.requests("openai")[-1].body["encoding_format"] == "base64"
    assert [d.embedding for d in result.data] == [fake.embedding("alpha beta"), fake.embedding("gamma")]
    assert math.isclose(math.fsum(v * v for v in result.data[0].embedding), 1.0, rel_tol=1e-5)
    assert result.usage.prompt_tokens == 3
    floats = await oai.embeddings.create(model="e", input="gamma", encoding_format="float", dimensions=16)
    assert floats.data[0].embedding == fake.embedding("gamma", 16)


async def test_openai_rate_limit_then_recovers(fake: FakeProviders, oai: openai.AsyncOpenAI) -> None:
    fake.script("openai", Fault.rate_limit(retry_after=2), Fault.ok())
    with pytest.raises(openai.RateLimitError) as caught:
        await oai.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.response.headers["retry-after-ms"] == "2000"
    assert caught.value.code == "rate_limit_exceeded"
    reply = await oai.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "echo: hello there world"
    assert fake.pending("openai") == 0


async def test_openai_server_error_and_malformed_body(fake: FakeProviders, oai: openai.AsyncOpenAI) -> None:
    fake.script("openai", Fault.server_error(503), Fault.malformed())
    with pytest.raises(openai.InternalServerError) as caught:
        await oai.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    with pytest.raises(ValueError, match="Expecting"):  # json.JSONDecodeError, not wrapped by the SDK
        await oai.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]


async def test_openai_stream_cut_after_n_chunks(fake: FakeProviders, oai: openai.AsyncOpenAI) -> None:
    fake.script("openai", Fault.cut_after(2))
    stream = await oai.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )  # type: ignore[call-overload]
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["echo: ", "hello "]


async def test_openai_wrong_key_and_timeout(fake: FakeProviders) -> None:
    async with openai.AsyncOpenAI(base_url=fake.groq_base, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    fake.script("groq", Fault.timeout(5))
    async with openai.AsyncOpenAI(
        base_url=fake.groq_base, api_key="test-key", max_retries=0, timeout=0.2
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]


async def test_stream_closed_by_client_counts_a_disconnect(
    fake: FakeProviders, oai: openai.AsyncOpenAI
) -> None:
    fake.reply_words, fake.chunk_delay = 1000, 0.01  # ~10 s if read to the end
    stream = await oai.chat.completions.create(model="m", messages=USER, stream=True)  # type: ignore[call-overload]
    received = 0
    async for _ in stream:
        received += 1
        if received == 3:
            break
    await stream.close()
    async with asyncio.timeout(2):
        assert await fake.wait_disconnects("openai") == 1
    assert received == 3 and len(fake.requests("openai")) == 1


# -- Ollama --------------------------------------------------------------------------------------


async def test_ollama_chat_stream_truncation_and_embed(fake: FakeProviders) -> None:
    client = ollama.AsyncClient(host=fake.ollama_base)
    reply = await client.chat(model="llama3.2", messages=USER)
    assert reply.message.content == "echo: hello there world" and reply.done_reason == "stop"
    assert (reply.prompt_eval_count, reply.eval_count) == (5, 4)
    parts = [p async for p in await client.chat(model="llama3.2", messages=USER, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == "echo: hello there world"
    assert [p.done for p in parts] == [False] * 4 + [True] and parts[-1].eval_count == 4
    short = await client.chat(model="llama3.2", messages=USER, options={"num_predict": 1})
    assert (short.message.content, short.done_reason, short.eval_count) == ("echo: ", "length", 1)
    embedded = await client.embed(model="nomic-embed-text", input=["a b", "c"])
    assert [list(e) for e in embedded.embeddings] == [fake.embedding("a b"), fake.embedding("c")]
    assert embedded.prompt_eval_count == 3
    assert "llama3.2:latest" in [m.model for m in (await client.list()).models]
    assert [r.path for r in fake.requests("ollama")][:1] == ["/ollama/api/chat"]


async def test_ollama_faults(fake: FakeProviders) -> None:
    client = ollama.AsyncClient(host=fake.ollama_base)
    fake.script("ollama", Fault.rate_limit(3), Fault.server_error(), Fault.malformed(), Fault.cut_after(2))
    with pytest.raises(ollama.ResponseError) as caught:  # the SDK keeps no headers: Retry-After is lost
        await client.chat(model="llama3.2", messages=USER)
    assert caught.value.status_code == 429 and "Rate limit" in caught.value.error
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(model="llama3.2", messages=USER)
    assert caught.value.status_code == 500
    with pytest.raises(ValueError):
        await client.chat(model="llama3.2", messages=USER)
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        async for part in await client.chat(model="llama3.2", messages=USER, stream=True):
            received.append(part.message.content)
    assert received == ["echo: ", "hello "]


# -- Gemini --------------------------------------------------------------------------------------


async def test_gemini_generate_stream_and_embed(
    fake: FakeProviders, gemini: genai.client.AsyncClient
) -> None:
    reply = await gemini.models.generate_content(model="gemini-2.5-flash", contents="hello there world")
    assert reply.text == "echo: hello there world"
    assert reply.candidates and reply.candidates[0].finish_reason == types.FinishReason.STOP
    assert reply.usage_metadata and reply.usage_metadata.total_token_count == 3 + 4
    seen = fake.requests("gemini")[-1]
    assert seen.path == "/gemini/v1/models/gemini-2.5-flash:generateContent"  # v1 is the SDK's default
    assert seen.headers["x-goog-api-key"] == "test-key"
    parts = [
        p async for p in await gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    ]
    assert [p.text for p in parts] == ["echo: ", "hi"]
    assert parts[-1].usage_metadata and parts[-1].usage_metadata.candidates_token_count == 2
    assert fake.requests("gemini")[-1].query == {"alt": "sse"}
    short = await gemini.models.generate_content(
        model="gemini-2.5-flash", contents="a b c", config=types.GenerateContentConfig(max_output_tokens=2)
    )
    assert short.text == "echo: a " and short.candidates
    assert short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    embedded = await gemini.models.embed_content(model="gemini-embedding-001", contents=["x", "y z"])
    assert [e.values for e in embedded.embeddings or []] == [fake.embedding("x"), fake.embedding("y z")]
    assert fake.requests("gemini")[-1].path.endswith(":batchEmbedContents")


async def test_gemini_faults(fake: FakeProviders, gemini: genai.client.AsyncClient) -> None:
    fake.script("gemini", Fault.rate_limit(2), Fault.server_error(503), Fault.malformed(), Fault.cut_after(1))
    with pytest.raises(genai_errors.ClientError) as caught:
        await gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert caught.value.response.headers["Retry-After"] == "2"  # an aiohttp.ClientResponse
    with pytest.raises(genai_errors.ServerError) as server_error:
        await gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert server_error.value.status == "UNAVAILABLE"
    with pytest.raises(ValueError):
        await gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    received = []
    with pytest.raises(aiohttp.ClientPayloadError):
        async for part in await gemini.models.generate_content_stream(
            model="gemini-2.5-flash", contents="a b"
        ):
            received.append(part.text)
    assert received == ["echo: "]
    bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=fake.gemini_base)).aio
    with pytest.raises(genai_errors.ClientError) as unauthenticated:
        await bad.models.generate_content(model="gemini-2.5-flash", contents="hi")
    await bad.aclose()
    assert (unauthenticated.value.code, unauthenticated.value.status) == (401, "UNAUTHENTICATED")
