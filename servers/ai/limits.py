"""Per-user limits in Redis, checked and charged atomically by Lua scripts.

Rate limits: requests and tokens per minute per user and model, in fixed
one-minute windows, charged by lease (`RateLimiter`). A request is admitted
with its estimated input tokens; when it ends, the window is charged the real
total.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from servers.ai.domain import BudgetExceeded, RateLimitExceeded, RateLimitInfo, Reservation, Settlement
from servers.platform.budget_leases import LEASE_SECONDS, LEASE_SHARE, MAX_LEASE, PRUNE_EVERY, GrantsInFlight

log = logging.getLogger("aether.ai.limits")

WINDOW_SECONDS = 60

# KEYS[1] window hash. ARGV: rpm, tpm, this request's tokens, requests and tokens wanted,
# requests and tokens given back (a lapsed lease's), ttl. Returns {requests granted (0: refused),
# tokens granted, the window's requests and tokens after it, its PTTL}.
_LEASE = """
local used = redis.call('HMGET', KEYS[1], 'r', 't')
local rpm, tpm, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local requests = math.max(0, tonumber(used[1] or '0') - tonumber(ARGV[6]))
local tokens = math.max(0, tonumber(used[2] or '0') - tonumber(ARGV[7]))
local granted_r, granted_t = 0, 0
if not ((rpm > 0 and requests + 1 > rpm) or (tpm > 0 and tokens > 0 and tokens + need > tpm)) then
  granted_r, granted_t = tonumber(ARGV[4]), tonumber(ARGV[5])
  if rpm > 0 then granted_r = math.min(granted_r, rpm - requests) end
  if tpm > 0 then granted_t = math.max(need, math.min(granted_t, tpm - tokens)) end
end
if granted_r > 0 or tonumber(ARGV[6]) > 0 or tonumber(ARGV[7]) > 0 then
  redis.call('HSET', KEYS[1], 'r', requests + granted_r, 't', tokens + granted_t)
  redis.call('EXPIRE', KEYS[1], ARGV[8])
end
return {granted_r, granted_t, requests + granted_r, tokens + granted_t, redis.call('PTTL', KEYS[1])}
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


@dataclass
class _WindowLease:
    """Requests and tokens of one window this process may still admit."""

    key: str  # the window's
    requests: int
    tokens: int
    counted: int  # the window's requests after the grant
    counted_tokens: int
    expires: float  # clock
    reset: int  # seconds until the window ends, at the grant

    def take(self, key: str, tokens: int, tpm: int, now: float) -> bool:
        if key != self.key or now >= self.expires or self.requests < 1 or (tpm and self.tokens < tokens):
            return False
        self.requests -= 1
        self.tokens -= tokens
        return True

    def unspent(self, key: str) -> tuple[int, int]:
        return (self.requests, self.tokens) if key == self.key else (0, 0)

    def window(self, rpm: int) -> RateLimitInfo | None:
        """The caller's requests-per-minute window as this process sees it (None: unlimited)."""
        return RateLimitInfo(rpm, max(0, rpm - self.counted + self.requests), self.reset) if rpm else None


class RateLimiter:
    """Charged by lease, as the platform's per-caller limits are (servers.platform.budget_leases,
    whose policy it shares): a process takes a few requests (and their tokens) of a window at
    once and admits from them locally, so most requests cost no round trip. Every request
    admitted was counted in Redis first; a lease is at most a sixteenth of what the window has
    left and lives a second; what is left of it goes back with the next grant.

    `clock`: the wall clock in seconds (time.time), which picks the window."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time):
        self._redis = redis
        self._clock = clock
        self._lease = redis.register_script(_LEASE)
        self._leases: dict[tuple[str, str], _WindowLease] = {}
        self._granting = GrantsInFlight()
        self._grants = 0

    def _key(self, user_id: str, model: str) -> str:
        return f"ai:rl:{user_id}:{model}:{int(self._clock()) // WINDOW_SECONDS}"

    async def admit(self, user_id: str, model: str, rpm: int, tpm: int, tokens: int) -> RateLimitInfo | None:
        """Count one request with `tokens` estimated. Returns the requests-per-minute
        window (None when `rpm` is 0, unlimited); RateLimitExceeded, carrying the
        same, over a limit. (A request bigger than the whole tokens-per-minute
        limit still runs in an empty window, so it isn't refused forever.)"""
        slot = (user_id, model)
        while True:
            key = self._key(user_id, model)
            lease = self._leases.get(slot)
            if lease is not None and lease.take(key, tokens, tpm, self._clock()):
                return lease.window(rpm)
            if await self._granting.wait_for_another(slot):
                continue  # another request of this user and model asked: take from its grant
            with self._granting.granting(slot):
                # What is left of the old lease goes back with the grant: no other request may take it.
                old = self._leases.pop(slot, None)
                lease = await self._grant(key, old, rpm, tpm, tokens)
                if lease.requests:
                    self._leases[slot] = lease  # before the waiters wake: they take from it
            if not lease.requests:  # refused: this request's answer; the next one asks again
                raise RateLimitExceeded(
                    f"rate limit for {model} exceeded ({rpm} requests or {tpm} tokens per minute); "
                    f"retry in {lease.reset} s",
                    retry_after_seconds=lease.reset,
                    rate_limit=RateLimitInfo(rpm, 0, lease.reset) if rpm else None,
                )

    async def _grant(
        self, key: str, old: _WindowLease | None, rpm: int, tpm: int, tokens: int
    ) -> _WindowLease:
        """A new lease of the window; of no requests when refused."""
        wanted, wanted_tokens = 1, tokens  # the first of a window: one request, as without leases
        if old is not None and old.key == key:
            left = rpm - old.counted + old.requests if rpm else MAX_LEASE * LEASE_SHARE
            wanted = max(1, min(MAX_LEASE, left // LEASE_SHARE))
            wanted_tokens = tokens * wanted
            if tpm:
                tokens_left = tpm - old.counted_tokens + old.tokens
                wanted_tokens = max(tokens, min(wanted_tokens, tokens_left // LEASE_SHARE))
        returned = old.unspent(key) if old is not None else (0, 0)
        granted, granted_tokens, counted, counted_tokens, ttl_ms = (
            int(x)
            for x in await self._lease(
                keys=[key],
                args=[rpm, tpm, tokens, wanted, wanted_tokens, *returned, WINDOW_SECONDS + 5],
            )
        )
        self._grants += 1
        if self._grants % PRUNE_EVERY == 0:  # lapsed leases (their unspent stay counted in their window)
            now = self._clock()
            self._leases = {slot: lease for slot, lease in self._leases.items() if lease.expires > now}
        reset = max(1, math.ceil(ttl_ms / 1000) - 5) if ttl_ms > 0 else WINDOW_SECONDS
        expires = self._clock() + LEASE_SECONDS
        return _WindowLease(key, granted, granted_tokens, counted, counted_tokens, expires, reset)

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
