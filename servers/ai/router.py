"""Sends a prompt to a model, or to its fallbacks when the model's provider
fails: retries with backoff that honours Retry-After, a circuit breaker per
provider, and a deadline on every upstream call. A stream is retried or
rerouted only until its first piece: once text reached the client, a failure
ends the stream."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from servers.ai.catalog import Catalog, ModelSpec
from servers.ai.providers.base import Completion, Piece, Prompt, Provider, ProviderError, Vectors
from servers.platform.errors import Unavailable

log = logging.getLogger("aether.ai.router")
T = TypeVar("T")


@dataclass
class Breaker:
    """Per-provider circuit: opens after `threshold` consecutive failures for
    `cooldown` seconds, or at once for a 429's Retry-After; after that, calls
    are let through again and one more failure reopens it."""

    threshold: int
    cooldown: float
    failures: int = 0
    open_until: float = 0.0
    rate_limited: bool = False

    def remaining(self) -> float:
        return max(0.0, self.open_until - time.monotonic())

    def record_success(self) -> None:
        self.failures, self.open_until, self.rate_limited = 0, 0.0, False

    def record_failure(self, error: ProviderError) -> None:
        now = time.monotonic()
        self.failures += 1
        if error.rate_limited and error.retry_after:
            self.open_until = max(self.open_until, now + error.retry_after)
            self.rate_limited = True
        elif self.failures >= self.threshold:
            self.open_until = max(self.open_until, now + self.cooldown)
            self.rate_limited = error.rate_limited


@dataclass(frozen=True)
class Policy:
    attempts: int  # per model
    max_retry_wait: float  # a longer Retry-After sends the request to a fallback instead
    backoff: float
    timeout: float  # per upstream call (streams: until the first piece, then between pieces)
    breaker_failures: int
    breaker_cooldown: float


@dataclass(frozen=True)
class Answer:
    spec: ModelSpec
    completion: Completion
    fallback_from: str  # the requested model's id if a fallback answered, else ""


class Routed:
    """An opened stream: the model that serves it and its pieces."""

    def __init__(self, spec: ModelSpec, fallback_from: str, pieces: AsyncGenerator[Piece]):
        self.spec = spec
        self.fallback_from = fallback_from
        self.pieces = pieces


class Router:
    def __init__(self, catalog: Catalog, providers: Mapping[str, Provider], policy: Policy):
        self._catalog = catalog
        self._providers = providers
        self._policy = policy
        self._breakers = {
            name: Breaker(policy.breaker_failures, policy.breaker_cooldown) for name in providers
        }

    def breaker(self, provider: str) -> Breaker | None:
        return self._breakers.get(provider)

    def chain(self, spec: ModelSpec, capability: str) -> list[ModelSpec]:
        """The model, then its configured fallbacks that can do the same."""
        fallbacks = [self._catalog.get(name) for name in spec.fallbacks]
        usable = [f for f in fallbacks if f.provider in self._providers and f.can(capability) and f != spec]
        return [spec, *usable]

    async def complete(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Answer:
        async def call(model: ModelSpec, provider: Provider) -> Completion:
            return await provider.complete(_for(prompt, model))

        model, completion = await self._route(spec, "chat", deadline, call)
        return Answer(model, completion, "" if model == spec else spec.id)

    async def embed(self, spec: ModelSpec, texts: list[str], deadline: float) -> Vectors:
        async def call(model: ModelSpec, provider: Provider) -> Vectors:
            return await provider.embed(model.upstream_name, texts)

        # Vectors of different models aren't comparable: no fallback for embeddings.
        _, vectors = await self._route(spec, "embeddings", deadline, call, fallbacks=False)
        return vectors

    async def stream(self, spec: ModelSpec, prompt: Prompt, deadline: float) -> Routed:
        """Open a stream on the first model that yields a first piece."""

        async def call(model: ModelSpec, provider: Provider) -> AsyncGenerator[Piece]:
            pieces = provider.stream(_for(prompt, model))
            try:
                first = await anext(pieces)
            except StopAsyncIteration as error:
                raise ProviderError(f"{provider.name} sent an empty stream", retryable=True) from error
            except BaseException:
                await pieces.aclose()
                raise
            return _rest(first, pieces, self._policy.timeout, provider.name)

        model, pieces = await self._route(spec, "streaming", deadline, call)
        return Routed(model, "" if model == spec else spec.id, pieces)

    async def _route(
        self,
        spec: ModelSpec,
        capability: str,
        deadline: float,
        call: Callable[[ModelSpec, Provider], Awaitable[T]],
        fallbacks: bool = True,
    ) -> tuple[ModelSpec, T]:
        last: ProviderError | None = None
        waits: list[float] = []
        for model in self.chain(spec, capability) if fallbacks else [spec]:
            breaker = self._breakers[model.provider]
            if breaker.remaining() > 0:
                waits.append(breaker.remaining())
                continue
            try:
                return model, await self._attempts(model, breaker, deadline, call)
            except ProviderError as error:
                log.warning("model failed", extra={"model": model.id, "error": str(error)})
                last = error
                if breaker.remaining() > 0:
                    waits.append(breaker.remaining())
        if last is None:
            raise Unavailable(
                f"every provider for {spec.id!r} is cooling down; retry later",
                retry_after_seconds=min(waits) if waits else None,
            )
        raise Unavailable(
            f"{spec.id!r} failed ({last}) and no fallback could answer",
            retry_after_seconds=min(waits) if waits else last.retry_after,
        )

    async def _attempts(
        self,
        model: ModelSpec,
        breaker: Breaker,
        deadline: float,
        call: Callable[[ModelSpec, Provider], Awaitable[T]],
    ) -> T:
        policy = self._policy
        provider = self._providers[model.provider]

        def worth_retrying(error: BaseException) -> bool:
            return (
                isinstance(error, ProviderError)
                and error.retryable
                and (error.retry_after or 0) <= policy.max_retry_wait
            )

        # Jitter in proportion to the backoff (tenacity's default is a flat 0-1 s, which
        # would make a small AI_BACKOFF_SECONDS meaningless).
        backoff = wait_exponential_jitter(
            initial=policy.backoff, max=policy.max_retry_wait, jitter=policy.backoff
        )

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            delay = max(backoff(state), getattr(error, "retry_after", None) or 0.0)
            if time.monotonic() + delay >= deadline:  # no time left for another try
                raise error if isinstance(error, ProviderError) else TimeoutError()
            return delay

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait,
            retry=retry_if_exception(worth_retrying),
            reraise=True,
        ):
            with attempt:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProviderError(f"{provider.name}: no time left before the deadline", retryable=False)
                # In-process models (loading takes seconds on a cold start) have
                # only the deadline; remote calls also have the per-call timeout.
                timeout = remaining if model.provider == "local" else min(policy.timeout, remaining)
                try:
                    async with asyncio.timeout(timeout):
                        result = await call(model, provider)
                except TimeoutError as error:
                    failure = ProviderError(f"{provider.name} timed out", retryable=True)
                    breaker.record_failure(failure)
                    raise failure from error
                except ProviderError as error:
                    breaker.record_failure(error)
                    raise
                breaker.record_success()
                return result
        raise AssertionError("unreachable: tenacity reraises the last error")


async def _rest(
    first: Piece, pieces: AsyncGenerator[Piece], idle_seconds: float, provider: str
) -> AsyncGenerator[Piece]:
    """The stream from its first piece on, each next piece within `idle_seconds`; the
    upstream call is closed however the consumer stops (end, error, cancel)."""
    async with aclosing(pieces):
        yield first
        while True:
            try:
                async with asyncio.timeout(idle_seconds):
                    piece = await anext(pieces)
            except StopAsyncIteration:
                return
            except TimeoutError as error:
                raise ProviderError(f"{provider} stalled mid-stream", retryable=False) from error
            yield piece


def _for(prompt: Prompt, model: ModelSpec) -> Prompt:
    return Prompt(model.upstream_name, prompt.messages, prompt.temperature, prompt.max_tokens)
