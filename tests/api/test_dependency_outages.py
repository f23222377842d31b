"""A server that loses PostgreSQL or Redis: through a real Envoy and over native gRPC it answers
UNAVAILABLE (503 over REST) with a google.rpc status carrying RetryInfo, never INTERNAL/500; its
readiness goes NOT_SERVING (so Envoy stops routing to it) while liveness stays SERVING; and it
recovers by itself when the dependency is back. The dependency is cut with a proxy in front of
the machine's real PostgreSQL / Redis for this one Task Manager (tests/fault_proxy.py), and
the times to detect and to recover are printed (`pytest -s`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from aether.tasks.v1 import tasks_service_pb2 as pb
from aether.tasks.v1 import tasks_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servers.devtools.codegen import DESCRIPTOR
from servers.edge import EdgeSettings, write_bootstrap
from servers.platform.readiness import LIVENESS_SERVICE
from tests.edge.envoy_runner import IN_PROCESS_HEALTH_CHECK_TIMEOUT, free_port, running_envoy
from tests.fault_proxy import FaultProxy, start_server, target, through
from tests.helpers import bearer, rich_error

TASKS = "aether.tasks.v1.TaskService"
AUTH = "aether.auth.v1.AuthService"
SETTLE_SECONDS = 30.0  # the longest a detection or a recovery may take here
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Stack:
    grpc_address: str
    edge: str
    proxies: dict[str, FaultProxy]
    channel: grpc.aio.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.grpc_address)


@pytest.fixture(scope="module")
async def stack(
    app_server: tuple[str, list[str]], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    redis_url = os.environ["REDIS_URL"]
    proxies = {
        "postgres": FaultProxy(*target(database_url, 5432)),
        "redis": FaultProxy(*target(redis_url, 6379)),
    }
    for proxy in proxies.values():
        await proxy.start()
    server = await start_server(
        ["tasks"],
        {
            "DATABASE_URL": through(database_url, proxies["postgres"]),
            "REDIS_URL": through(redis_url, proxies["redis"]),
            "AUTH_ADDR": app_server[0],
            "BUS_RELAY": "false",
            "DEPENDENCY_CHECK_SECONDS": "0.2",
            "DEPENDENCY_CHECK_TIMEOUT_SECONDS": "1",
            "DEPENDENCY_CHECK_FAILURES": "2",
        },
    )
    workdir = tmp_path_factory.mktemp("outage-edge")
    port = free_port()
    settings = EdgeSettings(
        listen_port=port,
        upstreams={AUTH: app_server[0], TASKS: f"127.0.0.1:{server.port}"},
        access_log_path=str(workdir / "access.log"),
        health_check_interval_seconds=0.5,
        health_check_timeout_seconds=IN_PROCESS_HEALTH_CHECK_TIMEOUT,
    )
    config = write_bootstrap(DESCRIPTOR, settings, workdir / "envoy.json")
    base = f"http://127.0.0.1:{port}"
    try:
        with running_envoy(config, workdir) as proc:
            async with httpx.AsyncClient() as client:
                for _ in range(300):
                    assert proc.poll() is None, (workdir / "envoy.log").read_text()[-2000:]
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base}/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise TimeoutError("envoy did not become ready")
            result = Stack(f"127.0.0.1:{server.port}", base, proxies)
            yield result
            await result.channel.close()
    finally:
        await server.stop()
        for proxy in proxies.values():
            await proxy.close()


@dataclass
class Observation:
    grpc: str
    rest: int
    rest_code: int | None
    readiness: int
    liveness: int
    edge_ready: bool
    retry_seconds: float | None = None
    reason: str = ""


async def _observe(stack: Stack, http: httpx.AsyncClient, token: str) -> Observation:
    tasks = tasks_service_pb2_grpc.TaskServiceStub(stack.channel)
    retry, reason = None, ""
    try:
        await tasks.ListTasks(pb.ListTasksRequest(), metadata=bearer(token), timeout=5)
        code = "OK"
    except grpc.aio.AioRpcError as error:
        code = error.code().name
        rich = rich_error(error)
        retry, reason = rich.retry_delay_seconds, rich.reason
    r = await http.get("/api/v1/tasks", headers={"authorization": f"Bearer {token}"})
    rest_code = r.json().get("code") if r.status_code != 200 else None
    health = health_pb2_grpc.HealthStub(stack.channel)
    readiness = (await health.Check(health_pb2.HealthCheckRequest(service=TASKS), timeout=5)).status
    liveness = (await health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE), timeout=5)).status
    edge_ready = (await http.get("/readyz")).status_code == 200  # Envoy: every upstream healthy
    return Observation(code, r.status_code, rest_code, readiness, liveness, edge_ready, retry, reason)


async def _until(
    stack: Stack, http: httpx.AsyncClient, token: str, done: Callable[[list[Observation]], bool]
) -> tuple[list[Observation], float]:
    """Observe every 50 ms until `done` holds for what was seen; (observations, seconds taken)."""
    start, seen = time.monotonic(), []
    while time.monotonic() - start < SETTLE_SECONDS:
        seen.append(await _observe(stack, http, token))
        if done(seen):
            return seen, time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"not settled in {SETTLE_SECONDS} s; last: {seen[-1]}")


def _first(seen: list[Observation], test: Callable[[Observation], bool]) -> Observation | None:
    return next((o for o in seen if test(o)), None)


@dataclass
class Load:
    """Creates and lists tasks over gRPC from a few concurrent callers until stopped (at most
    MAX_REQUESTS, paced), so queries are in flight when the dependency goes: every answer's
    code is counted, and every task whose creation was answered OK is remembered."""

    stack: Stack
    token: str
    codes: Counter[str] = field(default_factory=Counter)
    created: set[str] = field(default_factory=set)
    attempted: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    CALLERS = 4
    MAX_REQUESTS = 3000

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._caller(n)) for n in range(self.CALLERS)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _caller(self, n: int) -> None:
        tasks = tasks_service_pb2_grpc.TaskServiceStub(self.stack.channel)
        while not self._stop.is_set() and sum(self.codes.values()) < self.MAX_REQUESTS:
            try:
                if n % 2:
                    await tasks.ListTasks(pb.ListTasksRequest(), metadata=bearer(self.token), timeout=5)
                else:
                    self.attempted += 1
                    request = pb.CreateTaskRequest(title=f"under load {self.attempted}")
                    task = await tasks.CreateTask(request, metadata=bearer(self.token), timeout=5)
                    self.created.add(task.id)
                self.codes["OK"] += 1
            except grpc.aio.AioRpcError as error:
                self.codes[error.code().name] += 1
            await asyncio.sleep(0.01)


async def _all_task_ids(stack: Stack, token: str) -> set[str]:
    tasks = tasks_service_pb2_grpc.TaskServiceStub(stack.channel)
    ids: set[str] = set()
    page = 1
    while True:
        request = pb.ListTasksRequest(page=page, limit=100)
        reply = await tasks.ListTasks(request, metadata=bearer(token), timeout=10)
        ids |= {task.id for task in reply.tasks}
        if len(reply.tasks) < 100:
            return ids
        page += 1


@pytest.mark.parametrize("dependency", ["postgres", "redis"])
async def test_losing_a_dependency_is_unavailable_not_ready_and_recovers(
    stack: Stack, forge_token: Callable[..., Any], dependency: str
) -> None:
    token = await forge_token(str(uuid.uuid4()))
    async with httpx.AsyncClient(base_url=stack.edge, timeout=10) as http:
        before = await _observe(stack, http, token)
        assert (before.grpc, before.rest, before.readiness) == ("OK", 200, SERVING), before

        load = Load(stack, token)
        load.start()
        proxy = stack.proxies[dependency]
        await asyncio.sleep(0.5)  # load running before the cut
        cut_at = time.monotonic()
        await proxy.cut()
        marks: dict[str, float] = {}

        def outage_seen(seen: list[Observation]) -> bool:
            now = time.monotonic() - cut_at
            last = seen[-1]
            if last.grpc == "UNAVAILABLE":
                marks.setdefault("grpc_unavailable_s", now)
            if last.readiness == NOT_SERVING:
                marks.setdefault("not_serving_s", now)
            if last.rest == 503:
                marks.setdefault("rest_503_s", now)
            if not last.edge_ready:  # Envoy's health check took the server out
                marks.setdefault("edge_out_s", now)
            return {"grpc_unavailable_s", "not_serving_s", "rest_503_s", "edge_out_s"} <= set(marks)

        during, _ = await _until(stack, http, token, outage_seen)
        await proxy.restore()
        after, recovery = await _until(
            stack,
            http,
            token,
            lambda seen: (seen[-1].grpc, seen[-1].rest, seen[-1].readiness, seen[-1].edge_ready)
            == ("OK", 200, SERVING, True),
        )
        await asyncio.sleep(0.5)  # load running after the recovery
        await load.stop()
        listed = await _all_task_ids(stack, token)

    # Never INTERNAL / 500: the outage is the client's to retry.
    assert {o.grpc for o in during} <= {"OK", "UNAVAILABLE"}, [o.grpc for o in during]
    assert {o.rest for o in during} <= {200, 503}, [o.rest for o in during]
    unavailable = _first(during, lambda o: o.grpc == "UNAVAILABLE")
    assert unavailable is not None and unavailable.reason == "UNAVAILABLE"
    assert unavailable.retry_seconds is not None and unavailable.retry_seconds > 0
    assert all(o.rest_code == 14 for o in during if o.rest == 503)  # google.rpc.Status UNAVAILABLE
    assert all(o.liveness == SERVING for o in during + after)  # never restarted for it
    assert {o.grpc for o in after} <= {"OK", "UNAVAILABLE"} and {o.rest for o in after} <= {200, 503}
    # Under load too: only OK or UNAVAILABLE, and no task answered OK is lost.
    assert set(load.codes) <= {"OK", "UNAVAILABLE"}, load.codes
    assert load.created <= listed and len(listed) <= load.attempted

    figures = {
        "dependency": dependency,
        **{k: round(v, 2) for k, v in marks.items()},
        "recovery_s": round(recovery, 2),
        "observations": len(during) + len(after),
        "load_requests": sum(load.codes.values()),
        "load_by_code": dict(load.codes),
        "tasks_created_ok": len(load.created),
        "tasks_stored": len(listed),
    }
    print("outage figures:", json.dumps(figures))
