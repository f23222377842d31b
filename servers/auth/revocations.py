"""Revoked access tokens and per-user token epochs: the write side that logout
and the account changes need (each write published to every server's
servers.platform.revocations feed in the same MULTI), and the auth service's own
check, which reads Redis rather than a feed.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from servers.platform.context import Principal
from servers.platform.revocations import (
    CHANNEL,
    epoch_message,
    is_refused,
    revoked_message,
    revoked_token_key,
    token_epoch_key,
)


class TokenRevocations:
    """Writes the keys and messages the revocation feed follows.

    `epoch_ttl_seconds` is the longest an access token can live (plus the
    verifiers' clock leeway): after that no token from before the epoch exists."""

    def __init__(self, redis: Redis, epoch_ttl_seconds: int):
        self._redis = redis
        self._epoch_ttl = epoch_ttl_seconds

    async def is_revoked(self, principal: Principal) -> bool:
        revoked, epoch = await self._redis.mget(
            revoked_token_key(principal.token_id), token_epoch_key(principal.user_id)
        )
        return is_refused(principal, revoked is not None, int(epoch) if epoch is not None else None)

    async def revoke(self, token_id: str, ttl_seconds: int) -> None:
        """Mark the token revoked for `ttl_seconds` (at least until it expires)."""
        ttl = max(ttl_seconds, 1)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(revoked_token_key(token_id), "1", ex=ttl)
            pipe.publish(CHANNEL, revoked_message(token_id, ttl))
            await pipe.execute()

    async def start_epoch(self, user_id: str) -> int:
        """Refuse every token of the user issued until now: the epoch is the next
        whole second (a token's `iat` has one-second resolution)."""
        epoch = int(time.time()) + 1
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(token_epoch_key(user_id), str(epoch), ex=self._epoch_ttl)
            pipe.publish(CHANNEL, epoch_message(user_id, epoch, self._epoch_ttl))
            await pipe.execute()
        return epoch

    async def epoch(self, user_id: str) -> int:
        """The user's current epoch (0: none); new tokens are issued at or after it."""
        value = await self._redis.get(token_epoch_key(user_id))
        return int(value) if value is not None else 0
