"""Response cache in Redis for repeatable requests: those sent with
temperature 0 (servers.ai.domain.cacheable). Entries are per user (a shared
cache would let one user learn, by timing, what another asked), keyed by a
hash of the model and the whole conversation, and only complete answers are
stored, never errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict

from redis.asyncio import Redis

from servers.ai.domain import CachedAnswer
from servers.ai.providers.base import Message


class ResponseCache:
    def __init__(self, redis: Redis, ttl_seconds: int):
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def key(user_id: str, model: str, messages: Sequence[Message], max_tokens: int) -> str:
        material = json.dumps(
            [model, max_tokens, [[m.role, m.content] for m in messages]], separators=(",", ":")
        )
        return f"ai:cache:{user_id}:{hashlib.sha256(material.encode()).hexdigest()}"

    async def get(self, key: str) -> CachedAnswer | None:
        raw = await self._redis.get(key)
        if raw is None:
            return None
        try:
            return CachedAnswer(**json.loads(raw))
        except (TypeError, ValueError):
            await self._redis.delete(key)  # an entry from an older format
            return None

    async def put(self, key: str, answer: CachedAnswer) -> None:
        if self._ttl > 0 and answer.finish_reason in ("stop", "length"):
            await self._redis.set(key, json.dumps(asdict(answer)), ex=self._ttl)
