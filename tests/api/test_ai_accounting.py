"""AI gateway accounting over native gRPC, on dedicated gateways with a test
catalogue (ai_accounting_models.toml: tiny context window, tiny limits, round
prices) against the fake providers: the response cache, per-user rate limits,
budgets, the usage ledger and GetUsage, and the outbox events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc, events_pb2
from aether.events.v1 import event_pb2

from tests.conftest import ai_provider_env
from tests.fakes.ai_providers import FakeProviders, Fault
from tests.helpers import RichError, rich_error

MODELS_FILE = Path(__file__).with_name("ai_accounting_models.toml")
BUDGET_TOKENS = 40
# acct-chat's prices (USD per 1000 tokens).
IN_PRICE, OUT_PRICE = 1.0, 2.0


def gateway_env(fake: FakeProviders, **extra: str) -> dict[str, str]:
    return (
        ai_provider_env(fake)
        | {
            "AI_MODELS_FILE": str(MODELS_FILE),
            "AI_DEFAULT_MODEL": "acct-chat",
            # One try per model: a scripted fault reaches the client at once.
            "AI_ATTEMPTS_PER_MODEL": "1",
            "AI_BREAKER_FAILURES": "100",
        }
        | extra
    )


@pytest.fixture(scope="module")
async def gateway(start_ai_server, fake_ai: FakeProviders) -> AsyncIterator[grpc.aio.Channel]:
    """A gateway with the test catalogue, no budget."""
    address = await start_ai_server(**gateway_env(fake_ai))
    async with grpc.aio.insecure_channel(address) as channel:
        yield channel


@pytest.fixture(scope="module")
async def budget_gateway(start_ai_server, fake_ai: FakeProviders) -> AsyncIterator[grpc.aio.Channel]:
    """The same, with a budget of BUDGET_TOKENS tokens per user and day."""
    address = await start_ai_server(
        **gateway_env(fake_ai, AI_BUDGET_PERIOD="day", AI_BUDGET_TOKENS=str(BUDGET_TOKENS))
    )
    async with grpc.aio.insecure_channel(address) as channel:
        yield channel


class Caller:
    """A fresh user on one gateway."""

    def __init__(self, channel: grpc.aio.Channel, user_id: str, token: str):
        self.stub = ai_service_pb2_grpc.AiServiceStub(channel)
        self.id = user_id
        self.md = (("authorization", f"Bearer {token}"),)

    async def chat(self, message: str = "one two three", **fields: Any) -> pb.ChatResponse:
        reply: pb.ChatResponse = await self.stub.Chat(
            pb.ChatRequest(message=message, **_request(fields)), metadata=self.md
        )
        return reply

    async def stream(self, message: str = "one two three", **fields: Any) -> tuple[str, pb.ChatFinal]:
        messages = [
            m
            async for m in self.stub.StreamChat(
                pb.StreamChatRequest(message=message, **_request(fields)), metadata=self.md
            )
        ]
        assert messages[-1].WhichOneof("event") == "final"
        return "".join(m.chunk.content for m in messages[:-1]), messages[-1].final

    async def usage(self, model: str = "") -> pb.GetUsageResponse:
        reply: pb.GetUsageResponse = await self.stub.GetUsage(
            pb.GetUsageRequest(model=model), metadata=self.md
        )
        return reply

    async def settled(self) -> None:
        """Accounting runs off the request path (servers/ai/ledger.py): ledger rows,
        events and the budget / rate-limit settlements land shortly after the answer.
        GetUsage flushes the gateway's ledger first, so it is the sync point."""
        await self.usage()

    async def fails(self, call: Awaitable[Any]) -> RichError:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        return rich_error(caught.value)


