"""AI gateway reliability over native gRPC against the fake providers: retries
(5xx, Retry-After), fallbacks, cooling-down providers, the circuit breaker,
upstream timeouts and malformed bodies, streams failing before and after their
first chunk, client cancellation, caller deadlines and a gateway without any
provider. Each test gets its own gateway (tests/api/ai_test_models.toml), so
breaker state never leaks between tests; the ledger (ai.usage) is checked in
PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.conftest import ai_provider_env, start_ai_gateway
from tests.fakes.ai_providers import FakeProviders, Fault

CATALOGUE = Path(__file__).with_name("ai_test_models.toml")
# Short, deterministic settings: 2 tries per model, a breaker opening after 2
# consecutive failures and staying open for long (tests that need it shorten it).
SETTINGS = {
    "AI_MODELS_FILE": str(CATALOGUE),
    "AI_DEFAULT_MODEL": "primary",
    "AI_ATTEMPTS_PER_MODEL": "2",
    "AI_BACKOFF_SECONDS": "0.01",
    "AI_REQUEST_TIMEOUT_SECONDS": "1",
    "AI_MAX_RETRY_WAIT_SECONDS": "1",
    "AI_BREAKER_FAILURES": "2",
    "AI_BREAKER_COOLDOWN_SECONDS": "30",
    "AI_DEADLINE_SECONDS": "10",
    # Light on the shared PostgreSQL: a small pool, and no outbox relay (the shared
    # server's relays the events).
    "DATABASE_POOL_MAX": "3",
    "BUS_RELAY": "false",
    "SHUTDOWN_GRACE_SECONDS": "1",
}
# Every provider setting, for a gateway with none configured.
PROVIDER_SETTINGS = (
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GROQ_API_KEY",
    "GROQ_BASE_URL",
    "HUGGINGFACE_API_KEY",
    "HUGGINGFACE_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OLLAMA_BASE_URL",
    "OPENAI_COMPATIBLE_BASE_URL",
    "OPENAI_COMPATIBLE_API_KEY",
    "OPENAI_COMPATIBLE_MODELS",
    "AI_MODELS_FILE",
    "AI_DEFAULT_MODEL",
)
HANG_GUARD = 15  # seconds; only to turn a hang into a failure, never a latency assertion


@dataclass
class Gateway:
    stub: ai_service_pb2_grpc.AiServiceStub
    md: tuple[tuple[str, str], ...]
    user: str

    async def chat(self, model: str, message: str = "hello there", **kwargs: Any) -> pb.ChatResponse:
        async with asyncio.timeout(HANG_GUARD):
            request = pb.ChatRequest(model=model, message=message, **kwargs)
            return await self.stub.Chat(request, metadata=self.md)

    async def chat_error(self, model: str, **kwargs: Any) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.chat(model, **kwargs)
        return caught.value

    async def statuses(self) -> dict[str, str]:
        reply = await self.stub.ListModels(pb.ListModelsRequest(limit=100), metadata=self.md)
        return {m.id: m.status for m in reply.models}


@dataclass
class Gateways:
    auth_addr: str
    forge_token: Callable[..., Awaitable[str]]
    fake: FakeProviders
    servers: list[Any] = field(default_factory=list)
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def __call__(self, **env: str | None) -> Gateway:
        """A new gateway on the test catalogue (env overrides SETTINGS; None unsets),
        with a fresh user. Unlike conftest's start_ai_server, stopped after the test,
        so the suite holds no database connections once done."""
        server, port = await start_ai_gateway(
            self.auth_addr, {**ai_provider_env(self.fake), **SETTINGS, **env}
        )
        self.servers.append(server)
        user = f"u-{uuid.uuid4().hex[:10]}"
        token = await self.forge_token(user)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.channels.append(channel)
        metadata = (("authorization", f"Bearer {token}"),)
        return Gateway(ai_service_pb2_grpc.AiServiceStub(channel), metadata, user)


@pytest.fixture
async def gateway(app_server, forge_token, fake_ai: FakeProviders) -> AsyncIterator[Gateways]:
    """Starts dedicated gateways, stopped after the test; the shared fakes start and end clean."""
    fake_ai.reset()
    gateways = Gateways(app_server[0], forge_token, fake_ai)
    try:
        yield gateways
    finally:
        fake_ai.reset()
        for channel in gateways.channels:
            await channel.close()
        for server in gateways.servers:
            await server.stop()


@pytest.fixture(scope="module", autouse=True)
async def embedding_model_loaded() -> None:
    """Every gateway loads the local embedding model in a worker thread on start; load
    it once up front, so no such load competes with the event loop (and the tests'
    1 s upstream timeouts) while the tests run."""
    from servers.ai.providers.local import LocalEmbeddings

    await LocalEmbeddings().model()


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def ledger_row(db: asyncpg.Pool, request_id: str) -> asyncpg.Record:
    """The request's ledger row, waiting for it (streams are accounted after their end)."""
    async with asyncio.timeout(5):
        while True:
            rows = await db.fetch("SELECT * FROM ai.usage WHERE request_id = $1", request_id)
            if rows:
                assert len(rows) == 1, f"accounted {len(rows)} times"
                return rows[0]
            await asyncio.sleep(0.05)


