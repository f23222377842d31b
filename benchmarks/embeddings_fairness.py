"""How long a one-word embeddings request waits behind another user's burst
of large batches on the local model: arrival order (one lock, as before) vs
the fair turns of servers/ai/fairness.py. Real model (all-MiniLM-L6-v2 on
this CPU), in process; prints the small request's latency for both.

    .venv/bin/python benchmarks/embeddings_fairness.py [--batches 3] [--texts 64]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from servers.ai.fairness import FairQueue
from servers.ai.providers.local import LocalEmbeddings

Turn = Callable[[str], AbstractAsyncContextManager[None]]


def arrival_order() -> Turn:
    lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(user: str) -> AsyncIterator[None]:
        async with lock:
            yield

    return turn


def fair() -> Turn:
    queue = FairQueue(per_user=64, max_wait=3600)
    return lambda user: queue.turn(user, time.monotonic() + 3600)


async def run(turn: Turn, model: LocalEmbeddings, batches: int, texts: int) -> float:
    big = ["lorem ipsum dolor sit amet " * 80] * texts  # ~2,000 characters each (truncated at 256 tokens)

    async def embed(user: str, batch: list[str]) -> float:
        started = time.perf_counter()
        async with turn(user):
            await model.embed("all-MiniLM-L6-v2", batch)
        return time.perf_counter() - started

    burst = [asyncio.create_task(embed("heavy", big)) for _ in range(batches)]
    await asyncio.sleep(0.05)  # the burst arrived first
    small = await embed("light", ["hello"])
    await asyncio.gather(*burst)
    return small


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--texts", type=int, default=64)
    args = parser.parse_args()
    model = LocalEmbeddings()
    await model.embed("all-MiniLM-L6-v2", ["warm up"])
    one = time.perf_counter()
    await model.embed("all-MiniLM-L6-v2", ["lorem ipsum dolor sit amet " * 80] * args.texts)
    print(f"one batch of {args.texts} texts: {time.perf_counter() - one:.2f} s")
    for name, turn in (("arrival order", arrival_order()), ("fair turns", fair())):
        latency = await run(turn, model, args.batches, args.texts)
        print(f"{name:14s} one-word request behind {args.batches} batches: {latency:.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