def _request(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword helpers: temperature / max_tokens / skip_cache go into options."""
    options = {k: fields.pop(k) for k in ("temperature", "max_tokens", "skip_cache") if k in fields}
    fields.setdefault("model", "acct-chat")
    return fields | ({"options": pb.ChatOptions(**options)} if options else {})


NewCaller = Callable[[grpc.aio.Channel], Awaitable[Caller]]


@pytest.fixture
async def new_caller(forge_token, fake_ai: FakeProviders) -> NewCaller:
    fake_ai.reset()

    async def make(channel: grpc.aio.Channel) -> Caller:
        user = f"acct-{uuid.uuid4().hex[:12]}"
        return Caller(channel, user, await forge_token(user))

    return make


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def ledger(db: asyncpg.Pool, caller: Caller) -> list[asyncpg.Record]:
    await caller.settled()
    return list(await db.fetch("SELECT * FROM ai.usage WHERE user_id = $1 ORDER BY id", caller.id))


def calls(fake: FakeProviders, provider: str = "groq") -> int:
    return sum(1 for r in fake.requests(provider) if r.path.endswith(("/chat/completions", "/embeddings")))


async def same_minute(needed_seconds: float = 5.0) -> None:
    """Rate limits use fixed one-minute windows: keep a burst inside one."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        await asyncio.sleep(left + 0.05)


def price(tokens: pb.TokenUsage | Any) -> float:
    return (tokens.input * IN_PRICE + tokens.output * OUT_PRICE) / 1000


# --------------------------------------------------------------------------- cache


async def test_temperature_zero_answers_are_cached_per_user(gateway, new_caller, fake_ai) -> None:
    alice, bob = await new_caller(gateway), await new_caller(gateway)
    first = await alice.chat("cache me please", temperature=0)
    second = await alice.chat("cache me please", temperature=0)
    assert not first.cached and second.cached
    assert second.response == first.response == "echo: cache me please"
    assert second.tokens == first.tokens and second.model == "acct-chat" and second.provider == "groq"
    assert second.request_id != first.request_id
    assert calls(fake_ai) == 1

    # Not shared between users.
    assert not (await bob.chat("cache me please", temperature=0)).cached
    assert calls(fake_ai) == 2
    # A different conversation or max_tokens is another entry.
    assert not (await alice.chat("cache me please", temperature=0, max_tokens=8)).cached
    assert calls(fake_ai) == 3

    # skip_cache calls the provider, and its fresh answer replaces the cached one.
    fake_ai.reply = "a fresh answer"
    fresh = await alice.chat("cache me please", temperature=0, skip_cache=True)
    assert not fresh.cached and fresh.response == "a fresh answer"
    assert calls(fake_ai) == 4
    again = await alice.chat("cache me please", temperature=0)
    assert again.cached and again.response == "a fresh answer"
    assert calls(fake_ai) == 4


async def test_only_temperature_zero_is_cached(gateway, new_caller, fake_ai) -> None:
    alice = await new_caller(gateway)
    for temperature in (0.7, 0.7, None, None, 0.0001):
        extra = {} if temperature is None else {"temperature": temperature}
        assert not (await alice.chat("not repeatable", **extra)).cached
    assert calls(fake_ai) == 5


async def test_a_failed_request_is_not_cached(gateway, new_caller, fake_ai) -> None:
    alice = await new_caller(gateway)
    fake_ai.script("groq", Fault.server_error())
    error = await alice.fails(alice.chat("fail first", temperature=0))
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert calls(fake_ai) == 1
    retried = await alice.chat("fail first", temperature=0)
    assert not retried.cached and retried.response == "echo: fail first"
    assert calls(fake_ai) == 2
    assert (await alice.chat("fail first", temperature=0)).cached
    assert calls(fake_ai) == 2


async def test_streams_share_the_cache_with_chat(gateway, new_caller, fake_ai) -> None:
    alice = await new_caller(gateway)
    reply = await alice.chat("stream from cache", temperature=0)
    text, final = await alice.stream("stream from cache", temperature=0)
    assert final.cached and text == reply.response
    assert final.tokens == reply.tokens and final.model == "acct-chat" and final.provider == "groq"
    assert calls(fake_ai) == 1

    # And the other way round: a streamed answer is cached for Chat.
    text, final = await alice.stream("streamed first", temperature=0)
    assert not final.cached
    cached = await alice.chat("streamed first", temperature=0)
    assert cached.cached and cached.response == text == "echo: streamed first"
    assert calls(fake_ai) == 2


# --------------------------------------------------------------------------- rate limits


async def test_requests_per_minute(gateway, new_caller) -> None:
    alice, bob = await new_caller(gateway), await new_caller(gateway)
    await same_minute()
    for i in range(5):
        call = alice.stub.Chat(pb.ChatRequest(model="acct-rpm", message=f"n{i}"), metadata=alice.md)
        await call
        headers = dict(await call.trailing_metadata())  # a unary reply's: its trailers
        assert headers["x-ratelimit-limit"] == "5"
        assert headers["x-ratelimit-remaining"] == str(4 - i)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.stub.Chat(pb.ChatRequest(model="acct-rpm", message="sixth"), metadata=alice.md)
    error = rich_error(caught.value)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "RATE_LIMIT_EXCEEDED"
    assert error.retry_delay_seconds is not None and 1 <= error.retry_delay_seconds <= 60
    # The headers travel with the error (trailers), as Envoy needs them for the 429.
    trailers = dict(caught.value.trailing_metadata() or ())
    assert trailers["x-ratelimit-limit"] == "5" and trailers["x-ratelimit-remaining"] == "0"
    assert int(trailers["x-ratelimit-reset"]) == error.retry_delay_seconds
    # Streams count too; other users and models are unaffected.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.stream(model="acct-rpm")
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await alice.chat(model="acct-chat")).response
    assert (await bob.chat(model="acct-rpm")).response


