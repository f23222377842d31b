"""The local embedding model's fair turns (servers/ai/fairness.py): round-robin
across users, a cap per user, and a bounded wait. Deterministic: the test hands
out turns by releasing futures, never by sleeping."""

from __future__ import annotations

import asyncio
import time

import pytest

from servers.ai.fairness import FairQueue
from servers.platform.errors import RateLimited, Unavailable

FAR = 3600.0


async def test_waiting_requests_are_served_round_robin_across_users() -> None:
    queue = FairQueue(per_user=3, max_wait=FAR)
    order: list[str] = []
    release: dict[str, asyncio.Event] = {}

    async def job(name: str) -> None:
        user = name[0]
        release[name] = asyncio.Event()
        async with queue.turn(user, time.monotonic() + FAR):
            order.append(name)
            await release[name].wait()

    tasks = [asyncio.create_task(job("a1"))]
    await asyncio.sleep(0)  # a1 holds the model
    for name in ("a2", "a3", "b1", "c1"):  # a's burst queued first, then b and c
        tasks.append(asyncio.create_task(job(name)))
        await asyncio.sleep(0)
    for served in range(1, 6):  # finish the running job; the next one starts
        assert len(order) == served
        release[order[-1]].set()
        for _ in range(5):
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["a1", "b1", "c1", "a2", "a3"]  # b and c wait only for the batch already running


async def test_one_user_may_hold_only_per_user_requests() -> None:
    queue = FairQueue(per_user=2, max_wait=FAR)
    gate = asyncio.Event()

    async def hold(user: str = "a") -> None:
        async with queue.turn(user, time.monotonic() + FAR):
            await gate.wait()

    running = [asyncio.create_task(hold()), asyncio.create_task(hold())]
    await asyncio.sleep(0)
    with pytest.raises(RateLimited) as limited:
        async with queue.turn("a", time.monotonic() + FAR):
            pass
    assert limited.value.retry_after_seconds
    async with asyncio.timeout(FAR):
        other = asyncio.create_task(hold("b"))  # another user is not capped by a's requests
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*running, other)
    async with queue.turn("a", time.monotonic() + FAR):  # a's slots are free again
        pass


async def test_a_request_that_cannot_start_before_its_deadline_gives_up_cleanly() -> None:
    queue = FairQueue(per_user=2, max_wait=FAR)
    gate = asyncio.Event()

    async def hold() -> None:
        async with queue.turn("a", time.monotonic() + FAR):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(Unavailable) as busy:
        async with queue.turn("b", time.monotonic()):  # its deadline has already come
            pass
    assert busy.value.retry_after_seconds
    gate.set()
    await holder
    async with queue.turn("b", time.monotonic()):  # free model: no wait needed
        pass
