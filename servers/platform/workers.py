"""`aether serve <svc>` with GRPC_WORKERS=N: N copies of the server, each its
own process on the same port (SO_REUSEPORT; the kernel spreads connections
across them). One Python process computes on one core, so this is how one
host's cores all serve; each worker has its own pools and caches, and its
own outbox relay (unless BUS_RELAY is off), woken by its own commits
(servers.platform.events.committed); relays claim with SKIP LOCKED, so they
never publish a row twice.

The supervisor only starts, watches and stops: SIGTERM or SIGINT is passed to
every worker (each drains gracefully), and if one worker dies the others are
stopped too and the supervisor exits non-zero, for the orchestrator to restart
the whole set. Workers get the parent-death signal, so none outlives it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from servers.platform.process import with_death_signal

log = logging.getLogger("aether.workers")


def serve_workers(service: str, count: int, metrics_port: int | None) -> int:
    """Run `count` workers of `service` until signalled; returns the exit status.
    Worker i serves Prometheus metrics on metrics_port + i."""
    workers: list[subprocess.Popen[bytes]] = []
    for index in range(count):
        env = os.environ | {"GRPC_WORKERS": "1"}
        if metrics_port:
            env["METRICS_PORT"] = str(metrics_port + index)
        argv = [sys.executable, "-m", "servers.cli", "serve", service]
        workers.append(subprocess.Popen(with_death_signal(argv, signal.SIGTERM), env=env))
    stopping = False

    def stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    while any(worker.poll() is None for worker in workers):
        if not stopping and any(worker.poll() is not None for worker in workers):
            log.error("a worker exited; stopping the others", extra={"service": service})
            failed = True
            stop()
        time.sleep(0.2)
    return 1 if failed or any(worker.returncode for worker in workers) else 0
