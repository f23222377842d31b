"""The AI gateway's use cases with in-memory fakes of the Protocols they own
(servers.ai.usecases.ports) and InMemoryUnitOfWork; the rate limiter and
budgets with a fake clock; the ledger's batching with a fake unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from servers.ai.cache import ResponseCache
from servers.ai.catalog import Catalog, ModelSpec
from servers.ai.domain import (
    BudgetExceeded,
    CachedAnswer,
    ChatInput,
    ChatResult,
    Chunk,
    EmbeddingsInput,
    LedgerEntry,
    RateLimitExceeded,
    RateLimitInfo,
    RequestReceived,
    Reservation,
    ResponseGenerated,
    Settlement,
    UsageQuery,
    UsageReport,
)
from servers.ai.fairness import FairQueue
from servers.ai.ledger import Ledger
from servers.ai.limits import Budgets, RateLimiter
from servers.ai.providers.base import Completion, Message, Piece, Prompt, ProviderError, Usage, Vectors
from servers.ai.router import Answer, Routed
from servers.ai.usecases.accounting import Accountant
from servers.ai.usecases.chat import ChatUseCases
from servers.ai.usecases.embeddings import EmbeddingCaps, EmbeddingUseCases
from servers.ai.usecases.models import ModelCatalogue
from servers.ai.usecases.usage import UsageUseCases
from servers.platform.context import request_id_var
from servers.platform.errors import FailedPrecondition, PermissionDenied, Unavailable
from servers.platform.paging import PageRequest
from servers.platform.uow import InMemoryUnitOfWork, PreparedEvent
from servers.platform.windows import USAGE_WINDOW, TimeWindow
from tests.helpers import acting_as

NOW = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)
CHAT = ModelSpec(
    "fake-chat", "Fake chat", "openai", input_cost_per_1k=1.0, output_cost_per_1k=2.0,
    requests_per_minute=5, max_tokens=100, context_window=1000, fallbacks=("fake-backup",),
)  # fmt: skip
BACKUP = ModelSpec("fake-backup", "Backup", "groq", requests_per_minute=0)
EMBED = ModelSpec("fake-embed", "Embed", "openai", capabilities=("embeddings",), dimensions=3)
UNCONFIGURED = ModelSpec("fake-gemini", "Gemini", "gemini")


# --- fakes of the use cases' Protocols -----------------------------------------------------
class FakeRouter:
    def __init__(self) -> None:
        self.prompts: list[Prompt] = []
        self.pieces = ["hel", "lo"]
        self.fail_after_first = False

    async def complete(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Answer:
        self.prompts.append(prompt)
        return Answer(spec, Completion("hello", Usage(10, 5), "stop"), "")

    async def stream(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Routed:
        self.prompts.append(prompt)

        async def pieces() -> AsyncGenerator[Piece]:
            for i, text in enumerate(self.pieces):
                if i and self.fail_after_first:
                    raise ProviderError("openai stalled", retryable=False)
                yield Piece(text)
            yield Piece(usage=Usage(10, 2), finish_reason="stop")

        return Routed(spec, "", pieces())

    async def embed(self, spec: ModelSpec, texts: list[str], deadline: float) -> Vectors:
        return Vectors([[1.0, 0.0, 0.0] for _ in texts], tokens=4 * len(texts))

    def breaker(self, provider: str) -> Any:
        return None


class FakeLimiter:
    """Counts requests per (user, model); refuses past the model's rpm."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    async def admit(self, user_id: str, model: str, rpm: int, tpm: int, tokens: int) -> RateLimitInfo | None:
        used = self.counts.get((user_id, model), 0)
        if rpm and used >= rpm:
            raise RateLimitExceeded("over", 42, RateLimitInfo(rpm, 0, 42))
        self.counts[(user_id, model)] = used + 1
        return RateLimitInfo(rpm, rpm - used - 1, 42) if rpm else None


class FakeBudget:
    def __init__(self, exhausted: bool = False) -> None:
        self.exhausted = exhausted

    async def reserve(self, user_id: str, tokens: int, usd: float) -> Reservation | None:
        if self.exhausted:
            raise BudgetExceeded("your AI budget is used up", 3600)
        return Reservation(f"budget:{user_id}", tokens, round(usd * 1e6))


