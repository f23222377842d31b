"""Revoked access tokens: the platform's RevocationList (which the auth
interceptor of every server reads) plus the write side logout needs.

An adapter only until servers.platform.interceptors.RevocationList grows
`revoke`; then the auth service uses RevocationList itself and this goes.
"""

from __future__ import annotations

from redis.asyncio import Redis

from servers.platform.interceptors import RevocationList
from servers.platform.tokens import revoked_token_key


class TokenRevocations(RevocationList):
    """`is_revoked` is RevocationList's own; `revoke` writes the same Redis key."""

    def __init__(self, redis: Redis):
        super().__init__(redis)
        self._writer = redis

    async def revoke(self, token_id: str, ttl_seconds: int) -> None:
        """Mark the token revoked for `ttl_seconds` (at least until it expires)."""
        await self._writer.set(revoked_token_key(token_id), "1", ex=max(ttl_seconds, 1))
