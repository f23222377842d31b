"""The server runtime every domain shares: permission checks with keys fetched
from the auth service, health per service, reflection (with the real grpcurl),
metrics, and a graceful SIGTERM shutdown of `aether serve`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import psutil
import pytest
from aether.tasks.v1 import tasks_service_pb2, tasks_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from servers.embedded.ports import free_port
from servers.embedded.waiting import wait_for_port
from servers.platform.runtime import Domain, Mount, Resources, Server, Service
from servers.platform.settings import PlatformSettings
from tests.helpers import bearer, rich_error

GRPCURL = shutil.which("grpcurl", path=os.path.dirname(sys.executable)) or "grpcurl"


class ProbeTasks(tasks_service_pb2_grpc.TaskServiceServicer):
    """Just enough of TaskService to exercise the shared interceptor chain."""

    async def ListTasks(self, request, context):
        return tasks_service_pb2.ListTasksResponse()


async def _build_probe(res: Resources) -> Mount:
    servicer = ProbeTasks()
    return Mount(
        [
            Service(
                "aether.tasks.v1.TaskService",
                servicer,
                tasks_service_pb2_grpc.add_TaskServiceServicer_to_server,
            )
        ]
    )


@pytest.fixture(scope="module")
async def probe(auth_server: str) -> AsyncIterator[str]:
    """A non-auth server: it must fetch verification keys from the auth service."""
    server = Server(
        [Domain("probe", _build_probe, needs_database=False)], PlatformSettings(auth_addr=auth_server)
    )
    port = await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop()


async def test_permissions_are_enforced_with_keys_from_the_auth_service(probe: str, forge_token) -> None:
    async with grpc.aio.insecure_channel(probe) as channel:
        stub = tasks_service_pb2_grpc.TaskServiceStub(channel)
        allowed = await forge_token("u1", permissions=("tasks:read",))
        await stub.ListTasks(tasks_service_pb2.ListTasksRequest(), metadata=bearer(allowed))

        denied = await forge_token("u1", permissions=("rag:read",))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListTasks(tasks_service_pb2.ListTasksRequest(), metadata=bearer(denied))
        error = rich_error(err.value)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "PERMISSION_DENIED"
        assert "tasks:read" in error.message

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListTasks(tasks_service_pb2.ListTasksRequest())
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_validation_runs_before_the_servicer(probe: str, forge_token) -> None:
    async with grpc.aio.insecure_channel(probe) as channel:
        stub = tasks_service_pb2_grpc.TaskServiceStub(channel)
        token = await forge_token("u1")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListTasks(tasks_service_pb2.ListTasksRequest(limit=1000), metadata=bearer(token))
        error = rich_error(err.value)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "limit" in error.field_violations


async def test_an_unreachable_backing_service_is_unavailable_not_internal(
    auth_server: str, forge_token
) -> None:
    # Nothing listens on this Redis port: the per-call revocation check fails.
    settings = PlatformSettings(auth_addr=auth_server, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    server = Server([Domain("probe", _build_probe, needs_database=False)], settings)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = tasks_service_pb2_grpc.TaskServiceStub(channel)
            token = await forge_token("u1")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListTasks(tasks_service_pb2.ListTasksRequest(), metadata=bearer(token))
    finally:
        await server.stop()
    error = rich_error(err.value)
    assert error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "UNAVAILABLE"
    assert error.retry_delay_seconds == 1.0 and error.request_id
    assert error.message == "a backing service is unavailable; retry shortly"  # no internals


async def test_health_reports_each_service(auth_server: str) -> None:
    async with grpc.aio.insecure_channel(auth_server) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "aether.auth.v1.AuthService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health.Check(health_pb2.HealthCheckRequest(service="aether.nope.v1.Nope"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def _grpcurl(*args: str) -> str:
    """Run the real grpcurl without blocking the loop the in-process server runs on."""
    proc = await asyncio.create_subprocess_exec(
        GRPCURL, "-plaintext", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_grpcurl_lists_and_calls_services_by_reflection(auth_server: str) -> None:
    listed = await _grpcurl(auth_server, "list")
    assert {"aether.auth.v1.AuthService", "grpc.health.v1.Health"} <= set(listed.split())
    jwks = json.loads(await _grpcurl(auth_server, "aether.auth.v1.AuthService/GetJwks"))
    assert jwks["keys"][0]["kty"] == "OKP"


async def test_grpcurl_calls_through_envoy_with_the_descriptor_set(edge: str) -> None:
    from servers.devtools.codegen import DESCRIPTOR

    reply = await _grpcurl(
        "-protoset", str(DESCRIPTOR), edge.removeprefix("http://"), "aether.auth.v1.AuthService/GetJwks"
    )
    assert json.loads(reply)["keys"]


async def test_rpcs_are_counted_in_prometheus_metrics_by_code(auth_channel: grpc.aio.Channel) -> None:
    from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    stub = auth_service_pb2_grpc.AuthServiceStub(auth_channel)
    await stub.GetJwks(auth_service_pb2.GetJwksRequest())
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetMe(auth_service_pb2.GetMeRequest())

    def count(method: str, code: str) -> float | None:
        labels = {"method": f"/aether.auth.v1.AuthService/{method}", "code": code}
        return REGISTRY.get_sample_value("aether_grpc_server_handled_total", labels)

    assert (count("GetJwks", "OK") or 0) >= 1
    assert (count("GetMe", "UNAUTHENTICATED") or 0) >= 1


async def test_aether_serve_shuts_down_gracefully_on_sigterm(database_url: str) -> None:
    port = free_port()
    env = os.environ | {"GRPC_PORT": str(port), "LOG_JSON": "true", "LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once; the waits run off the loop)
        [sys.executable, "-m", "servers.cli", "serve", "auth"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        # Waited for off the loop: the shared in-process server must keep answering
        # Envoy's health checks meanwhile, or the next REST test finds no healthy upstream.
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 30)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    logs = [
        json.loads(line)
        for line in (proc.stderr.read() if proc.stderr else "").splitlines()
        if line.startswith("{")
    ]
    messages = [entry["message"] for entry in logs]
    assert "serving" in messages and messages[-1] == "stopped"
    assert all(entry["service"] == "aether-auth" for entry in logs)


def _start_workers(count: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = os.environ | {"GRPC_PORT": str(port), "GRPC_WORKERS": str(count), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "servers.cli", "serve", "auth"], env=env)
    wait_for_port("127.0.0.1", port, 30)
    return proc, port


def _workers_listening(supervisor: psutil.Process, port: int) -> list[psutil.Process]:
    return [
        child
        for child in supervisor.children()
        if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections())
    ]


async def test_grpc_workers_share_the_port_and_stop_together(database_url: str) -> None:
    proc, port = _start_workers(2)
    try:
        supervisor = psutil.Process(proc.pid)
        for _ in range(100):  # the second worker may still be starting
            if len(_workers_listening(supervisor, port)) == 2:
                break
            await asyncio.sleep(0.2)
        workers = _workers_listening(supervisor, port)
        assert len(workers) == 2 and workers[0].pid != workers[1].pid
        # Separate connections, spread over the workers by the kernel: each answers.
        for _ in range(8):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_when_one_grpc_worker_dies_the_set_stops_with_an_error(database_url: str) -> None:
    proc, port = _start_workers(2)
    try:
        supervisor = psutil.Process(proc.pid)
        for _ in range(100):
            if len(supervisor.children()) == 2:
                break
            await asyncio.sleep(0.2)
        first, second = supervisor.children()
        first.kill()
        assert await asyncio.to_thread(proc.wait, 30) == 1  # for the orchestrator to restart the whole set
        await asyncio.to_thread(second.wait, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