class FakeCache:
    def __init__(self) -> None:
        self.entries: dict[str, CachedAnswer] = {}

    def key(self, user_id: str, model: str, messages: Sequence[Message], max_tokens: int) -> str:
        return ResponseCache.key(user_id, model, messages, max_tokens)

    async def get(self, key: str) -> CachedAnswer | None:
        return self.entries.get(key)

    async def put(self, key: str, answer: CachedAnswer) -> None:
        self.entries[key] = answer


@dataclass
class FakeLedger:
    received_events: list[RequestReceived] = field(default_factory=list)
    finished_events: list[tuple[ResponseGenerated, Settlement]] = field(default_factory=list)
    flushes: int = 0

    def received(self, event: RequestReceived) -> None:
        self.received_events.append(event)

    def finished(self, event: ResponseGenerated, settlement: Settlement) -> None:
        self.finished_events.append((event, settlement))

    async def flush(self) -> None:
        self.flushes += 1

    @property
    def entries(self) -> list[LedgerEntry]:
        return [event.entry for event, _ in self.finished_events]


class FakePreferences:
    """Both the reads and the unit of work's repository."""

    def __init__(self) -> None:
        self.defaults: dict[str, str] = {}
        self.usage_asked: list[tuple[str | None, TimeWindow, str]] = []

    async def default_model(self, user_id: str) -> str | None:
        return self.defaults.get(user_id)

    async def set_default_model(self, user_id: str, model: str) -> str | None:
        previous = self.defaults.get(user_id)
        self.defaults[user_id] = model
        return previous

    async def usage(self, user_id: str | None, window: TimeWindow, model: str) -> UsageReport:
        self.usage_asked.append((user_id, window, model))
        return UsageReport(window)


class FakeProbe:
    async def reachable(self, names: set[str]) -> dict[str, bool]:
        return {n: n != "groq" for n in names}


@dataclass
class Gateway:
    chat: ChatUseCases
    embeddings: EmbeddingUseCases
    models: ModelCatalogue
    usage: UsageUseCases
    router: FakeRouter
    limiter: FakeLimiter
    budget: FakeBudget
    cache: FakeCache
    ledger: FakeLedger
    prefs: FakePreferences
    uow: InMemoryUnitOfWork[FakePreferences]


@pytest.fixture
def gw() -> Gateway:
    router, limiter, budget, cache = FakeRouter(), FakeLimiter(), FakeBudget(), FakeCache()
    ledger, prefs = FakeLedger(), FakePreferences()
    uow = InMemoryUnitOfWork(prefs)
    models = ModelCatalogue(
        Catalog([CHAT, BACKUP, EMBED, UNCONFIGURED]),
        {"openai", "groq"},
        router,
        FakeProbe(),
        prefs,
        uow,
        default_model="fake-chat",
        required_settings={"gemini": "GEMINI_API_KEY"},
    )
    accountant = Accountant(limiter, budget, ledger, clock=lambda: NOW)
    return Gateway(
        ChatUseCases(models, accountant, router, cache),
        EmbeddingUseCases(models, accountant, router, EmbeddingCaps(64, 8192), FairQueue(2, 5.0)),
        models,
        UsageUseCases(prefs, ledger, clock=lambda: NOW),
        router,
        limiter,
        budget,
        cache,
        ledger,
        prefs,
        uow,
    )


async def chat(gw: Gateway, **kwargs: Any) -> ChatResult:
    return await gw.chat.chat(
        await gw.chat.admit(ChatInput(**{"model": "fake-chat", "message": "hi", **kwargs}))
    )


# --- chat ----------------------------------------------------------------------------------
async def test_the_rate_limit_window_comes_back_as_data(gw: Gateway) -> None:
    with acting_as("alice"):
        first = await gw.chat.admit(ChatInput(model="fake-chat", message="hi"))
        second = await gw.chat.admit(ChatInput(model="fake-chat", message="hi"))
        unlimited = await gw.chat.admit(ChatInput(model="fake-backup", message="hi"))
    assert first.rate_limit == RateLimitInfo(limit=5, remaining=4, reset_seconds=42)
    assert second.rate_limit == RateLimitInfo(limit=5, remaining=3, reset_seconds=42)
    assert unlimited.rate_limit is None  # no requests-per-minute limit: nothing to report
    assert gw.ledger.received_events == []  # admission alone records nothing


async def test_a_refusal_carries_its_window_and_nothing_is_accounted(gw: Gateway) -> None:
    gw.limiter.counts[("alice", "fake-chat")] = 5
    with acting_as("alice"), pytest.raises(RateLimitExceeded) as refused:
        await gw.chat.admit(ChatInput(model="fake-chat", message="hi"))
    assert refused.value.rate_limit == RateLimitInfo(5, 0, 42)
    assert refused.value.retry_after_seconds == 42
    assert gw.ledger.received_events == [] and gw.ledger.finished_events == []


