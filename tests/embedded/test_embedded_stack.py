"""EmbeddedStack end to end: embedded PostgreSQL + Redis, dummy services, a real Envoy."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis.asyncio as aioredis

from servers.embedded.ports import free_port
from servers.embedded.serve import serve_until_signal
from servers.embedded.stack import EmbeddedStack, EmbeddedStartError

from .conftest import (
    DUMMY_SERVICE,
    HELPERS,
    alive,
    helper_process,
    processes_mentioning,
    wait_for_file,
    wait_gone,
    write_envoy_config,
)

pytestmark = pytest.mark.usefixtures("no_leftover_children")


@pytest.fixture
def data_dir(shared_aether_dir: Path) -> Path:
    """The session's shared data dir: initdb runs once, later tests restart on the same data."""
    return shared_aether_dir


def dummy_argv(modes: dict[str, str] | None = None) -> Callable[[str], list[str]]:
    return lambda name: [sys.executable, str(DUMMY_SERVICE), name, (modes or {}).get(name, "serve")]


def envoy_factory(tmp: Path, port: int, seen: list[dict[str, str]]) -> Callable[[dict[str, str]], Path]:
    def factory(upstreams: dict[str, str]) -> Path:
        seen.append(upstreams)
        return write_envoy_config(tmp / "envoy.json", port, body=",".join(sorted(upstreams)))

    return factory


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test URL
        body: bytes = response.read()
        return body.decode()


# Children of the test runner that predate the test (e.g. other suites' shared Envoy).
_BASELINE: set[int] = set()


@pytest.fixture(autouse=True)
def _baseline_children() -> None:
    _BASELINE.clear()
    _BASELINE.update(p.pid for p in psutil.Process().children(recursive=True))


def _children() -> list[psutil.Process]:
    """Processes this test started (directly or not) that still exist."""
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in _BASELINE]


async def test_stack_starts_everything_and_stop_leaves_nothing(data_dir: Path, work_dir: Path) -> None:
    port, seen = free_port(), list[dict[str, str]]()
    env = {k: v for k, v in os.environ.items() if k != "AETHER_SECRET_KEY"} | {"DUMMY_OUT": str(work_dir)}
    stack = EmbeddedStack(
        ["auth", "chat"],
        data_dir=data_dir,
        listen_port=port,
        envoy_config_factory=envoy_factory(work_dir, port, seen),
        service_argv=dummy_argv(),
        env=env,
        log_level="DEBUG",
    )
    try:
        info = await stack.start()
        assert await stack.start() is info  # idempotent
        assert info.rest_url == f"http://127.0.0.1:{port}" and info.grpc_address == f"127.0.0.1:{port}"
        assert info.data_dir == data_dir.resolve() and set(info.services) == {"auth", "chat"}
        assert seen == [info.services]
        assert _get(f"{info.rest_url}/v1/anything") == "auth,chat"

        key_file = data_dir / "secret.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        for name in ("auth", "chat"):
            got = json.loads((work_dir / f"{name}.json").read_text())
            assert f"{got['GRPC_HOST']}:{got['GRPC_PORT']}" == info.services[name]
            assert got["DATABASE_URL"] == info.database_url and got["REDIS_URL"] == info.redis_url
            assert got["AUTH_ADDR"] == info.services["auth"]
            assert got["HEALTH_TARGETS"] == ",".join(f"{n}={a}" for n, a in info.services.items())
            assert got["AETHER_SECRET_KEY"] == key_file.read_text().strip()
            assert got["LOG_LEVEL"] == "DEBUG"

        conn = await asyncpg.connect(info.database_url)
        await conn.execute("CREATE TABLE IF NOT EXISTS marks (n int); INSERT INTO marks VALUES (1)")
        await conn.close()
        client = aioredis.Redis.from_url(info.redis_url)
        await client.incr("starts")
        await client.aclose()
        assert not stack.failed_children()
        children = _children()
        assert len(children) >= 5  # postgres (+ its helpers), redis, 2 services, envoy
    finally:
        await stack.stop()
    await stack.stop()  # twice is fine
    assert not wait_gone(children, timeout=5)
    assert not _children()
    assert not processes_mentioning(data_dir)

    # Again on the same data: same key, data kept.
    first_key = (data_dir / "secret.key").read_text()
    # Same listen port right away: the previous run's connections in TIME_WAIT must not block it.
    again = EmbeddedStack(
        ["auth"],
        data_dir=data_dir,
        listen_port=port,
        envoy_config_factory=envoy_factory(work_dir, port, seen),
        service_argv=dummy_argv(),
        env=env,
    )
    async with again as info:
        assert _get(f"{info.rest_url}/v1/again") == "auth"
        conn = await asyncpg.connect(info.database_url)
        assert await conn.fetchval("SELECT count(*) FROM marks") >= 1
        await conn.close()
        client = aioredis.Redis.from_url(info.redis_url)
        assert int(await client.get("starts") or 0) >= 1
        await client.aclose()
    assert (data_dir / "secret.key").read_text() == first_key
    assert not _children()


async def test_failed_start_leaves_nothing_running(data_dir: Path) -> None:
    stack = EmbeddedStack(
        ["auth", "boom"], data_dir=data_dir, service_argv=dummy_argv({"boom": "exit"}), startup_timeout=10
    )
    with pytest.raises(EmbeddedStartError, match="boom exited with code 3"):
        await stack.start()
    assert "starting postgres" in (data_dir / "logs" / "postgres.log").read_text()
    assert not _children()  # postgres, redis and auth were started, then stopped again
    assert not processes_mentioning(data_dir)
    await stack.stop()


async def test_envoy_factory_error_and_busy_listen_port(work_dir: Path) -> None:
    db, cache = "postgresql://nowhere/db", "redis://127.0.0.1:1/0"  # external: nothing embedded starts

    def broken_factory(upstreams: dict[str, str]) -> Path:
        raise ValueError("no edge config")

    stack = EmbeddedStack(
        ["auth"],
        data_dir=work_dir,
        envoy_config_factory=broken_factory,
        service_argv=dummy_argv(),
        env={**os.environ, "AETHER_SECRET_KEY": "from-env"},
        listen_port=free_port(),
        database_url=db,
        redis_url=cache,
    )
    with pytest.raises(ValueError, match="no edge config"):
        await stack.start()
    assert not _children()
    assert not (work_dir / "secret.key").exists()  # the env key wins

    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        busy = EmbeddedStack(
            [],
            data_dir=work_dir,
            listen_port=port,
            envoy_config_factory=broken_factory,
            database_url=db,
            redis_url=cache,
        )
        with pytest.raises(EmbeddedStartError, match="already in use"):
            await busy.start()
    assert not _children()


async def test_a_dying_child_stops_the_stack(work_dir: Path) -> None:
    stack = EmbeddedStack(
        ["auth", "flaky"],
        data_dir=work_dir,
        service_argv=dummy_argv({"flaky": "die-soon"}),
        database_url="postgresql://nowhere/db",
        redis_url="redis://127.0.0.1:1/0",
    )
    assert await serve_until_signal(stack, poll_interval=0.1) == 1
    assert not _children()


def test_run_forever_stops_everything_on_sigint(data_dir: Path, work_dir: Path) -> None:
    proc = helper_process(str(HELPERS / "run_stack.py"), str(data_dir), str(free_port()), str(work_dir))
    try:
        wait_for_file(work_dir / "ready.json", proc, timeout=30)
        children = [psutil.Process(pid) for pid in json.loads((work_dir / "ready.json").read_text())["pids"]]
        assert all(alive(child) for child in children) and len(children) == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert not wait_gone(children, timeout=5)
        assert not processes_mentioning(data_dir)
    finally:
        proc.kill()
        proc.wait()


def test_sigterm_during_start_leaves_nothing(work_dir: Path) -> None:
    """The signal lands while postgres is being initialized (initdb runs in a worker thread)."""
    data_dir = work_dir / ".aether"
    proc = helper_process(str(HELPERS / "run_stack.py"), str(data_dir), str(free_port()), str(work_dir))
    try:
        wait_for_file(data_dir / "postgres", proc, timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not (work_dir / "ready.json").exists()
        assert not wait_gone(processes_mentioning(data_dir), timeout=5)
    finally:
        proc.kill()
        proc.wait()


async def test_sigkilled_supervisor_leaves_nothing_and_restarts(data_dir: Path, work_dir: Path) -> None:
    proc = helper_process(str(HELPERS / "run_stack.py"), str(data_dir), str(free_port()), str(work_dir))
    try:
        wait_for_file(work_dir / "ready.json", proc, timeout=30)
        pids = json.loads((work_dir / "ready.json").read_text())["pids"]
        postmaster, *others = [psutil.Process(pid) for pid in pids]
        everything = [postmaster, *postmaster.children(recursive=True), *others]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not wait_gone(everything, timeout=10), "children outlived a SIGKILLed supervisor"
    finally:
        proc.kill()
        proc.wait()
    assert not processes_mentioning(data_dir)
    async with EmbeddedStack([], data_dir=data_dir) as info:
        conn = await asyncpg.connect(info.database_url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
