"""Rate-limit budgets charged by lease: a server process takes a few of a caller's
requests from its bucket in Redis at once and spends them locally, so most calls
cost no round trip (one was about a quarter of a small RPC's server CPU under
grpc.aio; benchmarks/README.md).

* **Never above the limit**: every request admitted was taken from the bucket in
  Redis first (GCRA, on Redis's clock), whichever process spends it.
* A lease is a sixteenth of what the bucket has left, at most `MAX_LEASE`, so a
  bucket near its end is charged one request at a time, exactly as without leases.
* A lease lives `LEASE_SECONDS`; what is left of it goes back to the bucket with
  the process's next grant for it. Until then the caller may be refused up to
  that many requests early (the cost of the cut; at most a sixteenth of the budget
  per process).
* A refusal is remembered until its retry time: a caller over its limit is refused
  locally, without a round trip per refused call.
* X-RateLimit-Remaining is the bucket's remaining at the grant plus what is left of
  this process's lease: exact with one process, an upper bound with several.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from servers.platform.rate_limits import Bucket, Charge

MAX_LEASE = 100
LEASE_SHARE = 16
LEASE_SECONDS = 1.0
PRUNE_EVERY = 10_000  # grants between sweeps of the leases map

# KEYS: [bucket]. ARGV: requests, period (ms), wanted, returned (a lease's unspent requests).
# Returns {granted, remaining, retry_after_ms, reset_ms}; granted 0 is a refusal.
_GRANT = """
local limit, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local wanted, returned = tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = period / limit
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - returned * interval
if tat < now then tat = now end
-- GCRA: a request is allowed while tat + interval - period <= now.
local free = math.floor((now + period - tat) / interval)
local granted = math.min(wanted, free)
if granted < 1 then
  return {0, 0, math.ceil(tat + interval - period - now), math.ceil(tat - now)}
end
local new_tat = tat + granted * interval
-- At least 1 ms: an interval below a double's resolution at epoch milliseconds (limits of
-- millions a second) leaves new_tat == now, and PX 0 is an error.
local ttl = math.max(1, math.ceil(new_tat - now))
redis.call('SET', KEYS[1], new_tat, 'PX', ttl)
return {granted, math.floor((now + period - new_tat) / interval), 0, ttl}
"""


class GrantsInFlight:
    """At most one grant in flight per key in a process: the other calls of that key wait for
    it (`wait_for_another`) and then take from the lease it brought."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[None]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._running

    async def wait_for_another(self, key: Hashable) -> bool:
        """Whether another grant of `key` was in flight (it has ended when this returns)."""
        running = self._running.get(key)
        if running is None:
            return False
        await running
        return True

    @contextlib.contextmanager
    def granting(self, key: Hashable) -> Iterator[None]:
        done = asyncio.get_running_loop().create_future()
        self._running[key] = done
        try:
            yield
        finally:
            del self._running[key]
            done.set_result(None)


@dataclass
class _Lease:
    left: int  # requests this process may still admit
    remaining: int  # the bucket's remaining after the grant
    expires: float  # clock
    reset_at: float  # clock: the bucket full again
    refused_until: float = 0.0  # clock: refused locally until then

    def take(self, now: float) -> Charge | None:
        """One request from the lease, a remembered refusal, or None (ask Redis)."""
        if now < self.refused_until:
            return Charge(False, 0, self.refused_until - now, max(0.0, self.reset_at - now))
        if self.left > 0 and now < self.expires:
            self.left -= 1
            return Charge(True, self.remaining + self.left, 0.0, max(0.0, self.reset_at - now))
        return None

    def unspent(self, now: float) -> int:
        return self.left if now >= self.expires else 0


class BudgetLeases:
    """Each bucket's lease in this process; one grant in flight per bucket."""

    def __init__(self, redis: Any, clock: Callable[[], float] = time.monotonic):
        self._script = redis.register_script(_GRANT)
        self._clock = clock
        self._leases: dict[str, _Lease] = {}
        self._granting = GrantsInFlight()
        self._grants = 0

    async def charge(self, bucket: Bucket) -> Charge:
        """One request charged to the bucket: from the lease, else from Redis (raises its outage)."""
        while True:
            lease = self._leases.get(bucket.key)
            now = self._clock()
            if lease is not None:
                charge = lease.take(now)
                if charge is not None:
                    return charge
            if await self._granting.wait_for_another(bucket.key):
                continue  # another call of this bucket asked: take from its grant
            with self._granting.granting(bucket.key):
                self._leases[bucket.key] = await self._grant(bucket, lease, now)

    async def _grant(self, bucket: Bucket, old: _Lease | None, now: float) -> _Lease:
        wanted = 1 if old is None else max(1, min(MAX_LEASE, (old.remaining + old.left) // LEASE_SHARE))
        returned = old.unspent(now) if old is not None else 0
        if old is not None:
            old.left -= returned  # given back once: lost if the grant fails, never counted twice
        granted, remaining, retry_ms, reset_ms = (
            int(x)
            for x in await self._script(
                keys=[bucket.key], args=[bucket.requests, bucket.period_ms, wanted, returned]
            )
        )
        now = self._clock()
        self._grants += 1
        if self._grants % PRUNE_EVERY == 0:
            self._prune(now)
        if not granted:
            return _Lease(0, 0, now, now + reset_ms / 1000, refused_until=now + retry_ms / 1000)
        return _Lease(granted, remaining, now + LEASE_SECONDS, now + reset_ms / 1000)

    def _prune(self, now: float) -> None:
        """Forget buckets whose lease and refusal are over (their unspent requests, at most
        a lease each, stay charged until the bucket refills)."""
        self._leases = {
            key: lease
            for key, lease in self._leases.items()
            if lease.expires > now or lease.refused_until > now or key in self._granting
        }