def rid() -> str:
    return f"rel-{uuid.uuid4().hex[:12]}"


def chat_calls(fake: FakeProviders, provider: str) -> int:
    """Generation requests `provider` received (not the status probes' model listings)."""
    return sum(
        1
        for r in fake.requests(provider)
        if r.method == "POST"
        and r.path.endswith(("/chat/completions", ":generateContent", ":streamGenerateContent"))
    )


def calls(fake: FakeProviders) -> dict[str, int]:
    return {p: chat_calls(fake, p) for p in ("openai", "groq", "gemini", "huggingface")}


def details(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    status = rpc_status.from_call(error)
    assert status is not None
    out: dict[str, Any] = {}
    for any_detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo):
            if any_detail.Is(kind.DESCRIPTOR):
                message = kind()
                any_detail.Unpack(message)
                out[kind.__name__] = message
    return out


async def read_stream(gw: Gateway, model: str, message: str, request_id: str) -> list[pb.StreamChatResponse]:
    async with asyncio.timeout(HANG_GUARD):
        request = pb.StreamChatRequest(model=model, message=message, request_id=request_id)
        return [m async for m in gw.stub.StreamChat(request, metadata=gw.md)]


# --- retries and fallbacks ------------------------------------------------------------------


async def test_server_error_is_retried_on_the_same_provider(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.server_error(), Fault.ok())
    request_id = rid()
    reply = await gw.chat("primary", "one two", request_id=request_id)
    assert reply.response == "echo: one two"
    assert (reply.model, reply.provider) == ("primary", "openai")
    assert calls(fake_ai) == {"openai": 2, "groq": 0, "gemini": 0, "huggingface": 0}
    row = await ledger_row(db, request_id)
    assert row["success"] and row["model"] == "primary" and row["fallback_from"] == ""
    assert row["output_tokens"] == reply.tokens.output == 3


async def test_persistent_server_errors_fall_back(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.server_error(), Fault.server_error())
    request_id = rid()
    reply = await gw.chat("primary", "fall back please", request_id=request_id)
    assert reply.response == "echo: fall back please"
    assert (reply.model, reply.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 2, "groq": 1, "gemini": 0, "huggingface": 0}
    assert fake_ai.requests("groq")[-1].body["model"] == "llama-3.3-70b-versatile"
    row = await ledger_row(db, request_id)
    assert row["success"] and row["error_code"] == ""
    assert (row["model"], row["provider"], row["fallback_from"]) == ("backup-groq", "groq", "primary")
    assert row["output_tokens"] == reply.tokens.output > 0


