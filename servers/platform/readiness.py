"""Readiness follows the server's dependencies: PostgreSQL and Redis are probed every
DEPENDENCY_CHECK_SECONDS, and after DEPENDENCY_CHECK_FAILURES failed probes in a row every
service the server mounts (and "") reports NOT_SERVING, so Envoy and Kubernetes stop sending it
requests it could only answer UNAVAILABLE; the first good probe makes it SERVING again.
`LIVENESS_SERVICE` stays SERVING meanwhile: a liveness probe must not restart a server whose
database is down (the restart would not bring the database back)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
from grpc_health.v1 import health, health_pb2
from redis.asyncio import Redis

from servers.platform.background import cancel_and_wait
from servers.platform.errors import OUTAGES

log = logging.getLogger("aether.readiness")

LIVENESS_SERVICE = "aether.liveness"
"""Health service name that answers SERVING while the process runs (until it drains)."""


class DependencyWatch:
    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        names: Sequence[str],
        pool: asyncpg.Pool | None,
        redis: Redis | None,
        *,
        interval: float,
        timeout: float,
        failures: int,
    ):
        self._servicer, self._names = servicer, [*names, ""]
        self._pool, self._redis = pool, redis
        self._interval, self._timeout, self._failures = interval, timeout, failures
        self._task: asyncio.Task[None] | None = None
        self.ready = True

    def start(self) -> None:
        if self._interval > 0 and (self._pool is not None or self._redis is not None):
            self._task = asyncio.create_task(self._run(), name="dependency-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        failed = 0
        while True:
            await asyncio.sleep(self._interval)
            problem = await self._probe()
            failed = failed + 1 if problem else 0
            if problem and self.ready and failed >= self._failures:
                log.warning("dependency down: not serving", extra={"problem": problem})
                await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)
                self.ready = False
            elif not problem and not self.ready:
                log.warning("dependencies back: serving")
                await self._set(health_pb2.HealthCheckResponse.SERVING)
                self.ready = True

    async def _probe(self) -> str | None:
        """None when PostgreSQL and Redis answer, else what failed."""
        try:
            async with asyncio.timeout(self._timeout):
                if self._pool is not None:
                    await self._pool.fetchval("SELECT 1")
                if self._redis is not None:
                    await self._redis.ping()
        except TimeoutError:
            return f"no answer within {self._timeout} s"
        except (*OUTAGES, asyncpg.InterfaceError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _set(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in self._names:
            await self._servicer.set(name, status)
