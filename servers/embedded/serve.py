"""Serving an :class:`~servers.embedded.stack.EmbeddedStack` until a signal: start it, watch its
children, and stop everything on SIGINT/SIGTERM/SIGHUP or when a child dies on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import uvloop

from servers.embedded.child_process import SupervisorError
from servers.embedded.locks import DataDirInUseError
from servers.embedded.stack import EmbeddedStack, EmbeddedStartError, StackInfo

logger = logging.getLogger(__name__)


async def serve_until_signal(
    stack: EmbeddedStack,
    *,
    on_started: Callable[[StackInfo], None] | None = None,
    poll_interval: float = 0.5,
) -> int:
    """Start ``stack``, run until SIGINT/SIGTERM/SIGHUP or until a child dies, then stop everything.

    ``on_started`` is called once everything is up (e.g. to show the summary). Returns the exit
    code: 0 after a signal, 1 if the start failed or a child exited on its own.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    start_task: asyncio.Task[StackInfo] | None = None

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            logger.info("already stopping (signal %s ignored)", signal.Signals(signum).name)
            return
        logger.info("received %s: stopping", signal.Signals(signum).name)
        stopping.set()
        if start_task is not None and not start_task.done():
            start_task.cancel()

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        start_task = asyncio.ensure_future(stack.start())
        try:
            info = await start_task
        except asyncio.CancelledError:
            if stopping.is_set():
                return 0
            raise
        except (EmbeddedStartError, SupervisorError, DataDirInUseError) as exc:
            logger.error("aether failed to start: %s", exc)
            return 1
        except Exception:
            logger.exception("aether failed to start")
            return 1
        if on_started is not None:
            on_started(info)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=poll_interval)
            failed = stack.failed_children()
            if failed and not stopping.is_set():
                logger.error("stopping everything: %s exited; see %s", ", ".join(failed), stack.log_dir)
                return 1
        return 0
    finally:
        await stack.stop()
        for signum in handled:
            loop.remove_signal_handler(signum)


def run_forever(stack: EmbeddedStack, *, on_started: Callable[[StackInfo], None] | None = None) -> int:
    """Blocking entry point for ``aether dev``: :func:`serve_until_signal` in a fresh event loop."""
    return uvloop.run(serve_until_signal(stack, on_started=on_started))
