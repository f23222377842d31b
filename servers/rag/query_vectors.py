"""Query vectors, with a small LRU cache in front of the AI gateway.

Every search embeds its query; a repeated query (a user paging, retrying or
refining filters, ask after search) would pay the gateway round trip and a
model run again. Caching is safe because an embedding is deterministic: the
same model on the same text gives the same vector, so a cached one is the
one the gateway would return. The key holds the model, so vectors of
another model are never mixed in, and entries expire after a TTL, so a
gateway whose model behind the name was swapped is followed within it.

The key also holds the user: with one cache shared by all users, a user
could time their own searches to learn whether somebody else had searched
for a text recently. Per user, a hit only ever saves a call the same user
made before. A hit does not reach the gateway, so it spends none of the
caller's AI quota; it costs the provider nothing either."""

from __future__ import annotations

import time
from array import array
from collections import OrderedDict
from collections.abc import Callable

from servers.rag.retrieval import Embedder


class CachedQueryVectors:
    """servers.rag.retrieval.QueryVectors through the gateway, cached."""

    def __init__(
        self,
        embedder: Embedder,
        model: str,
        *,
        max_entries: int = 1024,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._embedder = embedder
        self._model = model
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        # (user, model, text) -> (expires at, vector); float32, as the gateway sends
        # them (bit-identical): 1.5 KiB per 384-dimension vector, ~2 MiB for 1,024.
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, array[float]]] = OrderedDict()

    async def vector(self, user_id: str, text: str) -> list[float]:
        key = (user_id, self._model, text)
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            self._entries.move_to_end(key)
            return found[1].tolist()
        vector = (await self._embedder.embed([text]))[0][0]
        if self._max > 0 and self._ttl > 0:
            self._entries[key] = (now + self._ttl, array("f", vector))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return vector

    def __len__(self) -> int:
        return len(self._entries)
