"""Login throttling in Redis: after N failures for an email within a window the
email is locked out for a while. Keys are hashes of the email, and the same
counters exist for unknown emails, so responses never reveal whether an
account exists."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from servers.platform.errors import RateLimited

# KEYS[1] failures counter, KEYS[2] lock; ARGV: max failures, window s, lockout s.
# Atomic so concurrent guesses cannot slip past the threshold.
_RECORD_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
end
return n
"""


class LoginThrottle:
    """What the use cases see as servers.auth.usecases.LoginAttempts."""

    def __init__(
        self, redis: Redis, max_failures: int = 5, window_seconds: int = 900, lockout_seconds: int = 900
    ):
        self._redis = redis
        self._max_failures = max_failures
        self._window = window_seconds
        self._lockout = lockout_seconds
        self._record = redis.register_script(_RECORD_FAILURE)

    @staticmethod
    def _keys(email: str) -> tuple[str, str]:
        digest = hashlib.sha256(email.encode()).hexdigest()
        return f"auth:login-failures:{digest}", f"auth:login-lock:{digest}"

    async def check(self, email: str) -> None:
        """Raise RateLimited (with the remaining lockout) while the email is locked."""
        _, lock = self._keys(email)
        ttl = await self._redis.ttl(lock)
        if ttl > 0:
            raise RateLimited("too many failed login attempts; try again later", retry_after_seconds=ttl)

    async def failed(self, email: str) -> None:
        await self._record(
            keys=list(self._keys(email)), args=[self._max_failures, self._window, self._lockout]
        )

    async def succeeded(self, email: str) -> None:
        failures, _ = self._keys(email)
        await self._redis.delete(failures)
