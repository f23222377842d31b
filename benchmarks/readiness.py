"""Waiting for a benchmark's processes to serve: shared by the benchmarks."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

import httpx


async def wait_http(
    url: str,
    procs: list[subprocess.Popen[bytes]],
    within: float = 60,
    ready: Callable[[int], bool] = lambda status: status == 200,
) -> None:
    """Poll `url` until its status is `ready`; fail at once if one of `procs` exits."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            try:
                if ready((await client.get(url)).status_code):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(url)