async def test_requests_per_minute_is_atomic_under_concurrency(gateway, new_caller) -> None:
    alice = await new_caller(gateway)
    await same_minute()
    results = await asyncio.gather(
        *(alice.chat(f"burst {i}", model="acct-rpm") for i in range(15)), return_exceptions=True
    )
    ok = [r for r in results if isinstance(r, pb.ChatResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) == 5 and len(refused) == 10
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}


async def test_tokens_per_minute(gateway, new_caller, db) -> None:
    alice = await new_caller(gateway)
    await same_minute()
    # Each request is admitted with its estimate (22 characters: 6 tokens) and the
    # window then charged its real total (4 prompt words + 5 chunks = 9): 4 * 9 = 36
    # tokens used, and a 5th request's 6 would make 42 > 40.
    message = "alpha beta gamma delta"
    for _ in range(4):
        assert (await alice.chat(message, model="acct-tpm")).tokens.total == 9
        await alice.settled()
    error = await alice.fails(alice.chat(message, model="acct-tpm"))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "RATE_LIMIT_EXCEEDED"
    assert error.retry_delay_seconds is not None and 1 <= error.retry_delay_seconds <= 60
    assert "40 tokens per minute" in error.message
    # A refused request is neither run nor accounted.
    assert len(await ledger(db, alice)) == 4

    # A request bigger than the whole limit still runs in an empty window...
    bob = await new_caller(gateway)
    big = await bob.chat("word " * 60, model="acct-tpm")
    assert big.tokens.total > 40
    await bob.settled()
    # ...but then the window is full.
    assert (await bob.fails(bob.chat("x", model="acct-tpm"))).code == grpc.StatusCode.RESOURCE_EXHAUSTED


# --------------------------------------------------------------------------- budgets


async def test_budget_refuses_once_spent(budget_gateway, new_caller, redis_client: aioredis.Redis) -> None:
    alice = await new_caller(budget_gateway)
    # Each request reserves its estimate (4) + max_tokens (8) = 12 and spends its
    # real total (3 + 4 = 7): 5 fit (spent 28 + reserve 12 = 40), a 6th would not.
    spent = 0
    for _ in range(5):
        reply = await alice.chat("one two three", max_tokens=8, temperature=0.5)
        spent += reply.tokens.total
        await alice.settled()  # else the next reservation still sees this one held
    assert spent == 35
    error = await alice.fails(alice.chat("one two three", max_tokens=8, temperature=0.5))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    assert error.reason == "BUDGET_EXCEEDED"
    assert error.retry_delay_seconds is not None and 0 < error.retry_delay_seconds <= 24 * 3600
    assert "budget" in error.message
    # A stream is refused the same way, before its first message.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.stream("one two three", max_tokens=8, temperature=0.5)
    assert rich_error(caught.value).reason == "BUDGET_EXCEEDED"
    # A smaller request still fits (estimate 1 + max_tokens 1 = 2 <= 40 - 35).
    small = await alice.chat("hi", max_tokens=1, temperature=0.5)
    assert small.finish_reason == "length"
    await alice.settled()

    [key] = [k async for k in redis_client.scan_iter(f"ai:budget:{alice.id}:*")]
    held = await redis_client.hgetall(key)
    assert int(held[b"spent_t"]) == spent + small.tokens.total
    assert int(held[b"held_t"]) == 0  # every reservation settled

    # Other users have their own budget.
    bob = await new_caller(budget_gateway)
    assert (await bob.chat("one two three", max_tokens=8, temperature=0.5)).response


