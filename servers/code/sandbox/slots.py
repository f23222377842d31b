"""How many test runs may be in progress: per server and per user. A full
server or user is RESOURCE_EXHAUSTED at once, never a queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from servers.platform.errors import RateLimited


class RunSlots:
    def __init__(self, per_server: int, per_user: int):
        self.per_server = per_server
        self.per_user = per_user
        self._by_user: Counter[str] = Counter()

    @property
    def in_use(self) -> int:
        return sum(self._by_user.values())

    @contextmanager
    def take(self, user_id: str) -> Iterator[None]:
        if self._by_user[user_id] >= self.per_user:
            raise RateLimited(f"you have {self.per_user} test runs in progress; wait for one to end", 1.0)
        if self.in_use >= self.per_server:
            raise RateLimited(f"the server is running {self.per_server} test runs; retry shortly", 1.0)
        self._by_user[user_id] += 1
        try:
            yield
        finally:
            self._by_user[user_id] -= 1
            if not self._by_user[user_id]:
                del self._by_user[user_id]