async def test_short_retry_after_is_waited_for_then_retried(gateway, fake_ai) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.rate_limit(0.3), Fault.ok())
    started = time.monotonic()
    reply = await gw.chat("primary")
    waited = time.monotonic() - started
    assert (reply.model, reply.provider) == ("primary", "openai")
    assert calls(fake_ai) == {"openai": 2, "groq": 0, "gemini": 0, "huggingface": 0}
    assert waited >= 0.3  # the Retry-After was honoured (a lower bound only)
    # The retry succeeded: the provider is not left cooling down.
    assert (await gw.statuses())["primary"] == "available"


async def test_long_retry_after_falls_back_and_skips_the_cooling_provider(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.rate_limit(30))
    first = await gw.chat("primary")
    # Not worth waiting 30 s for: one call, then the fallback at once.
    assert (first.model, first.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 1, "groq": 1, "gemini": 0, "huggingface": 0}

    statuses = await gw.statuses()
    assert statuses["primary"] == "rate_limited"
    assert statuses["backup-groq"] == statuses["backup-gemini"] == statuses["solo"] == "available"

    request_id = rid()
    second = await gw.chat("primary", request_id=request_id)
    assert (second.model, second.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 1, "groq": 2, "gemini": 0, "huggingface": 0}  # openai not called
    row = await ledger_row(db, request_id)
    assert row["success"] and row["fallback_from"] == "primary" and row["model"] == "backup-groq"


async def test_circuit_breaker_opens_skips_and_closes_after_cooldown(gateway, fake_ai) -> None:
    # One try per model, so each request is exactly one call to the primary (or none).
    gw = await gateway(AI_ATTEMPTS_PER_MODEL="1", AI_BREAKER_COOLDOWN_SECONDS="1")

    async def ask(expected_model: str) -> None:
        reply = await gw.chat("primary")
        assert reply.model == expected_model

    async def wait_closed() -> None:
        async with asyncio.timeout(HANG_GUARD):
            while (await gw.statuses())["primary"] != "available":  # noqa: ASYNC110 (polls the server)
                await asyncio.sleep(0.05)

    fake_ai.script("openai", Fault.server_error(), Fault.server_error())
    await ask("backup-groq")  # 1st consecutive failure: still closed
    assert (await gw.statuses())["primary"] == "available"
    await ask("backup-groq")  # 2nd: the circuit opens
    assert chat_calls(fake_ai, "openai") == 2
    assert (await gw.statuses())["primary"] == "unavailable"
    await ask("backup-groq")  # skipped while open
    assert chat_calls(fake_ai, "openai") == 2

    # After the cooldown one call is let through; one more failure reopens it at once.
    await wait_closed()
    fake_ai.script("openai", Fault.server_error())
    await ask("backup-groq")
    assert chat_calls(fake_ai, "openai") == 3
    assert (await gw.statuses())["primary"] == "unavailable"
    await ask("backup-groq")
    assert chat_calls(fake_ai, "openai") == 3

    # After the next cooldown a success closes it and resets the failure count:
    # a single failure afterwards no longer opens it.
    await wait_closed()
    await ask("primary")
    assert chat_calls(fake_ai, "openai") == 4
    fake_ai.script("openai", Fault.server_error())
    await ask("backup-groq")
    assert (await gw.statuses())["primary"] == "available"
    await ask("primary")
    assert chat_calls(fake_ai, "openai") == 6
    assert fake_ai.pending("openai") == 0


async def test_upstream_timeout_is_retried_without_hanging(gateway, fake_ai, db) -> None:
    gw = await gateway()  # AI_REQUEST_TIMEOUT_SECONDS=1
    fake_ai.script("openai", Fault.timeout(30), Fault.ok())
    request_id = rid()
    reply = await gw.chat("primary", "still there", request_id=request_id)
    assert reply.response == "echo: still there"
    assert (reply.model, reply.provider) == ("primary", "openai")
    assert calls(fake_ai) == {"openai": 2, "groq": 0, "gemini": 0, "huggingface": 0}
    assert (await ledger_row(db, request_id))["success"]


