"""Per-user limits in Redis, checked and charged atomically by Lua scripts.

Rate limits: requests and tokens per minute per user and model, in fixed
one-minute windows. A request is admitted with its estimated input tokens;
when it ends, the window is charged the real total.

Budgets: tokens and US dollars per user and period. A request reserves its
worst case (input estimate + max output, and that cost) before it starts and
settles to the real figures when it ends, streamed and cancelled ones
included, so concurrent or streamed requests can't overshoot the budget.
A batch of finished requests' settlements (servers.ai.domain.Settlement)
and window corrections is applied in one MULTI/EXEC (`Settler`, called by the
ledger, ledger.py). Both read the wall clock through an injected `clock`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from servers.ai.domain import BudgetExceeded, RateLimitExceeded, RateLimitInfo, Reservation, Settlement

log = logging.getLogger("aether.ai.limits")

WINDOW_SECONDS = 60

# KEYS[1] window hash; ARGV: rpm, tpm, tokens, ttl. Returns {admitted, requests, retry_after_ms}.
_ADMIT = """
local used = redis.call('HMGET', KEYS[1], 'r', 't')
local requests = tonumber(used[1] or '0')
local tokens = tonumber(used[2] or '0')
local rpm, tpm, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if (rpm > 0 and requests + 1 > rpm) or (tpm > 0 and tokens > 0 and tokens + want > tpm) then
  return {0, requests, redis.call('PTTL', KEYS[1])}
end
redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('HINCRBY', KEYS[1], 't', want)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, requests + 1, redis.call('PTTL', KEYS[1])}
"""

# KEYS[1] budget hash; ARGV: token budget, usd budget (micro-dollars), tokens, micro-usd, ttl.
_RESERVE = """
local b = redis.call('HMGET', KEYS[1], 'spent_t', 'held_t', 'spent_u', 'held_u')
local t = tonumber(b[1] or '0') + tonumber(b[2] or '0') + tonumber(ARGV[3])
local u = tonumber(b[3] or '0') + tonumber(b[4] or '0') + tonumber(ARGV[4])
if (tonumber(ARGV[1]) > 0 and t > tonumber(ARGV[1])) or (tonumber(ARGV[2]) > 0 and u > tonumber(ARGV[2])) then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'held_t', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'held_u', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _micro(usd: float) -> int:
    return math.ceil(usd * 1_000_000)


class RateLimiter:
    """`clock`: the wall clock in seconds (time.time), which picks the window."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time):
        self._redis = redis
        self._clock = clock
        self._admit = redis.register_script(_ADMIT)

    def _key(self, user_id: str, model: str) -> str:
        return f"ai:rl:{user_id}:{model}:{int(self._clock()) // WINDOW_SECONDS}"

    async def admit(self, user_id: str, model: str, rpm: int, tpm: int, tokens: int) -> RateLimitInfo | None:
        """Count one request with `tokens` estimated. Returns the requests-per-minute
        window (None when `rpm` is 0, unlimited); RateLimitExceeded, carrying the
        same, over a limit. (A request bigger than the whole tokens-per-minute
        limit still runs in an empty window, so it isn't refused forever.)"""
        key = self._key(user_id, model)
        admitted, requests, ttl_ms = await self._admit(
            keys=[key], args=[rpm, tpm, tokens, WINDOW_SECONDS + 5]
        )
        reset = max(1, math.ceil(int(ttl_ms) / 1000) - 5) if int(ttl_ms) > 0 else WINDOW_SECONDS
        if not admitted:
            raise RateLimitExceeded(
                f"rate limit for {model} exceeded ({rpm} requests or {tpm} tokens per minute); "
                f"retry in {reset} s",
                retry_after_seconds=reset,
                rate_limit=RateLimitInfo(rpm, 0, reset) if rpm else None,
            )
        return RateLimitInfo(rpm, max(0, rpm - int(requests)), reset) if rpm else None

    def charge(self, batch: Pipeline, user_id: str, model: str, extra_tokens: int) -> None:
        """Correct the window by what the request used beyond its estimate (queued on `batch`)."""
        if extra_tokens:
            batch.hincrby(self._key(user_id, model), "t", extra_tokens)


class Budgets:
    """`clock`: the current UTC time, which picks the budget period."""

    def __init__(
        self,
        redis: Redis,
        period: str,
        max_tokens: int,
        max_usd: float,
        clock: Callable[[], datetime] = _utcnow,
    ):
        if period not in ("day", "week", "month"):
            raise SystemExit(f"AI_BUDGET_PERIOD must be day, week or month, not {period!r}")
        self._redis = redis
        self._period = period
        self._max_tokens = max_tokens
        self._max_micro = _micro(max_usd)
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE)

    @property
    def enabled(self) -> bool:
        return bool(self._max_tokens or self._max_micro)

    def _bounds(self, now: datetime) -> tuple[datetime, datetime]:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self._period == "day":
            return day, day + timedelta(days=1)
        if self._period == "week":
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)

    async def reserve(self, user_id: str, tokens: int, usd: float) -> Reservation | None:
        if not self.enabled:
            return None
        now = self._clock()
        start, end = self._bounds(now)
        key = f"ai:budget:{user_id}:{start.date().isoformat()}"
        micro = _micro(usd)
        ttl = int((end - now).total_seconds()) + 3600
        if not await self._reserve(keys=[key], args=[self._max_tokens, self._max_micro, tokens, micro, ttl]):
            limits = [f"{self._max_tokens} tokens"] if self._max_tokens else []
            limits += [f"${self._max_micro / 1e6:g}"] if self._max_micro else []
            raise BudgetExceeded(
                f"your AI budget for this {self._period} ({' and '.join(limits)}) is used up; "
                f"it renews at {end.isoformat()}",
                retry_after_seconds=(end - now).total_seconds(),
            )
        return Reservation(key, tokens, micro)

    @staticmethod
    def settle(batch: Pipeline, reservation: Reservation | None, tokens: int, usd: float) -> None:
        """Release the reservation and charge what was spent (queued on `batch`, a
        MULTI/EXEC pipeline, so each settlement applies whole)."""
        if reservation is not None:
            batch.hincrby(reservation.bucket, "held_t", -reservation.tokens)
            batch.hincrby(reservation.bucket, "held_u", -reservation.micro_usd)
            batch.hincrby(reservation.bucket, "spent_t", tokens)
            batch.hincrby(reservation.bucket, "spent_u", _micro(usd))


class Settler:
    """Applies a batch of finished requests' settlements in one MULTI/EXEC, so
    each applies whole and the batch costs one round trip (the ledger's `Settle`)."""

    def __init__(self, redis: Redis, limiter: RateLimiter, budgets: Budgets):
        self._redis = redis
        self._limiter = limiter
        self._budgets = budgets

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        if not settlements:
            return
        batch = self._redis.pipeline(transaction=True)
        for s in settlements:
            self._budgets.settle(batch, s.reservation, s.tokens, s.cost_usd)
            self._limiter.charge(batch, s.user_id, s.model, s.extra_tokens)
        try:
            await batch.execute()
        except Exception:
            # Not retried: the transaction may have applied. Held budget expires with its period.
            log.exception("AI usage settlement failed", extra={"items": len(settlements)})
