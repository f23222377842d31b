"""One supervised child process: start, exit status, log, and a stop that leaves nothing behind.

Every child is started

* in its own session (``start_new_session=True``), so a Ctrl-C typed in the terminal reaches only
  the supervisor, which then stops the children in order;
* on Linux with ``PR_SET_PDEATHSIG`` (:func:`servers.platform.process.with_death_signal`), so the
  kernel signals it when the supervisor dies, even by SIGKILL. The signal is tied to the *thread*
  that forked the child: call :meth:`ChildProcess.start` from a thread that lives as long as the
  child (the main / event-loop thread), never from a short-lived worker thread such as
  ``asyncio.to_thread``.

:meth:`ChildProcess.stop` sends the stop signal, waits, escalates to SIGKILL of the child's whole
process group, and sweeps the group once the child has exited (while its zombie still pins the
group id), so grandchildren do not survive either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from servers.platform.process import with_death_signal

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.05
CHILD_UMASK = 0o077
"""Files a child creates (Envoy's access log, Redis's dump ...) are its owner's only."""


class SupervisorError(RuntimeError):
    """Base class for supervisor errors (a child exited early, readiness timed out, ...)."""


class ChildExitedError(SupervisorError):
    """A child process exited while we were waiting for it to become ready."""


class ReadinessTimeoutError(SupervisorError, TimeoutError):
    """A child process did not become ready in time."""


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
            # Logs are the owner's only (0600): they may hold what a client sent.
            fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.fchmod(fd, 0o600)
            self._log = open(fd, "ab")  # noqa: SIM115 - kept open for the child's lifetime
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
                umask=CHILD_UMASK,
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
