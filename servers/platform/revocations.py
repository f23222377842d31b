"""Revoked access tokens and per-user token epochs, pushed to every server process
instead of read from Redis on every call.

* A token is revoked by its `jti` (logout) with a mark in Redis that lives as long as
  the token. When an account's rights shrink (roles changed, disabled, deleted, logout of
  all sessions, refresh-token reuse), the auth service sets the user's **epoch** (a Unix
  second, kept as long as an access token can live), and every token of that user
  issued before it is refused.
* The auth service writes both (servers.auth.revocations) and publishes them on one
  channel in the same MULTI. Each server process keeps what it has seen in memory
  (`RevocationFeed`), so a call's check costs no round trip: a Redis round trip was
  about a quarter of a small RPC's server CPU under grpc.aio (benchmarks/README.md).
* On start and on every reconnect the feed subscribes first and then reads the keys
  Redis holds, so nothing published in between is missed.
* **The window it opens**: a revocation applies in a process once its message arrives:
  the time from auth's publish to that process reading it, a fraction of a millisecond
  on one Redis host, bounded by how long the process's event loop is busy. The auth
  service's own check (ValidateToken) still reads Redis.
* **Fail closed**: while the feed is not subscribed and synced (Redis unreachable, a
  silent connection found dead by its ping), authenticated calls are UNAVAILABLE,
  as when the check was a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from servers.platform.background import cancel_and_wait
from servers.platform.context import Principal

log = logging.getLogger("aether.revocations")

CHANNEL = "auth:revocations"
REVOKED_PREFIX = "auth:revoked:"
EPOCH_PREFIX = "auth:token-epoch:"


def revoked_token_key(token_id: str) -> str:
    """Redis key marking an access token (by jti) as revoked until it expires."""
    return REVOKED_PREFIX + token_id


def token_epoch_key(user_id: str) -> str:
    return EPOCH_PREFIX + user_id


def revoked_message(token_id: str, ttl_seconds: int) -> str:
    return json.dumps({"jti": token_id, "ttl": ttl_seconds})


def epoch_message(user_id: str, epoch: int, ttl_seconds: int) -> str:
    return json.dumps({"user": user_id, "epoch": epoch, "ttl": ttl_seconds})


def is_refused(principal: Principal, revoked: bool, epoch: int | None) -> bool:
    """Whether a token is refused: revoked, or issued before its user's epoch."""
    return revoked or (epoch is not None and principal.issued_at < epoch)


class FeedNotSynced(ConnectionError):
    """The revocations are not known now: an outage (UNAVAILABLE), never a pass."""


class RevocationFeed:
    """This process's copy of the revocations, kept by a subscriber task."""

    def __init__(
        self,
        redis: Any,
        *,
        ping_seconds: float = 2.0,
        retry_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._redis = redis
        self._ping_seconds = ping_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._revoked: dict[str, float] = {}  # jti -> when its mark expires (clock)
        self._epochs: dict[str, tuple[int, float]] = {}  # user id -> (epoch, when it expires)
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Start the subscriber and wait (a bounded time) for its first sync: a server
        that starts while Redis is down serves, and answers authenticated calls UNAVAILABLE."""
        self._task = asyncio.create_task(self._run(), name="revocation-feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._synced.wait(), wait_seconds)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def refused(self, principal: Principal) -> bool:
        """Whether the token is revoked or older than its user's epoch; FeedNotSynced
        while this process cannot know."""
        if not self._synced.is_set():
            raise FeedNotSynced("token revocations not synced (Redis unreachable)")
        now = self._clock()
        mark = self._revoked.get(principal.token_id)
        epoch = self._epochs.get(principal.user_id)
        live_epoch = epoch[0] if epoch is not None and epoch[1] > now else None
        return is_refused(principal, mark is not None and mark > now, live_epoch)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: unknown state, resubscribe
                if self._synced.is_set():
                    log.warning("revocation feed lost: authenticated calls refused", exc_info=error)
            self._synced.clear()
            await asyncio.sleep(self._retry_seconds)

    async def _follow(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            while (await pubsub.get_message(timeout=self._ping_seconds)) is None:
                pass  # the subscription confirmed: anything published from now on reaches us
            await self._load()
            self._synced.set()
            known = {"revoked": len(self._revoked), "epochs": len(self._epochs)}
            log.info("revocation feed synced", extra=known)
            awaiting_pong = False
            while True:
                message = await pubsub.get_message(timeout=self._ping_seconds)
                if message is None:
                    if awaiting_pong:  # a connection that went silent is as good as cut
                        raise ConnectionError("revocation feed: no answer to ping")
                    await pubsub.ping()
                    awaiting_pong = True
                    self._prune()
                elif message["type"] == "message":
                    self._apply(message["data"])
                else:
                    awaiting_pong = False  # the pong (any answer proves the link)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _load(self) -> None:
        """What Redis holds now, replacing this process's copy."""
        now = self._clock()
        revoked: dict[str, float] = {}
        epochs: dict[str, tuple[int, float]] = {}
        for prefix in (REVOKED_PREFIX, EPOCH_PREFIX):
            keys = [key async for key in self._redis.scan_iter(match=prefix + "*", count=1000)]
            for start in range(0, len(keys), 1000):
                batch = keys[start : start + 1000]
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in batch:
                        pipe.get(key)
                        pipe.pttl(key)
                    answers = await pipe.execute()
                for key, value, ttl_ms in zip(batch, answers[::2], answers[1::2], strict=True):
                    if value is None or ttl_ms < 0:
                        continue  # gone meanwhile (or no expiry: not one of ours)
                    name = (key.decode() if isinstance(key, bytes) else key)[len(prefix) :]
                    expires = now + ttl_ms / 1000
                    if prefix == REVOKED_PREFIX:
                        revoked[name] = expires
                    else:
                        epochs[name] = (int(value), expires)
        self._revoked, self._epochs = revoked, epochs

    def _apply(self, data: bytes | str) -> None:
        """One published revocation; an unreadable one raises, and the feed resyncs from
        Redis rather than risk having missed a revocation."""
        try:
            event = json.loads(data)
            expires = self._clock() + float(event["ttl"])
            if "jti" in event:
                self._revoked[str(event["jti"])] = expires
                return
            user, epoch = str(event["user"]), int(event["epoch"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"revocation feed: unreadable message {str(data)[:200]!r}") from error
        known = self._epochs.get(user)
        if known is None or known[0] <= epoch:
            self._epochs[user] = (epoch, expires)

    def _prune(self) -> None:
        now = self._clock()
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self._epochs = {k: v for k, v in self._epochs.items() if v[1] > now}
