"""Login throttling in Redis, modelled on Auth0's brute-force protection and
Keycloak's wait increments, in three layers:

- per client (address), across emails: credential stuffing from one client
  (many emails, few guesses each) is cut off after `client_max_failures`;
- per (account, client): `pair_max_failures` wrong passwords lock that account
  *for that client only*, so an attacker locks out themselves, not the user;
- per account, across clients: past `account_threshold` failures a client that
  never signed in to the account successfully waits an exponentially growing
  backoff (capped) between attempts, which slows a distributed guesser while
  the user's own known clients are never held back by it.

Keys are hashes of the email and the client, and every counter exists for
unknown emails too, so responses never reveal whether an account exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from servers.platform.errors import RateLimited

LOCKED_MESSAGE = "too many failed login attempts; try again later"


@dataclass(frozen=True)
class ThrottlePolicy:
    client_max_failures: int = 20
    client_window_seconds: int = 600
    client_lockout_seconds: int = 900
    pair_max_failures: int = 5
    pair_window_seconds: int = 900
    pair_lockout_seconds: int = 900
    account_threshold: int = 10
    account_window_seconds: int = 3600
    account_backoff_max_seconds: int = 300
    known_client_days: int = 30


# KEYS: client failures, client lock, pair failures, pair lock, account failures, account backoff.
# ARGV: the policy's numbers, in the order of _failure_args. Atomic, so concurrent
# guesses cannot slip past a threshold.
_RECORD_FAILURE = """
local function count(key, window)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, window) end
  return n
end
if count(KEYS[1], ARGV[2]) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
end
if count(KEYS[3], ARGV[5]) >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[4], '1', 'EX', ARGV[6])
  redis.call('DEL', KEYS[3])
end
local over = count(KEYS[5], ARGV[8]) - tonumber(ARGV[7])
if over >= 0 then
  local wait = math.min(2 ^ over, tonumber(ARGV[9]))
  redis.call('SET', KEYS[6], '1', 'EX', math.floor(wait))
end
return 1
"""

# KEYS: client lock, pair lock, account backoff, known pair. The longest wait that applies.
_CHECK = """
local wait = math.max(redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2]), 0)
if redis.call('EXISTS', KEYS[4]) == 0 then
  wait = math.max(wait, redis.call('TTL', KEYS[3]))
end
return wait
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Keys:
    client_failures: str
    client_lock: str
    pair_failures: str
    pair_lock: str
    account_failures: str
    account_backoff: str
    known_pair: str

    @classmethod
    def of(cls, email: str, client: str) -> _Keys:
        e, c = _digest(email), _digest(client)
        return cls(
            f"auth:login:client-failures:{c}",
            f"auth:login:client-lock:{c}",
            f"auth:login:pair-failures:{e}:{c}",
            f"auth:login:pair-lock:{e}:{c}",
            f"auth:login:account-failures:{e}",
            f"auth:login:account-backoff:{e}",
            f"auth:login:known:{e}:{c}",
        )


class LoginThrottle:
    """What the use cases see as servers.auth.usecases.LoginAttempts."""

    def __init__(self, redis: Redis, policy: ThrottlePolicy | None = None):
        self._redis = redis
        self._policy = policy or ThrottlePolicy()
        self._record = redis.register_script(_RECORD_FAILURE)
        self._check = redis.register_script(_CHECK)

    async def check(self, email: str, client: str) -> None:
        """Raise RateLimited (with the wait left) while this client may not try this email."""
        k = _Keys.of(email, client)
        wait = int(await self._check(keys=[k.client_lock, k.pair_lock, k.account_backoff, k.known_pair]))
        if wait > 0:
            raise RateLimited(LOCKED_MESSAGE, retry_after_seconds=wait)

    async def failed(self, email: str, client: str) -> None:
        k = _Keys.of(email, client)
        p = self._policy
        await self._record(
            keys=[
                k.client_failures,
                k.client_lock,
                k.pair_failures,
                k.pair_lock,
                k.account_failures,
                k.account_backoff,
            ],
            args=[
                p.client_max_failures,
                p.client_window_seconds,
                p.client_lockout_seconds,
                p.pair_max_failures,
                p.pair_window_seconds,
                p.pair_lockout_seconds,
                p.account_threshold,
                p.account_window_seconds,
                p.account_backoff_max_seconds,
            ],
        )

    async def succeeded(self, email: str, client: str) -> None:
        """The right password: this client is now known for the account, and the
        account's and the pair's failures are forgiven."""
        k = _Keys.of(email, client)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(k.pair_failures, k.account_failures, k.account_backoff)
            pipe.set(k.known_pair, "1", ex=self._policy.known_client_days * 86400)
            await pipe.execute()
