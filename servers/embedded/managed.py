"""The lifecycle shared by the embedded servers (:mod:`~servers.embedded.postgres`, ``.redis``).

A start is: prepare (lock the data dir, stop orphans, ...), spawn the child, wait until it is ready,
then an optional after-ready step; a failed or cancelled start stops whatever it started.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from servers.embedded.blocking import run_blocking
from servers.embedded.child_process import ChildProcess
from servers.embedded.locks import OwnerLock
from servers.embedded.waiting import async_wait_until, wait_until


class ManagedServer(ABC):
    """A server run as a supervised child on ``data_dir``, guarded by a sibling ``flock``.

    Subclasses implement :meth:`_prepare`, :meth:`_spawn` (sets ``_process``), :meth:`_ready`,
    :meth:`_address` and :meth:`_log_started`, and set :attr:`_ready_what`.
    """

    _ready_what: ClassVar[str]
    """What :meth:`start` waits for, as named in a timeout error ("redis to answer PING")."""

    _after_ready: Callable[[], None] | None = None
    """Optional blocking step once ready (run in a worker thread by :meth:`start_async`)."""

    _after_stop: Callable[[], None] | None = None
    """Optional cleanup in :meth:`stop` after the process stopped, before the lock is released."""

    def __init__(self, data_dir: Path, *, start_timeout: float, stop_timeout: float) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._lock = OwnerLock(self.data_dir.with_name(f".{self.data_dir.name}.lock"))
        self._process: ChildProcess | None = None

    @property
    def process(self) -> ChildProcess | None:
        """The server's child process while started."""
        return self._process

    def is_running(self) -> bool:
        """True while our server process runs."""
        return self._process is not None and self._process.is_running()

    def start(self) -> str:
        """Start (blocking) until ready and return the address. Idempotent."""
        if self.is_running():
            return self._address()
        try:
            self._prepare()
            self._spawn()
            wait_until(self._ready, self.start_timeout, what=self._ready_what, process=self._process)
            if self._after_ready is not None:
                self._after_ready()
        except BaseException:
            self.stop()
            raise
        self._log_started()
        return self._address()

    async def start_async(self) -> str:
        """Like :meth:`start` without blocking the event loop (the server is forked in the loop thread)."""
        if self.is_running():
            return self._address()
        try:
            await run_blocking(self._prepare)
            self._spawn()
            await async_wait_until(
                self._ready, self.start_timeout, what=self._ready_what, process=self._process
            )
            if self._after_ready is not None:
                await run_blocking(self._after_ready)
        except BaseException:
            await run_blocking(self.stop)
            raise
        self._log_started()
        return self._address()

    def stop(self) -> None:
        """Stop the server (its stop signal, SIGKILL after ``stop_timeout``); release the lock. Idempotent."""
        try:
            if self._process is not None:
                self._process.stop(self.stop_timeout)
        finally:
            self._process = None
            if self._after_stop is not None:
                self._after_stop()
            self._lock.release()

    async def stop_async(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await run_blocking(self.stop)

    @abstractmethod
    def _prepare(self) -> None:
        """Blocking setup before spawning: take the lock, stop orphans, ..."""

    @abstractmethod
    def _spawn(self) -> None:
        """Create and start ``_process`` (in the calling thread: it sets the parent-death signal)."""

    @abstractmethod
    def _ready(self) -> bool:
        """Quick, non-blocking readiness check."""

    @abstractmethod
    def _address(self) -> str:
        """What :meth:`start` returns (DSN, URL)."""

    @abstractmethod
    def _log_started(self) -> None:
        """Log that the server is ready."""
