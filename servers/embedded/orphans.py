"""Finding and stopping servers left running on a data directory (orphans of a crashed supervisor,
and their helper processes)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)


def _mentions(arg: str, directory: str) -> bool:
    return (
        arg == directory or arg.endswith(("=" + directory, "-D" + directory)) or (directory + os.sep) in arg
    )


def processes_in_dir(names: set[str], directory: Path) -> list[psutil.Process]:
    """Running processes named one of ``names`` whose cwd is ``directory`` or whose argv mentions it.

    Servers chdir into their data directory (postgres, redis-server --dir), so this finds them,
    including orphans of a crashed supervisor and their helper processes.
    """
    target = str(directory)
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        info = proc.info
        if info.get("name") not in names:
            continue
        cmdline = info.get("cmdline") or []
        if info.get("cwd") == target or any(_mentions(arg, target) for arg in cmdline):
            found.append(proc)
    return found


def terminate_processes(
    procs: Sequence[psutil.Process], sig: int = signal.SIGTERM, timeout: float = 5.0
) -> None:
    """Send ``sig`` to ``procs``, wait up to ``timeout`` s, then SIGKILL the survivors and wait."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        logger.warning("pid %d ignored %s; killing it", proc.pid, signal.Signals(sig).name)
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5.0)