async def test_upstream_timeouts_fall_back(gateway, fake_ai) -> None:
    gw = await gateway(AI_ATTEMPTS_PER_MODEL="1")
    fake_ai.script("openai", Fault.timeout(30))
    reply = await gw.chat("primary")
    assert (reply.model, reply.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 1, "groq": 1, "gemini": 0, "huggingface": 0}


async def test_malformed_body_falls_back(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.malformed(), Fault.malformed())
    request_id = rid()
    reply = await gw.chat("primary", "parse me", request_id=request_id)
    assert reply.response == "echo: parse me"
    assert (reply.model, reply.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 2, "groq": 1, "gemini": 0, "huggingface": 0}
    row = await ledger_row(db, request_id)
    assert row["success"] and row["fallback_from"] == "primary"


async def test_every_candidate_failing_is_unavailable(gateway, fake_ai, db) -> None:
    gw = await gateway()
    for provider in ("openai", "groq", "gemini"):
        fake_ai.script(provider, Fault.server_error(), Fault.server_error())
    request_id = rid()
    error = await gw.chat_error("primary", request_id=request_id)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "'primary' failed" in error.details() and "no fallback could answer" in error.details()
    assert details(error)["ErrorInfo"].reason == "UNAVAILABLE"
    # Each candidate was tried its 2 times, in the configured order.
    assert calls(fake_ai) == {"openai": 2, "groq": 2, "gemini": 2, "huggingface": 0}
    assert "RetryInfo" in details(error)  # their circuits are open: when to come back
    row = await ledger_row(db, request_id)
    assert not row["success"] and row["error_code"] == "UNAVAILABLE"
    assert (row["model"], row["fallback_from"], row["output_tokens"]) == ("primary", "", 0)

    # Every circuit is open now: refused without calling anyone.
    error = await gw.chat_error("primary")
    assert error.code() == grpc.StatusCode.UNAVAILABLE and "cooling down" in error.details()
    assert details(error)["RetryInfo"].retry_delay.ToTimedelta().total_seconds() > 0
    assert calls(fake_ai) == {"openai": 2, "groq": 2, "gemini": 2, "huggingface": 0}


