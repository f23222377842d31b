"""Per-user limits in Redis, checked and charged atomically by Lua scripts.

Rate limits: requests and tokens per minute per user and model, in fixed
one-minute windows. A request is admitted with its estimated input tokens;
when it ends, the window is charged the real total.

Budgets: tokens and US dollars per user and period. A request reserves its
worst case (input estimate + max output, and that cost) before it starts and
settles to the real figures when it ends, streamed and cancelled ones
included, so concurrent or streamed requests can't overshoot the budget.
Settlements and window corrections are queued on a pipeline the ledger
sends once per batch of finished requests (ledger.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from servers.platform.errors import AetherError, ErrorReason, RateLimited

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


class BudgetExceeded(RateLimited):
    """RESOURCE_EXHAUSTED (a RateLimited for the status mapping), reason BUDGET_EXCEEDED."""

    def __init__(self, message: str, retry_after_seconds: float):
        AetherError.__init__(
            self, message, ErrorReason.BUDGET_EXCEEDED, retry_after_seconds=retry_after_seconds
        )


@dataclass(frozen=True)
class Window:
    """The caller's rate-limit window after admission (for X-RateLimit headers)."""

    limit: int
    remaining: int
    reset_seconds: int


def _micro(usd: float) -> int:
    return math.ceil(usd * 1_000_000)


class RateLimiter:
    def __init__(self, redis: Redis):
        self._redis = redis
        self._admit = redis.register_script(_ADMIT)

    @staticmethod
    def _key(user_id: str, model: str) -> str:
        return f"ai:rl:{user_id}:{model}:{int(time.time()) // WINDOW_SECONDS}"

    async def admit(self, user_id: str, model: str, rpm: int, tpm: int, tokens: int) -> Window:
        """Count one request with `tokens` estimated; RESOURCE_EXHAUSTED over a limit.
        (A request bigger than the whole tokens-per-minute limit still runs in an
        empty window, so it isn't refused forever.)"""
        key = self._key(user_id, model)
        admitted, requests, ttl_ms = await self._admit(
            keys=[key], args=[rpm, tpm, tokens, WINDOW_SECONDS + 5]
        )
        reset = max(1, math.ceil(int(ttl_ms) / 1000) - 5) if int(ttl_ms) > 0 else WINDOW_SECONDS
        if not admitted:
            raise RateLimited(
                f"rate limit for {model} exceeded ({rpm} requests or {tpm} tokens per minute); "
                f"retry in {reset} s",
                retry_after_seconds=reset,
            )
        return Window(rpm, max(0, rpm - int(requests)) if rpm else 0, reset)

    def charge(self, batch: Pipeline, user_id: str, model: str, extra_tokens: int) -> None:
        """Correct the window by what the request used beyond its estimate (queued on `batch`)."""
        if extra_tokens:
            batch.hincrby(self._key(user_id, model), "t", extra_tokens)


@dataclass(frozen=True)
class Reservation:
    key: str
    tokens: int
    micro_usd: int


class Budgets:
    def __init__(self, redis: Redis, period: str, max_tokens: int, max_usd: float):
        if period not in ("day", "week", "month"):
            raise SystemExit(f"AI_BUDGET_PERIOD must be day, week or month, not {period!r}")
        self._redis = redis
        self._period = period
        self._max_tokens = max_tokens
        self._max_micro = _micro(max_usd)
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
        now = datetime.now(UTC)
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
            batch.hincrby(reservation.key, "held_t", -reservation.tokens)
            batch.hincrby(reservation.key, "held_u", -reservation.micro_usd)
            batch.hincrby(reservation.key, "spent_t", tokens)
            batch.hincrby(reservation.key, "spent_u", _micro(usd))