async def test_a_chat_is_accounted_once_with_its_events_and_settlement(gw: Gateway) -> None:
    with acting_as("alice"):
        result = await chat(gw, request_id="req-1", max_tokens=20)
    assert (result.text, result.model, result.usage, result.request_id) == (
        "hello",
        "fake-chat",
        Usage(10, 5),
        "req-1",
    )
    [received] = gw.ledger.received_events
    assert received == RequestReceived("req-1", "alice", "chat", "fake-chat", input_chars=2)
    [(generated, settlement)] = gw.ledger.finished_events
    entry = generated.entry
    assert (entry.request_id, entry.user_id, entry.operation, entry.success) == (
        "req-1",
        "alice",
        "chat",
        True,
    )
    assert (entry.input_tokens, entry.output_tokens, entry.finished_at) == (10, 5, NOW)
    assert entry.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1000)
    # The budget held input estimate (1 token) + maxTokens, and settles to the real figures.
    assert settlement.reservation == Reservation("budget:alice", 1 + 20, 41_000)  # $0.041
    assert (settlement.tokens, settlement.extra_tokens, settlement.model) == (15, 14, "fake-chat")


async def test_a_budget_refusal_is_not_accounted(gw: Gateway) -> None:
    gw.budget.exhausted = True
    with acting_as("alice"), pytest.raises(BudgetExceeded):
        await chat(gw)
    assert gw.ledger.received_events == [] and gw.ledger.finished_events == []


async def test_a_repeatable_request_is_answered_from_the_callers_cache(gw: Gateway) -> None:
    with acting_as("alice"):
        first = await chat(gw, temperature=0)
        again = await chat(gw, temperature=0)
    with acting_as("bob"):
        bobs = await chat(gw, temperature=0)
    assert not first.cached and again.cached and not bobs.cached
    assert len(gw.router.prompts) == 2  # alice's second was not sent upstream
    cached_entry, cached_settlement = gw.ledger.finished_events[1]
    assert cached_entry.entry.cached and cached_entry.entry.cost_usd == 0 and cached_settlement.tokens == 0


async def test_a_model_whose_provider_is_not_configured_says_what_to_set(gw: Gateway) -> None:
    with acting_as("alice"), pytest.raises(FailedPrecondition, match="GEMINI_API_KEY"):
        await gw.chat.admit(ChatInput(model="fake-gemini", message="hi"))


async def test_a_stream_is_accounted_before_its_final_message(gw: Gateway) -> None:
    with acting_as("alice"):
        admitted = await gw.chat.admit(ChatInput(model="fake-chat", message="hi"), streaming=True)
        items = []
        async for item in gw.chat.stream(admitted):
            if isinstance(item, ChatResult):
                assert len(gw.ledger.finished_events) == 1  # already accounted
            items.append(item)
    assert [i.text for i in items if isinstance(i, Chunk)] == ["hel", "lo"]
    assert isinstance(items[-1], ChatResult) and items[-1].usage == Usage(10, 2)
    [entry] = gw.ledger.entries
    assert entry.operation == "stream_chat" and entry.streamed and entry.success


async def test_an_abandoned_stream_is_accounted_as_cancelled(gw: Gateway) -> None:
    with acting_as("alice"):
        admitted = await gw.chat.admit(ChatInput(model="fake-chat", message="hi"), streaming=True)
        stream = gw.chat.stream(admitted)
        assert isinstance(await anext(stream), Chunk)
        await stream.aclose()
    [entry] = gw.ledger.entries
    assert entry.cancelled and not entry.success and entry.error_code == "CANCELLED"
    assert entry.output_tokens == 1  # estimated from what was generated ("hel")


async def test_a_stream_broken_after_text_is_unavailable_and_accounted(gw: Gateway) -> None:
    gw.router.fail_after_first = True
    with acting_as("alice"):
        admitted = await gw.chat.admit(ChatInput(model="fake-chat", message="hi"), streaming=True)
        with pytest.raises(Unavailable):
            async for _ in gw.chat.stream(admitted):
                pass
    [(generated, _)] = gw.ledger.finished_events
    assert generated.entry.error_code == "UNAVAILABLE" and "incomplete" in generated.error_message