async def test_model_without_fallback_is_unavailable(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("huggingface", Fault.server_error(), Fault.server_error())
    request_id = rid()
    error = await gw.chat_error("solo", request_id=request_id)
    assert error.code() == grpc.StatusCode.UNAVAILABLE and "'solo'" in error.details()
    assert calls(fake_ai) == {"openai": 0, "groq": 0, "gemini": 0, "huggingface": 2}
    row = await ledger_row(db, request_id)
    assert not row["success"] and row["error_code"] == "UNAVAILABLE"
    assert (row["model"], row["provider"]) == ("solo", "huggingface")


# --- streams ----------------------------------------------------------------------------------


async def test_stream_failing_before_first_chunk_falls_back(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.server_error(), Fault.server_error())
    request_id = rid()
    messages = await read_stream(gw, "primary", "one two three", request_id)
    chunks = [m.chunk.content for m in messages[:-1]]
    assert all(m.WhichOneof("event") == "chunk" for m in messages[:-1])
    assert "".join(chunks) == "echo: one two three"
    final = messages[-1]
    assert final.WhichOneof("event") == "final" and final.final.done
    assert (final.final.model, final.final.provider) == ("backup-groq", "groq")
    assert calls(fake_ai) == {"openai": 2, "groq": 1, "gemini": 0, "huggingface": 0}
    row = await ledger_row(db, request_id)
    assert row["streamed"] and row["success"] and not row["cancelled"]
    assert (row["model"], row["fallback_from"]) == ("backup-groq", "primary")
    assert row["output_tokens"] == final.final.tokens.output > 0


async def test_stream_cut_after_first_chunks_is_not_retried(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("openai", Fault.cut_after(2))
    request_id = rid()
    received: list[pb.StreamChatResponse] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(HANG_GUARD):
            request = pb.StreamChatRequest(model="primary", message="one two three", request_id=request_id)
            async for message in gw.stub.StreamChat(request, metadata=gw.md):
                received.append(message)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "mid-stream" in caught.value.details()
    # Exactly the chunks that were sent, no final message.
    assert [m.WhichOneof("event") for m in received] == ["chunk", "chunk"]
    assert [m.chunk.content for m in received] == ["echo: ", "one "]
    # Text had reached the client: never retried nor rerouted.
    assert calls(fake_ai) == {"openai": 1, "groq": 0, "gemini": 0, "huggingface": 0}
    row = await ledger_row(db, request_id)
    assert row["streamed"] and not row["success"] and not row["cancelled"]
    assert row["error_code"] == "UNAVAILABLE" and row["model"] == "primary"
    assert row["output_tokens"] > 0


async def test_client_cancel_closes_upstream_and_is_accounted(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.reply_words = 200
    fake_ai.chunk_delay = 0.05
    request_id = rid()
    call = gw.stub.StreamChat(
        pb.StreamChatRequest(model="primary", message="tell me a long story", request_id=request_id),
        metadata=gw.md,
    )
    async with asyncio.timeout(HANG_GUARD):
        first, second = await call.read(), await call.read()
    assert [first.chunk.content, second.chunk.content] == ["w0 ", "w1 "]
    assert fake_ai.disconnects("openai") == 0
    call.cancel()

    async with asyncio.timeout(HANG_GUARD):
        assert await fake_ai.wait_disconnects("openai", 1) == 1
    row = await ledger_row(db, request_id)
    assert row["streamed"] and row["cancelled"] and not row["success"]
    assert row["error_code"] == "CANCELLED" and row["model"] == "primary"
    assert 0 < row["output_tokens"] < 200  # what was generated before the cancel, not the whole reply
    assert calls(fake_ai) == {"openai": 1, "groq": 0, "gemini": 0, "huggingface": 0}


async def test_caller_deadline_ends_the_call_promptly(gateway, fake_ai, db) -> None:
    gw = await gateway()
    fake_ai.script("huggingface", Fault.timeout(30), Fault.timeout(30))
    request_id = rid()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(HANG_GUARD):
            await gw.stub.Chat(
                pb.ChatRequest(model="solo", message="quick", request_id=request_id),
                metadata=gw.md,
                timeout=0.5,
            )
    assert caught.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
    assert 1 <= chat_calls(fake_ai, "huggingface") <= 2
    # Accounted as failed either way: the gateway's own deadline gave up (UNAVAILABLE),
    # or the caller's ended the call first (CANCELLED).
    row = await ledger_row(db, request_id)
    assert not row["success"] and row["error_code"] in ("UNAVAILABLE", "CANCELLED")
    assert row["cancelled"] == (row["error_code"] == "CANCELLED")


# --- nothing configured -------------------------------------------------------------------------


async def test_gateway_without_providers_starts_and_says_what_to_set(gateway, fake_ai) -> None:
    gw = await gateway(**dict.fromkeys(PROVIDER_SETTINGS))  # the built-in catalogue, no provider
    reply = await gw.stub.ListModels(pb.ListModelsRequest(limit=100), metadata=gw.md)
    statuses = {m.id: (m.provider, m.status) for m in reply.models}
    assert statuses["all-MiniLM-L6-v2"] == ("local", "available")
    remote = {model: status for model, (provider, status) in statuses.items() if provider != "local"}
    assert remote and set(remote.values()) == {"unavailable"}
    assert {"gpt-4o-mini", "llama3.1:8b", "gemini-2.0-flash"} <= remote.keys()
    assert reply.current_model == ""

    error = await gw.chat_error("")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["ErrorInfo"].reason == "NOT_CONFIGURED"
    assert "GROQ_API_KEY" in error.details() and "OPENAI_API_KEY" in error.details()

    error = await gw.chat_error("gpt-4o-mini")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["ErrorInfo"].reason == "NOT_CONFIGURED"
    assert "OPENAI_API_KEY" in error.details() and "gpt-4o-mini" in error.details()
    # Nothing was sent anywhere.
    assert sum(len(fake_ai.requests(p)) for p in ("openai", "groq", "gemini", "huggingface", "ollama")) == 0
