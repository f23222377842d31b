"""Waiting for a child to become ready: poll a condition (or a port) until it holds, failing fast
if the child exits meanwhile, with blocking and asyncio variants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from servers.embedded.child_process import ChildExitedError, ChildProcess, ReadinessTimeoutError
from servers.embedded.ports import port_is_open

_POLL_INTERVAL = 0.05


def _check_alive(process: ChildProcess | None, what: str) -> None:
    if process is not None and process.has_exited():
        raise ChildExitedError(
            f"{process.name} exited with code {process.returncode_or_signal()} before {what}."
            f"{process.describe_log()}"
        )


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    *,
    what: str,
    process: ChildProcess | None = None,
    interval: float = _POLL_INTERVAL,
) -> None:
    """Poll ``predicate`` until true; fail fast if ``process`` exits, or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        _check_alive(process, what)
        if time.monotonic() >= deadline:
            raise ReadinessTimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], bool],
    timeout_s: float,
    *,
    what: str,
    process: ChildProcess | None = None,
    interval: float = _POLL_INTERVAL,
) -> None:
    """Async version of :func:`wait_until` (``predicate`` must be quick and non-blocking)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return
        _check_alive(process, what)
        if time.monotonic() >= deadline:
            raise ReadinessTimeoutError(f"timed out after {timeout_s:.1f}s waiting for {what}")
        await asyncio.sleep(interval)


def wait_for_port(
    host: str, port: int, timeout: float = 10.0, *, process: ChildProcess | None = None
) -> None:
    """Block until ``host:port`` accepts connections (or ``process`` exits, or timeout)."""
    wait_until(
        lambda: port_is_open(host, port),
        timeout,
        what=f"{host}:{port} to accept connections",
        process=process,
    )


async def async_wait_for_port(
    host: str, port: int, timeout_s: float = 10.0, *, process: ChildProcess | None = None
) -> None:
    """Async version of :func:`wait_for_port`."""
    await async_wait_until(
        lambda: port_is_open(host, port, timeout=0.1),
        timeout_s,
        what=f"{host}:{port} to accept connections",
        process=process,
    )
