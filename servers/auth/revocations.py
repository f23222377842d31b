"""Revoked access tokens and per-user token epochs: the write side that logout
and the account changes need, and the same check every server's admission step
makes (servers.platform.admission).
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from servers.platform.admission import Admission
from servers.platform.context import Principal
from servers.platform.token_epochs import token_epoch_key
from servers.platform.tokens import revoked_token_key


class TokenRevocations:
    """Writes the keys the admission script reads.

    `epoch_ttl_seconds` is the longest an access token can live (plus the
    verifiers' clock leeway): after that no token from before the epoch exists."""

    def __init__(self, redis: Redis, epoch_ttl_seconds: int):
        self._admission = Admission(redis)
        self._writer = redis
        self._epoch_ttl = epoch_ttl_seconds

    async def is_revoked(self, principal: Principal) -> bool:
        return await self._admission.token_refused(principal)

    async def revoke(self, token_id: str, ttl_seconds: int) -> None:
        """Mark the token revoked for `ttl_seconds` (at least until it expires)."""
        await self._writer.set(revoked_token_key(token_id), "1", ex=max(ttl_seconds, 1))

    async def start_epoch(self, user_id: str) -> int:
        """Refuse every token of the user issued until now: the epoch is the next
        whole second (a token's `iat` has one-second resolution)."""
        epoch = int(time.time()) + 1
        await self._writer.set(token_epoch_key(user_id), str(epoch), ex=self._epoch_ttl)
        return epoch

    async def epoch(self, user_id: str) -> int:
        """The user's current epoch (0: none); new tokens are issued at or after it."""
        value = await self._writer.get(token_epoch_key(user_id))
        return int(value) if value is not None else 0