# --- embeddings ----------------------------------------------------------------------------
async def test_embeddings_are_admitted_and_accounted(gw: Gateway) -> None:
    with acting_as("alice"):
        admitted = await gw.embeddings.admit(EmbeddingsInput("fake-embed", ["a", "bb"], single=False))
        result = await gw.embeddings.embed(admitted)
    assert admitted.rate_limit == RateLimitInfo(60, 59, 42)  # ModelSpec's default rpm
    assert (result.dimensions, result.model, result.tokens) == (3, "fake-embed", 8)
    [received] = gw.ledger.received_events
    assert (received.operation, received.input_chars, received.texts) == ("embeddings", 3, 2)
    assert gw.ledger.entries[0].input_tokens == 8


# --- models --------------------------------------------------------------------------------
async def test_list_models_returns_a_page_with_live_status(gw: Gateway) -> None:
    with acting_as("alice"):
        listing = await gw.models.list_models("", "", PageRequest(page=1, limit=2))
    assert listing.page.total == 4 and listing.page.has_next
    assert {v.spec.id: v.status for v in listing.page.items} == {
        "fake-backup": "unavailable",
        "fake-gemini": "unavailable",
    }
    assert listing.current_model == "fake-chat"  # the gateway's default


async def test_switch_model_commits_through_the_unit_of_work(gw: Gateway) -> None:
    with acting_as("alice"):
        first = await gw.models.switch_model("fake-backup")
        again = await gw.models.switch_model("fake-backup")
        listing = await gw.models.list_models("", "chat", PageRequest())
    assert (first.current, first.previous, first.unchanged) == ("fake-backup", "fake-chat", False)
    assert again.unchanged
    assert gw.prefs.defaults == {"alice": "fake-backup"} and listing.current_model == "fake-backup"
    assert gw.uow.committed == []  # a default model is no event


# --- usage ---------------------------------------------------------------------------------
async def test_another_users_usage_needs_admin(gw: Gateway) -> None:
    with acting_as("alice"), pytest.raises(PermissionDenied, match="admin"):
        await gw.usage.report(UsageQuery("bob", None, None))
    with acting_as("root", "admin"):
        await gw.usage.report(UsageQuery("bob", None, None))
        await gw.usage.report(UsageQuery("", None, None))
    with acting_as("alice"):
        await gw.usage.report(UsageQuery("", None, None, model="fake-chat"))
    assert [(user, model) for user, _, model in gw.prefs.usage_asked] == [
        ("bob", ""),
        (None, ""),  # an admin naming no one: everyone's
        ("alice", "fake-chat"),
    ]
    assert gw.ledger.flushes == 3  # read after the ledger caught up


async def test_usage_defaults_to_the_usage_window(gw: Gateway) -> None:
    end = NOW - timedelta(days=2)
    with acting_as("alice"):
        default = await gw.usage.report(UsageQuery("", None, None))
        until = await gw.usage.report(UsageQuery("", None, end))
        empty = await gw.usage.report(UsageQuery("", end, end))
    assert default.window == TimeWindow(NOW - USAGE_WINDOW, NOW)
    assert until.window == TimeWindow(end - USAGE_WINDOW, end)
    assert empty.window == TimeWindow(end, end)  # start == end is allowed: an empty window


# --- the rate limiter and budgets with a fake clock ------------------------------------------
class FakeScript:
    def __init__(self, reply: list[int]) -> None:
        self.reply = reply
        self.calls: list[tuple[list[str], list[Any]]] = []

    async def __call__(self, keys: list[str], args: list[Any]) -> list[int] | int:
        self.calls.append((keys, args))
        return self.reply if len(self.reply) > 1 else self.reply[0]


class FakeRedis:
    def __init__(self, reply: list[int]) -> None:
        self.script = FakeScript(reply)

    def register_script(self, source: str) -> FakeScript:
        return self.script


class FakePipeline:
    def __init__(self) -> None:
        self.ops: list[tuple[str, str, int]] = []

    def hincrby(self, key: str, name: str, amount: int) -> None:
        self.ops.append((key, name, amount))


