"""A cgroup (v1: the memory and pids controllers, writable by root on these
hosts) per test run: memory and process-count limits for the whole sandbox,
an OOM-kill counter, and a kill that reaches every process of the run, then
removal. Where the controllers are not writable, runs fall back to rlimits
(servers.code.sandbox.bwrap)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _procs(group: Path) -> list[int]:
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


@dataclass
class RunCgroup:
    memory: Path
    pids: Path

    @classmethod
    def create(cls, parent: str, name: str, memory_bytes: int, max_pids: int) -> RunCgroup | None:
        """The run's cgroup under `<controller>/<parent>/`, or None if cgroups cannot be used."""
        memory = CGROUP_ROOT / "memory" / parent / name
        pids = CGROUP_ROOT / "pids" / parent / name
        try:
            memory.mkdir(parents=True)
            pids.mkdir(parents=True)
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():  # no swapping around the limit
                swap.write_text(str(memory_bytes))
            (pids / "pids.max").write_text(str(max_pids))
        except OSError:
            for group in (memory, pids):
                with contextlib.suppress(OSError):
                    group.rmdir()
            return None
        return cls(memory, pids)

    def attach(self, pid: int) -> None:
        """Move `pid` (before it starts the run's command) into the cgroup."""
        for group in (self.memory, self.pids):
            (group / "cgroup.procs").write_text(str(pid))

    def oom_killed(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            for line in (self.memory / "memory.oom_control").read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value) > 0
        return False

    async def destroy(self) -> None:
        """SIGKILL every process left in the run's cgroup, then remove it."""
        for _ in range(200):
            pids = set(_procs(self.memory)) | set(_procs(self.pids))
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not pids:
                for group in (self.memory, self.pids):
                    with contextlib.suppress(FileNotFoundError, OSError):  # EBUSY: exits still accounted
                        group.rmdir()
                if not self.memory.exists() and not self.pids.exists():
                    return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"could not remove the test run's cgroup {self.memory.name}")
