"""bandit without an interpreter start per review: the server's side of
servers/code/bandit_server.py, the fork server it starts on first use (and again
if it died) and talks to over a Unix socket in a private (0700) directory.

A run gives the same `Finished` as processes.run_limited would for a cold
`prlimit … python -I -m bandit`: the fork server's child has the same rlimits,
environment and own process group, and is killed as a group at the wall-clock
timeout or when the review is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from servers.code.processes import CLEAN_ENV, Finished, Limits, ended, kill_group, ms_since

BANDIT_SERVER = Path(__file__).with_name("bandit_server.py")
# bandit's JSON for 256 KiB of code fits; the frames are single lines.
FRAME_LIMIT = 64 << 20
# Importing bandit and its plugins, once per server (not part of a review's budget).
STARTUP_TIMEOUT = 30.0


class WarmBandit:
    def __init__(self, python: str, limits: Limits):
        self._python = python
        self._limits = limits
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: str | None = None
        self._ready: asyncio.Task[str] | None = None
        self._restart = asyncio.Lock()

    async def _spawn(self) -> str:
        self._dir = tempfile.mkdtemp(prefix="aether-bandit-")
        path = str(Path(self._dir) / "socket")
        self._proc = await asyncio.create_subprocess_exec(
            self._python, "-I", str(BANDIT_SERVER), path,
            str(self._limits.memory_bytes), str(self._limits.cpu_seconds),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            env=CLEAN_ENV, start_new_session=True,
        )  # fmt: skip
        assert self._proc.stdout is not None
        if await asyncio.wait_for(self._proc.stdout.readline(), STARTUP_TIMEOUT) != b"ready\n":
            raise OSError("the bandit fork server did not start")
        return path

    def _usable(self) -> bool:
        task = self._ready
        if task is None or not task.done():
            return task is not None
        return not task.cancelled() and task.exception() is None and self._alive()

    @property
    def server_pid(self) -> int | None:
        """The fork server's pid while it runs."""
        return self._proc.pid if self._alive() and self._proc is not None else None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def _socket(self) -> tuple[asyncio.Task[str], str]:
        """The fork server's start and socket, (re)starting it where needed. Its
        start goes on in the background if the review that began it times out."""
        async with self._restart:
            if not self._usable():
                await self.close()
                self._ready = asyncio.create_task(self._spawn())
            ready = self._ready
        assert ready is not None
        return ready, await asyncio.shield(ready)

    async def run(self, code: bytes) -> Finished:
        """bandit over `code`, as `Finished` (never raises for bandit's failures)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._limits.wall_seconds):
                frames = await self._exchange(code)
        except TimeoutError:
            return Finished("timeout", -1, b"", b"", ms_since(started))
        except OSError as exc:  # no fork server: it could not start, or died twice
            return Finished("failed", -1, b"", f"bandit could not start: {exc}".encode(), ms_since(started))
        result = next((f for f in frames if "rc" in f), None)
        exit_code = next((f["exit"] for f in frames if "exit" in f), -1)
        if result is None:  # ended before it could answer (CPU limit, a crash)
            return ended(exit_code or -1, b"", b"bandit ended without an answer", started)
        rc = result["rc"] if exit_code in (0, -1) else exit_code
        return ended(rc, result["stdout"].encode(), result["stderr"].encode(), started)

    async def _exchange(self, code: bytes) -> list[dict[str, Any]]:
        for attempt in (1, 2):  # a fork server that died since the last review is started again
            ready, path = await self._socket()
            try:
                reader, writer = await asyncio.open_unix_connection(path, limit=FRAME_LIMIT)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                async with self._restart:
                    if self._ready is ready:  # not already replaced by a concurrent review
                        await self.close()
                if attempt == 2:
                    raise
        pid = 0
        try:
            pid = json.loads(await reader.readline())["pid"]
            writer.write(code)
            await writer.drain()
            writer.write_eof()
            return [json.loads(line) async for line in reader]
        finally:
            writer.close()
            if pid and not reader.at_eof():  # timed out or cancelled: leave nothing behind
                kill_group(pid)

    async def close(self) -> None:
        """Stop the fork server (on shutdown, or to start a new one)."""
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
            with contextlib.suppress(BaseException):
                await self._ready
        self._ready = None
        if self._alive():
            assert self._proc is not None
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGKILL)
            await self._proc.wait()
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
