"""Running a blocking step (initdb, writing a config, ...) from the supervisor's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


async def run_blocking(fn: Callable[[], _T]) -> _T:
    """Run ``fn`` in a worker thread; if cancelled, let the thread finish before re-raising.

    Cleanup after a cancelled start must not race a half-done blocking step (initdb, ...).
    Never use it for :meth:`~servers.embedded.child_process.ChildProcess.start`: the parent-death
    signal is tied to the forking thread, and a worker thread does not live as long as the child.
    """
    future = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise
