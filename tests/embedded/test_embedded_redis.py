"""EmbeddedRedis: real server, AOF persistence, no leftovers."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import psutil
import pytest
import redis.asyncio as aioredis

from servers.embedded.ports import free_port
from servers.embedded.redis import EmbeddedRedis

from .conftest import HELPERS, helper_process, processes_mentioning, wait_for_file, wait_gone

pytestmark = pytest.mark.usefixtures("no_leftover_children")


async def test_key_survives_restart_and_nothing_is_left(work_dir: Path) -> None:
    data_dir = work_dir / "redis"
    server = EmbeddedRedis(data_dir)
    url = server.start()
    assert url.startswith("redis://127.0.0.1:")
    client = aioredis.Redis.from_url(url)
    await client.set("greeting", "hello")
    assert (await client.config_get("bind"))["bind"] == "127.0.0.1"
    await client.aclose()
    assert server.process is not None and server.process.pid is not None
    proc = psutil.Process(server.process.pid)
    server.stop()
    server.stop()  # idempotent
    assert not wait_gone([proc], timeout=3)
    assert not processes_mentioning(data_dir)
    assert (data_dir / "appendonly.aof").exists()

    again = EmbeddedRedis(data_dir, port=free_port())
    try:
        client = aioredis.Redis.from_url(again.start())
        assert await client.get("greeting") == b"hello"
        await client.aclose()
    finally:
        again.stop()
    assert not processes_mentioning(data_dir)


def test_busy_port_is_reported(work_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="already in use"):
            EmbeddedRedis(work_dir / "redis", port=port).start()


async def test_sigkilled_owner_takes_redis_down(work_dir: Path) -> None:
    owner = helper_process(str(HELPERS / "supervisor.py"), "redis", str(work_dir))
    try:
        wait_for_file(work_dir / "child.pid", owner)
        proc = psutil.Process(int((work_dir / "child.pid").read_text()))
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert not wait_gone([proc], timeout=5)
    finally:
        owner.kill()
        owner.wait()
    again = EmbeddedRedis(work_dir / "redis")
    try:
        again.start()
    finally:
        again.stop()
