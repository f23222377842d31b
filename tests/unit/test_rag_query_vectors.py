"""The query-vector cache: hits skip the gateway and give the very vector it
gave, per user and model, bounded in size and time."""

from __future__ import annotations

from collections.abc import Sequence

from servers.rag.query_vectors import CachedQueryVectors


class CountingEmbedder:
    """Stands in for the AI gateway: a deterministic vector per text, counting calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], str]:
        self.calls += texts
        # float32-representable values, as the gateway's proto floats are
        return [[float(len(t)), 0.5, -0.25] for t in texts], "all-MiniLM-L6-v2"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_repeated_query_is_served_from_the_cache_with_the_same_vector() -> None:
    embedder = CountingEmbedder()
    cache = CachedQueryVectors(embedder, "all-MiniLM-L6-v2")
    first = await cache.vector("alice", "lava")
    assert await cache.vector("alice", "lava") == first == [4.0, 0.5, -0.25]
    assert embedder.calls == ["lava"]


async def test_users_and_models_do_not_share_entries() -> None:
    embedder = CountingEmbedder()
    await CachedQueryVectors(embedder, "model-a").vector("alice", "lava")
    cache = CachedQueryVectors(embedder, "model-b")
    await cache.vector("alice", "lava")
    await cache.vector("bob", "lava")  # not a hit: bob must not learn what alice searched for
    assert embedder.calls == ["lava"] * 3


async def test_entries_expire_and_the_least_recently_used_goes_first() -> None:
    embedder, clock = CountingEmbedder(), Clock()
    cache = CachedQueryVectors(embedder, "m", max_entries=2, ttl_seconds=60, clock=clock)
    for text in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        await cache.vector("alice", text)
    assert len(cache) == 2 and embedder.calls == ["a", "b", "c"]
    await cache.vector("alice", "a")
    assert embedder.calls == ["a", "b", "c"]
    clock.now += 61
    await cache.vector("alice", "a")
    assert embedder.calls == ["a", "b", "c", "a"]


async def test_zero_entries_turns_the_cache_off() -> None:
    embedder = CountingEmbedder()
    cache = CachedQueryVectors(embedder, "m", max_entries=0)
    await cache.vector("alice", "a")
    await cache.vector("alice", "a")
    assert embedder.calls == ["a", "a"] and len(cache) == 0