async def test_the_rate_limiter_windows_follow_its_clock() -> None:
    now = [119.9]
    redis = FakeRedis([1, 7, 3, 21, 20_500])  # one request granted, the window's 3rd, 20.5 s left
    limiter = RateLimiter(redis, clock=lambda: now[0])
    assert await limiter.admit("u", "m", rpm=5, tpm=0, tokens=7) == RateLimitInfo(5, 2, 16)
    now[0] = 120.0  # the next minute: a new window
    await limiter.admit("u", "m", rpm=5, tpm=0, tokens=7)
    assert [keys for keys, _ in redis.script.calls] == [["ai:rl:u:m:1"], ["ai:rl:u:m:2"]]
    batch = FakePipeline()
    limiter.charge(batch, "u", "m", extra_tokens=9)
    assert batch.ops == [("ai:rl:u:m:2", "t", 9)]
    unlimited_requests = RateLimiter(FakeRedis([1, 1, 1, 1, 5000]), clock=lambda: 0.0)
    assert await unlimited_requests.admit("u", "m", 0, 100, 1) is None


async def test_a_rate_limit_refusal_carries_the_window() -> None:
    limiter = RateLimiter(FakeRedis([0, 0, 5, 0, 30_000]), clock=lambda: 0.0)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.admit("u", "m", rpm=5, tpm=0, tokens=1)
    assert refused.value.rate_limit == RateLimitInfo(5, 0, 25) and refused.value.retry_after_seconds == 25


async def test_budgets_follow_their_clock() -> None:
    redis = FakeRedis([1])
    budgets = Budgets(redis, "month", max_tokens=1000, max_usd=0, clock=lambda: NOW)
    reservation = await budgets.reserve("u", 10, 0.5)
    assert reservation == Reservation("ai:budget:u:2026-03-01", 10, 500_000)
    redis.script.reply = [0]
    with pytest.raises(BudgetExceeded, match="renews at 2026-04-01"):
        await budgets.reserve("u", 10, 0.5)


# --- the ledger's batches ----------------------------------------------------------------------
class FakeUsageRepo:
    def __init__(self) -> None:
        self.rows: list[LedgerEntry] = []
        self.failures = 0

    async def insert_entries(self, rows: Sequence[LedgerEntry]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.rows.extend(rows)


class BatchUow(InMemoryUnitOfWork[FakeUsageRepo]):
    """InMemoryUnitOfWork that prepares events with the context of the moment."""

    transactions = 0

    def prepare(self, domain_event: object) -> PreparedEvent:
        return PreparedEvent((request_id_var.get(), domain_event))

    def __call__(self) -> Any:
        self.transactions += 1
        return super().__call__()


class FakeSettler:
    def __init__(self) -> None:
        self.batches: list[list[Settlement]] = []

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        self.batches.append(list(settlements))


def entry(rid: str) -> LedgerEntry:
    return LedgerEntry(rid, "alice", "chat", "fake-chat", "openai", finished_at=NOW)


async def test_the_ledger_writes_a_batch_in_one_unit_of_work_with_the_requests_context() -> None:
    repo, settler = FakeUsageRepo(), FakeSettler()
    uow = BatchUow(repo)
    ledger = Ledger(uow, settler, linger_seconds=0.01, retry_seconds=0.01)
    settlement = Settlement("alice", "fake-chat", None, 3, 0.0, 2)
    for rid in ("r1", "r2"):
        token = request_id_var.set(rid)
        ledger.received(RequestReceived(rid, "alice", "chat", "fake-chat", 2))
        ledger.finished(ResponseGenerated(entry(rid)), settlement)
        request_id_var.reset(token)
    await ledger.flush()
    assert uow.transactions == 1 and settler.batches == [[settlement, settlement]]
    assert [r.request_id for r in repo.rows] == ["r1", "r2"]
    prepared = [e.envelope for e in uow.committed if isinstance(e, PreparedEvent)]
    assert [(rid, type(event).__name__) for rid, event in prepared] == [
        ("r1", "RequestReceived"),
        ("r1", "ResponseGenerated"),
        ("r2", "RequestReceived"),
        ("r2", "ResponseGenerated"),
    ]
    await ledger.close()


async def test_a_failed_batch_rolls_back_and_is_retried_whole() -> None:
    repo = FakeUsageRepo()
    repo.failures = 2
    uow = BatchUow(repo)
    ledger = Ledger(uow, FakeSettler(), linger_seconds=0, retry_seconds=0)
    ledger.finished(ResponseGenerated(entry("r1")), Settlement("alice", "fake-chat", None, 0, 0.0, 0))
    async with asyncio.timeout(5):
        await ledger.flush()
    assert uow.transactions == 3 and [r.request_id for r in repo.rows] == ["r1"]
    assert len(uow.committed) == 1  # the rolled-back tries recorded nothing
    await ledger.close()
