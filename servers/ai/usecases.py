"""What the AI gateway does, independent of gRPC: pick and check the model,
admit the request (rate limits, budget), answer from the cache or through the
router, and account every accepted request exactly once, in the ledger and as
an "ai.response.generated" event, however it ends (success, failure, a stream
the client abandoned)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from aether.ai.v1 import events_pb2, model_pb2
from redis.asyncio.client import Pipeline

from servers.ai import config
from servers.ai.cache import CachedAnswer, ResponseCache, cacheable
from servers.ai.catalog import LOCAL_EMBEDDING_MODEL, Catalog, ModelSpec
from servers.ai.ledger import Ledger
from servers.ai.limits import Budgets, RateLimiter, Reservation
from servers.ai.providers.base import Message, Prompt, Provider, ProviderError, Usage, estimate_tokens
from servers.ai.router import Router
from servers.ai.store import AiStore, LedgerEntry, UsageReport
from servers.platform.context import Principal, add_response_header, current_principal, request_id
from servers.platform.errors import (
    AetherError,
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
    status_code_of,
)


@dataclass(frozen=True)
class ChatInput:
    model: str
    message: str
    context: Sequence[Message] = ()
    temperature: float | None = None
    max_tokens: int = 0
    skip_cache: bool = False
    request_id: str = ""
    deadline: float = 0.0  # time.monotonic() by which the answer is due


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    provider: str
    usage: Usage
    latency_ms: int
    request_id: str
    cached: bool
    finish_reason: str


@dataclass(frozen=True)
class Chunk:
    text: str
    request_id: str


@dataclass(frozen=True)
class EmbeddingsResult:
    vectors: list[list[float]]
    dimensions: int
    model: str
    tokens: int


@dataclass(frozen=True)
class ModelView:
    spec: ModelSpec
    status: str  # "available" | "unavailable" | "rate_limited"


@dataclass
class _Accepted:
    """An admitted request, until it is accounted for."""

    principal: Principal
    spec: ModelSpec
    operation: str
    request_id: str
    started: float
    estimated_input: int
    reservation: Reservation | None
    # Filled in as it goes.
    model: ModelSpec | None = None
    fallback_from: str = ""
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    cached: bool = False
    cancelled: bool = False
    error: AetherError | None = None
    accounted: bool = False

    @property
    def latency_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


class AiUseCases:
    def __init__(
        self,
        catalog: Catalog,
        providers: Mapping[str, Provider],
        router: Router,
        store: AiStore,
        ledger: Ledger,
        limiter: RateLimiter,
        budgets: Budgets,
        cache: ResponseCache,
        default_model: str,
        probe: ProviderProbe,
    ):
        self._catalog = catalog
        self._providers = providers
        self._router = router
        self._store = store
        self._ledger = ledger
        self._limiter = limiter
        self._budgets = budgets
        self._cache = cache
        self._probe = probe
        configured = [s for s in catalog.models if s.can("chat") and s.provider in providers]
        self.system_default = (
            catalog.get(default_model).id if default_model else (configured[0].id if configured else "")
        )

    # --- chat ---------------------------------------------------------------

    async def chat(self, inp: ChatInput) -> ChatResult:
        req, prompt = await self._accept_chat(inp, "chat")
        with self._accounted(req):
            key = self._cache_key(req, inp, prompt)
            hit = await self._cache.get(key) if key and not inp.skip_cache else None
            if hit is not None:
                return self._from_cache(req, hit)
            answer = await self._router.complete(req.spec, prompt, inp.deadline)
            req.model, req.fallback_from, req.usage = (
                answer.spec,
                answer.fallback_from,
                answer.completion.usage,
            )
            if key:
                await self._cache.put(
                    key, self._cached(req, answer.completion.text, answer.completion.finish_reason)
                )
            return self._result(req, answer.completion.text, answer.completion.finish_reason)

    async def stream_chat(self, inp: ChatInput) -> AsyncIterator[Chunk | ChatResult]:
        """Chunks, then the final ChatResult. Errors before the first chunk are
        raised as-is; a failure after it raises Unavailable."""
        req, prompt = await self._accept_chat(inp, "stream_chat")
        text: list[str] = []
        try:
            key = self._cache_key(req, inp, prompt)
            hit = await self._cache.get(key) if key and not inp.skip_cache else None
            if hit is not None:
                yield Chunk(hit.text, req.request_id)
                yield self._last(req, self._from_cache(req, hit))
                return
            routed = await self._router.stream(req.spec, prompt, inp.deadline)
            req.model, req.fallback_from = routed.spec, routed.fallback_from
            finish, reported = "stop", None
            try:
                async for piece in routed.pieces:
                    if piece.text:
                        text.append(piece.text)
                        yield Chunk(piece.text, req.request_id)
                    if piece.finish_reason:
                        finish, reported = piece.finish_reason, piece.usage
            except ProviderError as error:
                raise Unavailable(
                    f"{routed.spec.id!r} failed mid-stream ({error}); the answer is incomplete"
                ) from error
            finally:
                await routed.pieces.aclose()
                req.usage = reported or Usage(req.estimated_input, estimate_tokens("".join(text)))
            if key:
                await self._cache.put(key, self._cached(req, "".join(text), finish))
            yield self._last(req, self._result(req, "".join(text), finish))
        except AetherError as error:
            req.error = error
            raise
        except (asyncio.CancelledError, GeneratorExit):
            req.cancelled = True  # the client went away: account what was generated
            if req.usage.total == 0 and text:
                req.usage = Usage(req.estimated_input, estimate_tokens("".join(text)))
            raise
        finally:
            self._account(req)

    # --- embeddings ---------------------------------------------------------

    async def embed(
        self, model: str, texts: Sequence[str], single: bool, deadline: float
    ) -> EmbeddingsResult:
        principal = current_principal()
        spec = self._usable(model or LOCAL_EMBEDDING_MODEL, "embeddings", "model")
        estimated = sum(map(estimate_tokens, texts))
        req = await self._admit(principal, spec, "embeddings", "", estimated, 0)
        self._ledger.received(
            req.request_id,
            events_pb2.AiRequestReceived(
                request_id=req.request_id,
                user_id=principal.user_id,
                operation="embeddings",
                model=spec.id,
                input_chars=sum(map(len, texts)),
                texts=0 if single else len(texts),
            ),
        )
        with self._accounted(req):
            vectors = await self._router.embed(spec, list(texts), deadline)
            req.model, req.usage = spec, Usage(vectors.tokens, 0)
            dims = len(vectors.vectors[0]) if vectors.vectors else spec.dimensions
            return EmbeddingsResult(vectors.vectors, dims, spec.id, vectors.tokens)

    # --- models and usage ---------------------------------------------------

    async def list_models(self, provider: str, capability: str) -> tuple[list[ModelView], str]:
        specs = [
            s
            for s in self._catalog.models
            if (not provider or s.provider == provider) and (not capability or s.can(capability))
        ]
        reachable = await self._probe.reachable({s.provider for s in specs} & set(self._providers))
        views = [ModelView(s, self._status(s, reachable)) for s in specs]
        return views, await self.current_model(current_principal().user_id)

    async def current_model(self, user_id: str) -> str:
        chosen = await self._store.default_model(user_id)
        if chosen and self._catalog.find(chosen):
            return chosen
        return self.system_default

    async def switch_model(self, model: str) -> tuple[str, str]:
        """Set the caller's default; returns (current, previous)."""
        principal = current_principal()
        spec = self._usable(model, "chat", "model")
        previous = await self._store.set_default_model(principal.user_id, spec.id)
        return spec.id, previous or self.system_default

    async def usage(self, user_id: str, start: datetime, end: datetime, model: str) -> UsageReport:
        principal = current_principal()
        if user_id and user_id != principal.user_id and not principal.is_admin:
            raise PermissionDenied("only admins may read another user's AI usage")
        scope = user_id or (None if principal.is_admin else principal.user_id)
        await self._ledger.flush()  # read your own requests, even those just answered
        return await self._store.usage(scope, start, end, model)

    # --- internals ----------------------------------------------------------

    def _status(self, spec: ModelSpec, reachable: Mapping[str, bool]) -> str:
        if spec.provider not in self._providers:
            return "unavailable"
        breaker = self._router.breaker(spec.provider)
        if breaker is not None and breaker.remaining() > 0:
            return "rate_limited" if breaker.rate_limited else "unavailable"
        return "available" if reachable.get(spec.provider, True) else "unavailable"

    def _usable(self, name: str, capability: str, field_name: str) -> ModelSpec:
        """The model named (id or alias), configured and able to do `capability`."""
        spec = self._catalog.get(name)
        if not spec.can(capability):
            raise InvalidArgument(
                f"model {spec.id!r} cannot do {capability}",
                [FieldViolation(field_name, f"{spec.id} lacks the {capability!r} capability")],
            )
        if spec.provider not in self._providers:
            setting = config.REQUIRED_SETTING.get(spec.provider, "its provider settings")
            raise FailedPrecondition(
                f"model {spec.id!r} is not available: its provider {spec.provider} is not configured "
                f"(set {setting})",
                reason=ErrorReason.NOT_CONFIGURED,
            )
        return spec

    async def _accept_chat(self, inp: ChatInput, operation: str) -> tuple[_Accepted, Prompt]:
        principal = current_principal()
        name = inp.model or await self.current_model(principal.user_id)
        if not name:
            settings = ", ".join(config.REQUIRED_SETTING.values())
            raise FailedPrecondition(
                f"no AI provider is configured; set one of {settings}", reason=ErrorReason.NOT_CONFIGURED
            )
        spec = self._usable(name, "streaming" if operation == "stream_chat" else "chat", "model")
        # The model is the router's to fill in (the chosen one's upstream name).
        prompt = Prompt(
            "", [*inp.context, Message("user", inp.message)], inp.temperature, inp.max_tokens or None
        )
        estimated = prompt.estimated_input_tokens()
        violations = []
        if inp.max_tokens > spec.max_tokens:
            violations.append(
                FieldViolation("options.maxTokens", f"{spec.id} generates at most {spec.max_tokens} tokens")
            )
        elif estimated + inp.max_tokens > spec.context_window:
            violations.append(
                FieldViolation(
                    "context",
                    f"the conversation is about {estimated} tokens; with maxTokens {inp.max_tokens} "
                    f"it exceeds {spec.id}'s context window of {spec.context_window} tokens",
                )
            )
        if violations:
            raise InvalidArgument("; ".join(v.description for v in violations), violations)
        output_reserve = inp.max_tokens or spec.max_tokens
        req = await self._admit(principal, spec, operation, inp.request_id, estimated, output_reserve)
        self._ledger.received(
            req.request_id,
            events_pb2.AiRequestReceived(
                request_id=req.request_id,
                user_id=principal.user_id,
                operation=operation,
                model=spec.id,
                input_chars=sum(len(m.content) for m in prompt.messages),
                context_messages=len(inp.context),
            ),
        )
        return req, prompt

    async def _admit(
        self,
        principal: Principal,
        spec: ModelSpec,
        operation: str,
        rid: str,
        estimated: int,
        output_reserve: int,
    ) -> _Accepted:
        try:
            window = await self._limiter.admit(
                principal.user_id, spec.id, spec.requests_per_minute, spec.tokens_per_minute, estimated
            )
        except AetherError as error:
            if spec.requests_per_minute:
                self._rate_headers(spec.requests_per_minute, 0, round(error.retry_after_seconds or 60))
            raise
        if window.limit:
            self._rate_headers(window.limit, window.remaining, window.reset_seconds)
        reservation = await self._budgets.reserve(
            principal.user_id, estimated + output_reserve, spec.cost_usd(estimated, output_reserve)
        )
        return _Accepted(
            principal, spec, operation, rid or request_id(), time.monotonic(), estimated, reservation
        )

    @staticmethod
    def _rate_headers(limit: int, remaining: int, reset: int) -> None:
        add_response_header("x-ratelimit-limit", str(limit))
        add_response_header("x-ratelimit-remaining", str(remaining))
        add_response_header("x-ratelimit-reset", str(reset))

    def _cache_key(self, req: _Accepted, inp: ChatInput, prompt: Prompt) -> str:
        if not cacheable(inp.temperature):
            return ""
        return self._cache.key(req.principal.user_id, req.spec.id, prompt.messages, inp.max_tokens)

    def _cached(self, req: _Accepted, text: str, finish: str) -> CachedAnswer:
        model = req.model or req.spec
        return CachedAnswer(text, model.id, model.provider, req.usage.input, req.usage.output, finish)

    def _from_cache(self, req: _Accepted, hit: CachedAnswer) -> ChatResult:
        req.cached = True
        req.model = self._catalog.find(hit.model) or req.spec
        req.usage = Usage(hit.input_tokens, hit.output_tokens)
        return self._result(req, hit.text, hit.finish_reason)

    def _result(self, req: _Accepted, text: str, finish: str) -> ChatResult:
        model = req.model or req.spec
        return ChatResult(
            text, model.id, model.provider, req.usage, req.latency_ms, req.request_id, req.cached, finish
        )

    @contextmanager
    def _accounted(self, req: _Accepted) -> Iterator[None]:
        """Around a unary request: record how it ended, then account it."""
        try:
            yield
        except AetherError as error:
            req.error = error
            raise
        except asyncio.CancelledError:
            req.cancelled = True  # the caller went away or its deadline passed
            raise
        finally:
            self._account(req)

    def _last(self, req: _Accepted, result: ChatResult) -> ChatResult:
        """A stream's final message, accounted before it is sent: a caller that
        has it and reads its usage next must find this request there."""
        self._account(req)
        return result

    def _account(self, req: _Accepted) -> None:
        """Queue the ledger row + "ai.response.generated" event, the budget
        settlement and the rate-limit window's real token count (ledger.py),
        once per request: nothing here can delay or fail the answer."""
        if req.accounted:
            return
        req.accounted = True
        model = req.model or req.spec
        usage = req.usage
        cost = 0.0 if req.cached else model.cost_usd(usage.input, usage.output)
        success = req.error is None and not req.cancelled
        error_code = ""
        if req.error is not None:
            error_code = status_code_of(req.error).name
        elif req.cancelled:
            error_code = "CANCELLED"
        entry = LedgerEntry(
            request_id=req.request_id,
            user_id=req.principal.user_id,
            operation=req.operation,
            model=model.id,
            provider=model.provider,
            fallback_from=req.fallback_from,
            input_tokens=usage.input,
            output_tokens=usage.output,
            cost_usd=cost,
            latency_ms=req.latency_ms,
            cached=req.cached,
            streamed=req.operation == "stream_chat",
            cancelled=req.cancelled,
            success=success,
            error_code=error_code,
        )
        event = events_pb2.AiResponseGenerated(
            request_id=req.request_id,
            user_id=req.principal.user_id,
            operation=req.operation,
            model=model.id,
            provider=model.provider,
            fallback_from=req.fallback_from,
            tokens=model_pb2.TokenUsage(input=usage.input, output=usage.output, total=usage.total),
            latency_ms=req.latency_ms,
            cached=req.cached,
            success=success,
            error_code=error_code,
            error_message=req.error.message if req.error else "",
            cost_usd=cost,
            streamed=entry.streamed,
            cancelled=req.cancelled,
        )
        charged = 0 if req.cached else usage.total

        def settle(batch: Pipeline) -> None:
            self._budgets.settle(batch, req.reservation, charged, cost)
            self._limiter.charge(batch, req.principal.user_id, req.spec.id, charged - req.estimated_input)

        self._ledger.finished(entry, event, settle)


class ProviderProbe:
    """Whether each configured provider answers, checked at most every `ttl`
    seconds and concurrently, so ListModels shows live status cheaply."""

    def __init__(self, providers: Mapping[str, Provider], ttl: float = 30.0, timeout: float = 3.0):
        self._providers = providers
        self._ttl = ttl
        self._timeout = timeout
        self._seen: dict[str, tuple[float, bool]] = {}

    async def reachable(self, names: set[str]) -> dict[str, bool]:
        now = time.monotonic()
        stale = sorted(n for n in names if n not in self._seen or now - self._seen[n][0] > self._ttl)

        async def check(name: str) -> bool:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._providers[name].ping()
            except TimeoutError:
                return False

        for name, ok in zip(stale, await asyncio.gather(*(check(n) for n in stale)), strict=True):
            self._seen[name] = (now, ok)
        return {n: self._seen[n][1] for n in names}