async def test_streamed_requests_count_like_unary_ones(
    budget_gateway, new_caller, redis_client: aioredis.Redis, db
) -> None:
    alice = await new_caller(budget_gateway)

    async def spent() -> int:
        await alice.settled()
        total = 0
        async for key in redis_client.scan_iter(f"ai:budget:{alice.id}:*"):
            total += int(await redis_client.hget(key, "spent_t") or 0)
        return total

    reply = await alice.chat("same prompt here", max_tokens=8, temperature=0.5)
    after_chat = await spent()
    text, final = await alice.stream("same prompt here", max_tokens=8, temperature=0.5)
    after_stream = await spent()
    assert text == reply.response and final.tokens == reply.tokens
    assert after_chat == after_stream - after_chat == reply.tokens.total

    rows = await ledger(db, alice)
    assert [(r["operation"], r["streamed"]) for r in rows] == [("chat", False), ("stream_chat", True)]
    unary, streamed = rows
    for column in ("input_tokens", "output_tokens", "cost_usd", "model", "provider", "success"):
        assert unary[column] == streamed[column], column
    assert float(unary["cost_usd"]) == pytest.approx(price(reply.tokens))

    usage = await alice.usage()
    assert usage.total_requests == 2 and usage.total_tokens == 2 * reply.tokens.total
    assert usage.cost_estimate_usd == pytest.approx(2 * price(reply.tokens))


# --------------------------------------------------------------------------- usage


async def test_usage_counts_chat_stream_and_embeddings(gateway, new_caller, db) -> None:
    alice = await new_caller(gateway)
    fresh = await alice.chat("priced answer", temperature=0)
    cached = await alice.chat("priced answer", temperature=0)
    assert cached.cached
    _, streamed = await alice.stream("streamed answer")
    embedded = await alice.stub.CreateEmbeddings(
        pb.CreateEmbeddingsRequest(texts=["first text", "second one here"], model="acct-embed"),
        metadata=alice.md,
    )
    assert embedded.model == "acct-embed" and embedded.dimensions == 8 and embedded.tokens == 5

    usage = await alice.usage()
    chat_tokens = fresh.tokens.total + cached.tokens.total + streamed.tokens.total
    assert usage.total_requests == 4
    assert usage.total_tokens == chat_tokens + embedded.tokens
    assert set(usage.by_model) == {"acct-chat", "acct-embed"}
    chat = usage.by_model["acct-chat"]
    assert chat.requests == 3 and chat.tokens == chat_tokens
    # The cached answer counts its tokens but costs nothing.
    assert chat.cost_usd == pytest.approx(price(fresh.tokens) + price(streamed.tokens))
    embed = usage.by_model["acct-embed"]
    assert embed.requests == 1 and embed.tokens == 5 and embed.cost_usd == pytest.approx(5 * 0.5 / 1000)
    assert (
        usage.cost_estimate_usd == pytest.approx(chat.cost_usd + embed.cost_usd)
        and usage.cost_estimate_usd > 0
    )

    only = await alice.usage(model="acct-embed")
    assert only.total_requests == 1 and set(only.by_model) == {"acct-embed"}
    assert only.total_tokens == 5

    rows = await ledger(db, alice)
    assert [(r["operation"], r["cached"], r["streamed"]) for r in rows] == [
        ("chat", False, False),
        ("chat", True, False),
        ("stream_chat", False, True),
        ("embeddings", False, False),
    ]
    assert float(rows[1]["cost_usd"]) == 0 and float(rows[0]["cost_usd"]) > 0
    assert all(r["success"] and r["error_code"] == "" for r in rows)


async def test_failures_are_accounted_without_cost(gateway, new_caller, fake_ai, db) -> None:
    alice = await new_caller(gateway)
    fake_ai.script("groq", Fault.server_error())
    await alice.fails(alice.chat("doomed"))
    [row] = await ledger(db, alice)
    assert not row["success"] and row["error_code"] == "UNAVAILABLE"
    assert row["input_tokens"] == row["output_tokens"] == 0 and float(row["cost_usd"]) == 0
    assert (await alice.usage()).total_requests == 1


