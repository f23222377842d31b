"""Shared helpers for the embedded-infrastructure tests (real processes, tmp data dirs, free ports)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .helpers.envoy_config import write_envoy_config

HELPERS = Path(__file__).parent / "helpers"
DUMMY_SERVICE = HELPERS / "dummy_service.py"
REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "DUMMY_SERVICE",
    "HELPERS",
    "alive",
    "helper_process",
    "processes_mentioning",
    "wait_gone",
    "write_envoy_config",
]


def alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (PID 1 here may be slow to reap re-parented orphans)."""
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_gone(procs: list[psutil.Process], timeout: float = 5.0) -> list[psutil.Process]:
    """Wait until none of ``procs`` is alive; return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        survivors = [p for p in procs if alive(p)]
        if not survivors or time.monotonic() >= deadline:
            return survivors
        time.sleep(0.05)


def processes_mentioning(directory: Path) -> list[psutil.Process]:
    """Live processes (other than us) whose cmdline mentions ``directory`` or whose cwd is inside it."""
    target = str(directory.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        if proc.pid == os.getpid():
            continue
        cmdline = " ".join(proc.info.get("cmdline") or [])
        cwd = proc.info.get("cwd") or ""
        if (target in cmdline or cwd == target or cwd.startswith(target + "/")) and alive(proc):
            found.append(proc)
    return found


def helper_process(*args: str) -> subprocess.Popen[bytes]:
    """Start a helper script (tests/embedded/helpers) with the repo importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, *args], env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)


def wait_for_file(path: Path, proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """Wait for ``path`` to appear (while ``proc``, if given, runs)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc is None or proc.poll() is None, f"helper exited early with {proc and proc.returncode}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def make_work_dir() -> Path:
    """A fresh directory under /tmp, outside pytest's basetemp.

    pytest resets /tmp/pytest-of-<user> to mode 0700 whenever a session starts; another pytest run
    on the machine would then cut the ``pgserver`` user (postgres as root) off from data dirs in it.
    """
    return Path(tempfile.mkdtemp(prefix="aether-embedded-test-"))


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """Like ``tmp_path``, but traversable by the ``pgserver`` user for the whole test."""
    path = make_work_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_aether_dir() -> Iterator[Path]:
    """One ``.aether`` data dir for the whole session, so initdb runs once.

    The PostgreSQL tests use its ``postgres`` subdir, the stack tests the whole of it; every test
    stops what it started, so they can take turns.
    """
    base = make_work_dir()
    yield base / ".aether"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    """Fail if the test leaves a child process of the test runner behind."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    leftovers = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and alive(p)]
    for proc in leftovers:
        proc.kill()
    assert not leftovers, f"left behind: {leftovers}"
