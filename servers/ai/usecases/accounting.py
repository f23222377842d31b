"""Admission and accounting, shared by chat and embeddings.

A request is admitted in two steps, so the transport can report the caller's
rate-limit window before anything else can fail: `admit` counts it against
the rate limits (its RateLimitInfo, or RateLimitExceeded carrying it), then
`begin` reserves its budget and records "ai.request.received". From then on
it is accounted exactly once, however it ends (`accounted`, `account`): a
ledger row with its "ai.response.generated" event and a settlement of its
budget and rate-limit window, all queued on the ledger, off the request path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from servers.ai.catalog import ModelSpec
from servers.ai.domain import (
    NO_USAGE,
    STREAM_CHAT,
    LedgerEntry,
    RateLimitInfo,
    RequestReceived,
    Reservation,
    ResponseGenerated,
    Settlement,
)
from servers.ai.providers.base import Usage
from servers.ai.usecases.ports import Budget, RateLimits, UsageLedger
from servers.platform.context import Principal
from servers.platform.errors import AetherError, status_code_of


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Request:
    """An admitted request, until it is accounted for."""

    principal: Principal
    spec: ModelSpec  # the model asked for
    operation: str
    request_id: str
    estimated_input: int
    output_reserve: int  # output tokens the budget holds for it
    received: RequestReceived  # recorded once the budget admits it
    rate_limit: RateLimitInfo | None
    # Filled in as it goes.
    started: float = 0.0
    reservation: Reservation | None = None
    model: ModelSpec | None = None  # the model that answered
    fallback_from: str = ""
    usage: Usage = NO_USAGE
    cached: bool = False
    cancelled: bool = False
    error: AetherError | None = None
    accounted: bool = False

    @property
    def latency_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


class Accountant:
    def __init__(
        self,
        limiter: RateLimits,
        budget: Budget,
        ledger: UsageLedger,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self._limiter = limiter
        self._budget = budget
        self._ledger = ledger
        self._clock = clock

    async def admit(
        self,
        principal: Principal,
        spec: ModelSpec,
        operation: str,
        rid: str,
        estimated: int,
        output_reserve: int,
        received: RequestReceived,
    ) -> Request:
        """Count the request (`rid`: its id) against the caller's rate limits for `spec`."""
        window = await self._limiter.admit(
            principal.user_id, spec.id, spec.requests_per_minute, spec.tokens_per_minute, estimated
        )
        return Request(principal, spec, operation, rid, estimated, output_reserve, received, window)

    async def begin(self, req: Request) -> None:
        """Reserve the request's worst case from the budget and record it received;
        from here on it must be accounted (`accounted` / `account`)."""
        req.reservation = await self._budget.reserve(
            req.principal.user_id,
            req.estimated_input + req.output_reserve,
            req.spec.cost_usd(req.estimated_input, req.output_reserve),
        )
        req.started = time.monotonic()
        self._ledger.received(req.received)

    @contextmanager
    def accounted(self, req: Request) -> Iterator[None]:
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
            self.account(req)

    def account(self, req: Request) -> None:
        """Queue the ledger row + "ai.response.generated" event and the budget and
        rate-limit settlement, once per request: nothing here can delay or fail
        the answer."""
        if req.accounted:
            return
        req.accounted = True
        model = req.model or req.spec
        usage = req.usage
        cost = 0.0 if req.cached else model.cost_usd(usage.input, usage.output)
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
            finished_at=self._clock(),
            fallback_from=req.fallback_from,
            input_tokens=usage.input,
            output_tokens=usage.output,
            cost_usd=cost,
            latency_ms=req.latency_ms,
            cached=req.cached,
            streamed=req.operation == STREAM_CHAT,
            cancelled=req.cancelled,
            success=req.error is None and not req.cancelled,
            error_code=error_code,
        )
        charged = 0 if req.cached else usage.total
        self._ledger.finished(
            ResponseGenerated(entry, req.error.message if req.error else ""),
            Settlement(
                req.principal.user_id,
                req.spec.id,
                req.reservation,
                charged,
                cost,
                charged - req.estimated_input,
            ),
        )