# --------------------------------------------------------------------------- events


async def outbox(db: asyncpg.Pool, caller: Caller, subject: str) -> dict[str, event_pb2.Event]:
    await caller.settled()
    rows = await db.fetch(
        "SELECT event_type, source, payload FROM platform.outbox WHERE subject = $1", subject
    )
    events = {}
    for row in rows:
        assert row["source"] == "ai" and row["event_type"] not in events
        events[row["event_type"]] = event_pb2.Event.FromString(row["payload"])
    return events


async def test_chat_emits_received_and_generated_events(gateway, new_caller, db) -> None:
    alice = await new_caller(gateway)
    rid = f"evt-{uuid.uuid4().hex}"
    reply = await alice.chat(
        "tell the bus", request_id=rid, context=[pb.ChatMessage(role="system", content="hi")]
    )
    assert reply.request_id == rid

    events = await outbox(db, alice, rid)
    assert set(events) == {"ai.request.received", "ai.response.generated"}
    received, generated = events["ai.request.received"], events["ai.response.generated"]
    for event in (received, generated):
        assert event.subject == rid and event.source == "ai" and event.actor_id == alice.id

    request = events_pb2.AiRequestReceived()
    assert received.payload.Unpack(request)
    assert request == events_pb2.AiRequestReceived(
        request_id=rid,
        user_id=alice.id,
        operation="chat",
        model="acct-chat",
        input_chars=len("tell the bus") + len("hi"),
        context_messages=1,
    )
    response = events_pb2.AiResponseGenerated()
    assert generated.payload.Unpack(response)
    assert response.request_id == rid and response.user_id == alice.id and response.operation == "chat"
    assert response.model == "acct-chat" and response.provider == "groq" and response.success
    assert response.tokens == reply.tokens and not response.cached and not response.streamed
    assert response.cost_usd == pytest.approx(price(reply.tokens))
    assert response.error_code == "" and response.fallback_from == ""


async def test_streams_and_failures_emit_generated_events(gateway, new_caller, fake_ai, db) -> None:
    alice = await new_caller(gateway)
    rid = f"evt-{uuid.uuid4().hex}"
    _, final = await alice.stream("stream to the bus", request_id=rid)
    generated = events_pb2.AiResponseGenerated()
    (await outbox(db, alice, rid))["ai.response.generated"].payload.Unpack(generated)
    assert generated.streamed and generated.operation == "stream_chat" and generated.success
    assert generated.tokens == final.tokens and not generated.cancelled

    failed = f"evt-{uuid.uuid4().hex}"
    fake_ai.script("groq", Fault.server_error())
    await alice.fails(alice.chat("doomed", request_id=failed))
    events = await outbox(db, alice, failed)
    assert set(events) == {"ai.request.received", "ai.response.generated"}
    events["ai.response.generated"].payload.Unpack(generated)
    assert not generated.success and generated.error_code == "UNAVAILABLE" and generated.error_message


# --------------------------------------------------------------------------- model limits


async def test_context_and_max_tokens_beyond_the_model(gateway, new_caller, fake_ai, db) -> None:
    """acct-chat: a 64-token context window, at most 16 output tokens."""
    alice = await new_caller(gateway)
    error = await alice.fails(alice.chat("hi", max_tokens=17))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "16" in error.field_violations["options.maxTokens"]

    long = "x" * 220  # about 55 tokens: with maxTokens 16, over the 64-token window
    error = await alice.fails(alice.chat(long, max_tokens=16))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.reason == "VALIDATION_ERROR"
    assert "context window of 64 tokens" in error.field_violations["context"]
    # The context messages count too.
    turns = [pb.ChatMessage(role="user", content="y" * 100) for _ in range(3)]
    error = await alice.fails(alice.chat("short", context=turns))
    assert "context" in error.field_violations
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.stream(long, max_tokens=16)
    assert "context" in rich_error(caught.value).field_violations
    # Refused before admission: no provider call, nothing accounted.
    assert calls(fake_ai) == 0 and await ledger(db, alice) == []
    # Without maxTokens the same message fits (only the estimate is checked).
    assert (await alice.chat(long)).response.startswith("echo: ")
