"""Live health of every service: standard gRPC health checks (grpc.health.v1)
with their latency, plus PostgreSQL and Redis round trips and host metrics.
The checks go through the platform client (servers/platform/clients.py): one
shared channel per address, trace and request id propagated, and at most the
GetHealth caller's remaining deadline. Check is not retried: a target that
answers UNAVAILABLE is reported unhealthy at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.analytics.domain import ServiceHealth, SystemMetrics
from servers.platform.clients import ServiceClients

CHECK_TIMEOUT = 1.5


@dataclass(frozen=True)
class Target:
    """A service to check: its name, address, and the gRPC service name to ask
    about ("" = the whole server). An empty address means "not deployed"."""

    name: str
    address: str
    service: str = ""


class HealthChecker:
    """Checks every target concurrently on each call. Uptime is how long a
    target has been continuously healthy as seen by this checker.

    `clients` is the process's ServiceClients (Resources.clients), whose
    channels it shares; without one it keeps its own, closed by close()."""

    def __init__(
        self,
        targets: Callable[[], Sequence[Target]],
        probes: Mapping[str, Callable[[], Awaitable[float]]],
        disk_path: str = "/",
        clients: ServiceClients | None = None,
    ):
        self._targets = targets
        self._probes = probes
        self._disk_path = disk_path
        self._own_clients = clients is None
        self._clients = clients if clients is not None else ServiceClients()
        self._healthy_since: dict[str, float] = {}

    async def check(self) -> list[ServiceHealth]:
        checks = [self._check_grpc(t) for t in self._targets()]
        checks += [self._check_probe(name, probe) for name, probe in self._probes.items()]
        return list(await asyncio.gather(*checks))

    def metrics(self) -> SystemMetrics:
        return SystemMetrics(
            cpu=float(psutil.cpu_percent(interval=None)),
            memory=float(psutil.virtual_memory().percent),
            disk=float(psutil.disk_usage(self._disk_path).percent),
        )

    async def _check_grpc(self, target: Target) -> ServiceHealth:
        now = datetime.now(UTC)
        if not target.address:
            return ServiceHealth(target.name, "unknown", 0.0, 0, now)
        started = time.perf_counter()
        try:
            stub = self._clients.stub(target.address, health_pb2_grpc.HealthStub)
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=target.service), timeout=CHECK_TIMEOUT
            )
            ok = reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.aio.AioRpcError:
            ok = False
        return self._result(target.name, ok, started, now)

    async def _check_probe(self, name: str, probe: Callable[[], Awaitable[float]]) -> ServiceHealth:
        now = datetime.now(UTC)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT)
            ok = True
        except Exception:
            ok = False
        return self._result(name, ok, started, now)

    def _result(self, name: str, ok: bool, started: float, now: datetime) -> ServiceHealth:
        latency = round((time.perf_counter() - started) * 1000, 3)
        if ok:
            since = self._healthy_since.setdefault(name, time.monotonic())
            uptime = int(time.monotonic() - since)
        else:
            self._healthy_since.pop(name, None)
            uptime = 0
        return ServiceHealth(name, "healthy" if ok else "unhealthy", latency, uptime, now)

    async def close(self) -> None:
        if self._own_clients:  # a shared ServiceClients is closed by the runtime
            await self._clients.close()
