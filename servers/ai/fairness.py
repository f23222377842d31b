"""Fair turns on the local embedding model. It computes one batch at a time
(torch already uses every core for one), so a queue in arrival order lets one
user's burst of large batches starve everybody behind it. Here waiting
requests are served round-robin across users (the user whose last turn is
longest ago goes next), each user may have at most
`per_user` requests waiting or running (more: RESOURCE_EXHAUSTED with
RetryInfo), and a request that cannot start before its deadline (or
`max_wait` seconds) gives up with UNAVAILABLE + RetryInfo instead of hanging.

Per process: replicas each have their own model and queue; the per-user rate
limits in Redis (the local model's catalogue entry) hold across replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from servers.platform.errors import RateLimited, Unavailable

RETRY_SECONDS = 1.0


class FairQueue:
    def __init__(self, per_user: int, max_wait: float):
        self._per_user = per_user
        self._max_wait = max_wait
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._held: dict[str, int] = {}  # user -> requests waiting or running
        self._served: dict[str, int] = {}  # user -> when they last got a turn (a counter)
        self._turns = 0
        self._busy = False

    @asynccontextmanager
    async def turn(self, user_id: str, deadline: float) -> AsyncIterator[None]:
        """Run the body when it is this request's turn (`deadline`: time.monotonic())."""
        if self._held.get(user_id, 0) >= self._per_user:
            raise RateLimited(
                f"at most {self._per_user} embeddings requests of yours may run or wait at once",
                retry_after_seconds=RETRY_SECONDS,
            )
        self._held[user_id] = self._held.get(user_id, 0) + 1
        try:
            await self._wait(user_id, min(deadline - time.monotonic(), self._max_wait))
            try:
                yield
            finally:
                self._next()
        finally:
            self._held[user_id] -= 1
            if not self._held[user_id]:
                del self._held[user_id]

    async def _wait(self, user_id: str, patience: float) -> None:
        if not self._busy:
            self._busy = True
            self._mark_served(user_id)
            return
        ready = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, deque()).append(ready)
        try:
            await asyncio.wait_for(asyncio.shield(ready), max(patience, 0.0))
        except TimeoutError:
            if ready.done():  # handed the turn just as the wait ran out: take it
                return
            self._forget(user_id, ready)
            raise Unavailable(
                "the local embedding model is busy; retry shortly", retry_after_seconds=RETRY_SECONDS
            ) from None
        except asyncio.CancelledError:
            if ready.done():
                self._next()  # pass on the turn this cancelled request was given
            else:
                self._forget(user_id, ready)
            raise

    def _forget(self, user_id: str, ready: asyncio.Future[None]) -> None:
        queue = self._waiting.get(user_id)
        if queue is not None and ready in queue:
            queue.remove(ready)
            if not queue:
                del self._waiting[user_id]

    def _mark_served(self, user_id: str) -> None:
        self._turns += 1
        self._served[user_id] = self._turns
        if len(self._served) > 10_000:  # forget the oldest (only relative order matters)
            del self._served[min(self._served, key=self._served.__getitem__)]

    def _next(self) -> None:
        """Hand the model to the oldest waiting request of the user whose last
        turn is longest ago (never served: first)."""
        while self._waiting:
            user_id = min(self._waiting, key=lambda u: self._served.get(u, 0))
            queue = self._waiting[user_id]
            ready = queue.popleft()
            if not queue:
                del self._waiting[user_id]
            if not ready.done():
                self._mark_served(user_id)
                ready.set_result(None)
                return
        self._busy = False
