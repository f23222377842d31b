"""`aether dev` started the way a user starts it: a subprocess on free ports with
its own data dir (embedded PostgreSQL and Redis, the servers, Envoy), driven over
REST, stopped with SIGTERM, leaving no process behind; then started again on
the same data."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from servers.embedded.ports import free_port
from tests.helpers import STRONG_PASSWORD, unique_email

# The test runner's own settings point at the machine's servers; the user's shell would not.
_STRIPPED = {"DATABASE_URL", "REDIS_URL", "AETHER_SECRET_KEY", "GRPC_PORT", "GRPC_HOST"}


@contextmanager
def aether_dev(
    data_dir: Path, port: int
) -> Iterator[tuple[str, subprocess.Popen[str], list[psutil.Process]]]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED}
    argv = [sys.executable, "-m", "servers.cli", "dev", "--port", str(port), "--grpc-port", "0"]
    proc = subprocess.Popen(
        [*argv, "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "aether dev did not become ready"
            time.sleep(0.25)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        yield base, proc, descendants
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            for leftover in descendants:
                if leftover.is_running() and leftover.status() != psutil.STATUS_ZOMBIE:
                    leftover.kill()


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_aether_dev_runs_the_system_stops_cleanly_and_restarts_on_its_data() -> None:
    # Not under pytest's tmp dir: pytest may chmod it 0700, which the postgres user cannot enter.
    data_dir = Path(tempfile.mkdtemp(prefix="aether-e2e-"))
    try:
        _run_twice(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run_twice(data_dir: Path) -> None:
    email = unique_email("e2e")
    port = free_port()

    with aether_dev(data_dir, port) as (base, proc, descendants):
        names = {p.name() for p in descendants}
        assert {"postgres", "envoy"} <= names and any("redis" in n for n in names), names
        r = httpx.post(
            f"{base}/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "E"}
        )
        assert r.status_code == 200, r.text
        r = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
        assert r.status_code == 200, r.text
        me = httpx.get(
            f"{base}/api/v1/auth/me", headers={"authorization": f"Bearer {r.json()['accessToken']}"}
        )
        assert me.status_code == 200 and me.json()["email"] == email
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        output = proc.stdout.read() if proc.stdout else ""
    assert f"127.0.0.1:{port}" in output  # it told the user where it listens
    time.sleep(0.5)
    assert not _alive(descendants), _alive(descendants)

    with aether_dev(data_dir, port) as (base, proc, descendants):  # same data, same keys
        r = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
        assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    time.sleep(0.5)
    assert not _alive(descendants)
