"""Whether each configured provider answers, for ListModels' live status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from servers.ai.providers.base import Provider


class ProviderProbe:
    """Pings providers at most every `ttl` seconds, concurrently, each within
    `timeout`, so ListModels shows live status cheaply."""

    def __init__(self, providers: Mapping[str, Provider], ttl: float = 30.0, timeout: float = 3.0):
        self._providers = providers
        self._ttl = ttl
        self._timeout = timeout
        self._seen: dict[str, tuple[float, bool]] = {}

    async def reachable(self, names: set[str]) -> dict[str, bool]:
        now = time.monotonic()
        stale = sorted(n for n in names if n not in self._seen or now - self._seen[n][0] > self._ttl)

        async def check(name: str) -> bool:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._providers[name].ping()
            except TimeoutError:
                return False

        for name, ok in zip(stale, await asyncio.gather(*(check(n) for n in stale)), strict=True):
            self._seen[name] = (now, ok)
        return {n: self._seen[n][1] for n in names}
