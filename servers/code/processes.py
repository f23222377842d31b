"""Run one analyzer as a child process under its own limits: address space and
CPU seconds as rlimits (set by util-linux `prlimit` before the analyzer's exec,
so there is no window without them) and a wall-clock timeout that kills its
whole process group. An argument list, never a shell string."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

PRLIMIT = "/usr/bin/prlimit"


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    memory_bytes: int
    cpu_seconds: int


# What an analyzer child gets as its environment: nothing of the server's.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Finished:
    """How a limited run ended: status "ok" (it exited, with `returncode`),
    "timeout", "memory" or "failed"."""

    status: str
    returncode: int
    stdout: bytes
    stderr: bytes
    duration_ms: int

    @property
    def detail(self) -> str:
        tail = self.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return {"timeout": "its time limit was reached", "memory": "its memory limit was reached"}.get(
            self.status, tail[0][:300]
        )


# What an allocation failure under RLIMIT_AS looks like in a Python or Rust program.
_OUT_OF_MEMORY = (b"MemoryError", b"memory allocation of", b"Cannot allocate memory")


def limited_argv(argv: Sequence[str], limits: Limits) -> list[str]:
    """`argv` started under the limits' rlimits (inherited by its children)."""
    return [
        PRLIMIT,
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        "--core=0",
        "--",
        *argv,
    ]


async def run_limited(
    argv: Sequence[str],
    stdin: bytes,
    limits: Limits,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Finished:
    """Run `argv` with `stdin`, within `limits`; never raises for the child's failures."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *limited_argv(argv, limits),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as one
        env=env if env is not None else CLEAN_ENV,
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), limits.wall_seconds)
    except TimeoutError:
        kill_group(proc.pid)
        await proc.wait()
        return Finished("timeout", -1, b"", b"", ms_since(started))
    finally:
        if proc.returncode is None:  # cancelled: leave nothing behind
            kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
    return ended(proc.returncode if proc.returncode is not None else -1, out, err, started)


def ended(rc: int, out: bytes, err: bytes, started: float) -> Finished:
    """How a run that exited with `rc` ended: killed at its CPU limit (SIGXCPU,
    or SIGKILL past it) is a timeout, an allocation failure is memory."""
    if rc == -signal.SIGXCPU or rc == -signal.SIGKILL:
        return Finished("timeout", rc, out, err, ms_since(started))
    if rc != 0 and any(marker in err for marker in _OUT_OF_MEMORY):
        return Finished("memory", rc, out, err, ms_since(started))
    return Finished("ok", rc, out, err, ms_since(started))


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
