"""What the AI gateway's use cases need from the outside, as Protocols they
own; the adapters named in each docstring implement them (servers.ai.main
wires them), and tests/unit/test_ai_usecases.py fakes them in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from servers.ai.domain import (
    CachedAnswer,
    RateLimitInfo,
    RequestReceived,
    Reservation,
    ResponseGenerated,
    Settlement,
    UsageReport,
)
from servers.ai.providers.base import Message, Prompt, Vectors
from servers.platform.windows import TimeWindow

if TYPE_CHECKING:
    from servers.ai.catalog import ModelSpec
    from servers.ai.router import Answer, Routed


class Circuit(Protocol):
    """A provider's circuit breaker, as model status reads it."""

    @property
    def rate_limited(self) -> bool: ...

    def remaining(self) -> float: ...


class ModelRouter(Protocol):
    """Sends a request to a model or its fallbacks (servers.ai.router.Router)."""

    async def complete(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Answer: ...

    async def stream(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Routed: ...

    async def embed(self, spec: ModelSpec, texts: list[str], deadline: float) -> Vectors: ...

    def breaker(self, provider: str) -> Circuit | None: ...


class Reachability(Protocol):
    """Whether providers answer (servers.ai.probe.ProviderProbe)."""

    async def reachable(self, names: set[str]) -> dict[str, bool]: ...


class RateLimits(Protocol):
    """Per-user, per-model requests and tokens per minute (servers.ai.limits.RateLimiter)."""

    async def admit(self, user_id: str, model: str, rpm: int, tpm: int, tokens: int) -> RateLimitInfo | None:
        """Count the request; its requests-per-minute window (None: no such limit).
        Raises RateLimitExceeded over a limit."""
        ...


class Budget(Protocol):
    """Per-user token and dollar budgets (servers.ai.limits.Budgets)."""

    async def reserve(self, user_id: str, tokens: int, usd: float) -> Reservation | None:
        """Hold the request's worst case (None: no budget); BudgetExceeded if it does not fit."""
        ...


class AnswerCache(Protocol):
    """Complete answers to repeatable requests, per user (servers.ai.cache.ResponseCache)."""

    def key(self, user_id: str, model: str, messages: Sequence[Message], max_tokens: int) -> str: ...

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, answer: CachedAnswer) -> None: ...


class UsageLedger(Protocol):
    """Accounting off the request path (servers.ai.ledger.Ledger): the events are
    prepared at once, in the request's context, and committed later in batches
    with the ledger rows; settlements are applied with them."""

    def received(self, event: RequestReceived) -> None: ...

    def finished(self, event: ResponseGenerated, settlement: Settlement) -> None: ...

    async def flush(self) -> None:
        """Return once everything recorded so far is committed."""
        ...


class PreferenceReads(Protocol):
    """Users' default models, read outside a transaction (servers.ai.store.AiQueries)."""

    async def default_model(self, user_id: str) -> str | None: ...


class PreferenceWrites(Protocol):
    """The repository inside a unit of work (servers.ai.store.AiRepository)."""

    async def set_default_model(self, user_id: str, model: str) -> str | None:
        """Set the user's default; returns the previous one."""
        ...


class UsageReads(Protocol):
    """Usage totals from the ledger (servers.ai.store.AiQueries)."""

    async def usage(self, user_id: str | None, window: TimeWindow, model: str) -> UsageReport: ...
