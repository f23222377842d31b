"""One test run in a bubblewrap sandbox, streamed.

The sandbox: new user, pid, net, ipc, uts, cgroup and mount namespaces; uid
65534 and no capabilities (bubblewrap sets no_new_privs); a new session;
killed with its parent. It sees only the runtime, read-only (/usr, the
interpreter's prefix, the runner's packages), the run's workspace at /work
and its report directory at /report, read-write, a private size-capped /tmp,
a fresh /proc and /dev, and an environment of a few fixed variables.

Limits: memory and process count through the run's cgroup (rlimits where
there is none), CPU seconds and file size as rlimits (prlimit before bwrap's
exec), a wall-clock timeout and an output cap that kill the whole run. Before
the command starts (bwrap --block-fd), its first process is moved into the
cgroup, so nothing escapes it. Whatever happens, the processes, the cgroup
and the workspace are gone when `run` ends.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from servers.code.processes import PRLIMIT
from servers.code.sandbox import junit
from servers.code.sandbox.cgroups import RunCgroup
from servers.code.sandbox.workspace import read_regular, write_files

INTERPRETER = str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
RUNNER_DISTRIBUTIONS = ("pytest", "unittest-xml-reporting")
COLLECTOR = Path(__file__).with_name("collect.py")
FINAL_OUTPUT_BYTES = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 256 << 20
    max_processes: int = 64
    cpu_seconds: int = 10
    file_bytes: int = 16 << 20
    tmp_bytes: int = 64 << 20
    output_bytes: int = 2 << 20


@dataclass(frozen=True)
class Chunk:
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    duration_ms: int
    output: str
    output_truncated: bool
    limit_exceeded: str  # "", "timeout", "cpu", "memory", "output"
    summary: junit.Summary | None
    report: bytes  # /report/<report_name>, read back without following links


def _top_levels(distribution: str, seen: set[str]) -> set[Path]:
    """The import roots (package dirs, modules) of a distribution and its requirements."""
    if distribution.lower() in seen:
        return set()
    seen.add(distribution.lower())
    dist = metadata.distribution(distribution)
    roots: set[Path] = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith(".pth"):
            continue
        roots.add(Path(str(dist.locate_file(first))))
    for requirement in dist.requires or ():
        if "extra ==" in requirement:
            continue
        name = requirement.split(";")[0].split("[")[0].strip()
        name = name.split(">")[0].split("<")[0].split("=")[0].split("!")[0].split("~")[0].strip()
        with contextlib.suppress(metadata.PackageNotFoundError):
            roots |= _top_levels(name, seen)
    return roots


def runner_packages() -> list[Path]:
    seen: set[str] = set()
    return sorted(set().union(*(_top_levels(d, seen) for d in RUNNER_DISTRIBUTIONS)))


class Sandbox:
    def __init__(self, bwrap: str, work_root: Path, cgroup_parent: str, limits: SandboxLimits):
        self.bwrap = bwrap
        self.work_root = work_root
        self.cgroup_parent = cgroup_parent
        self.limits = limits
        self.python = INTERPRETER
        self._packages = runner_packages()

    def available(self) -> str | None:
        """Why runs are impossible here, or None."""
        if not os.access(self.bwrap, os.X_OK):
            return f"bubblewrap is not installed at {self.bwrap} (CODE_BWRAP_PATH); test runs are disabled"
        if not os.access(PRLIMIT, os.X_OK):
            return f"{PRLIMIT} (util-linux) is missing; test runs are disabled"
        return self._refused_here()

    @functools.cache  # noqa: B019 (one Sandbox per server: what the host allows does not change)
    def _refused_here(self) -> str | None:
        """Whether this host lets bubblewrap build a sandbox at all (once): a container without
        the namespaces or the unmasked /proc it needs (docs/code-assistant.md) refuses every
        run the same way, and a client should hear why, not get a failed run."""
        probe = [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        probe += [
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
        ]
        probe += ["--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap cannot build a sandbox here ({exc}); test runs are disabled"
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            return f"bubblewrap cannot build a sandbox here ({why}); test runs are disabled"
        return None

    def _argv(
        self, root: Path, command: Sequence[str], info_fd: int, block_fd: int, cgroup: bool
    ) -> list[str]:
        lim = self.limits
        rlimits = [f"--cpu={lim.cpu_seconds}", f"--fsize={lim.file_bytes}", "--core=0"]
        if not cgroup:  # the fallback: per-process address space and process count
            rlimits += [f"--as={lim.memory_bytes}", f"--nproc={lim.max_processes}"]
        # The interpreter's prefix without its site-packages: the runner's own packages are added alone.
        binds = ["--ro-bind", "/usr", "/usr", "--ro-bind", sys.base_prefix, sys.base_prefix]
        binds += ["--tmpfs", sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"]]
        for package in self._packages:
            binds += ["--ro-bind", str(package), f"/opt/runner/{package.name}"]
        binds += ["--ro-bind", str(COLLECTOR), "/opt/aether/collect.py"]
        return [
            PRLIMIT, *rlimits, "--",
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
            "--cap-drop", "ALL", "--new-session", "--die-with-parent",
            *binds,
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(lim.tmp_bytes), "--tmpfs", "/tmp",  # noqa: S108 (the sandbox's private /tmp)
            "--bind", str(root / "work"), "/work", "--bind", str(root / "report"), "/report",
            "--remount-ro", "/",  # the sandbox's own root stays as built
            "--chdir", "/work", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "HOME", "/tmp",  # noqa: S108 (the private /tmp)
            "--setenv", "PYTHONPATH", "/opt/runner", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONUNBUFFERED", "1", "--setenv", "NO_COLOR", "1",
            "--setenv", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1",
            "--info-fd", str(info_fd), "--block-fd", str(block_fd),
            "--", *command,
        ]  # fmt: skip

    async def run(
        self,
        files: Mapping[str, str],
        command: Sequence[str],
        wall_seconds: float,
        report_name: str = "junit.xml",
    ) -> AsyncIterator[Chunk | Outcome]:
        """Chunks of output as they are written, then the Outcome."""
        self.work_root.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="run-", dir=self.work_root))
        cgroup: RunCgroup | None = None
        proc: asyncio.subprocess.Process | None = None
        try:
            (root / "work").mkdir()
            (root / "report").mkdir()
            write_files(root / "work", files)
            lim = self.limits
            cgroup = RunCgroup.create(self.cgroup_parent, root.name, lim.memory_bytes, lim.max_processes)
            info_r, info_w = os.pipe()
            block_r, block_w = os.pipe()
            started = time.monotonic()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._argv(root, command, info_w, block_r, cgroup is not None),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    pass_fds=(info_w, block_r),
                    start_new_session=True,
                    env={},
                )
            finally:
                os.close(info_w)
                os.close(block_r)
            try:
                child = await asyncio.wait_for(asyncio.to_thread(_read_child_pid, info_r), 10)
                if cgroup is not None and child:
                    cgroup.attach(child)
                os.write(block_w, b"1")  # the command may start now
            finally:
                os.close(info_r)
                os.close(block_w)
            async for item in _stream(proc, wall_seconds, lim.output_bytes, started, cgroup):
                if isinstance(item, Outcome):
                    report = read_regular(root / "report" / report_name, junit.MAX_REPORT_BYTES)
                    item = replace(item, report=report, summary=junit.parse(report))
                yield item
        finally:
            await _end(proc, cgroup)
            await asyncio.to_thread(shutil.rmtree, root, True)


def _read_child_pid(fd: int) -> int:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])
    return 0


async def _end(proc: asyncio.subprocess.Process | None, cgroup: RunCgroup | None) -> None:
    """Kill whatever of the run is left (its session, its cgroup), then reap bwrap."""
    if proc is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(proc.wait())
    if cgroup is not None:
        await asyncio.shield(cgroup.destroy())


async def _stream(
    proc: asyncio.subprocess.Process,
    wall_seconds: float,
    output_cap: int,
    started: float,
    cgroup: RunCgroup | None,
) -> AsyncIterator[Chunk | Outcome]:
    queue: asyncio.Queue[Chunk | None] = asyncio.Queue()

    async def pump(reader: asyncio.StreamReader | None, name: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while reader is not None and (data := await reader.read(65536)):
            await queue.put(Chunk(name, decoder.decode(data)))
        await queue.put(None)

    pumps = [
        asyncio.create_task(pump(proc.stdout, "stdout")),
        asyncio.create_task(pump(proc.stderr, "stderr")),
    ]
    kept: list[str] = []
    size = 0
    limit = ""
    open_streams = 2
    deadline = started + wall_seconds
    try:
        while open_streams:
            try:
                item = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                limit = "timeout"
                break
            if item is None:
                open_streams -= 1
                continue
            size += len(item.text.encode())
            kept.append(item.text)
            yield item
            if size > output_cap:
                limit = "output"
                break
        if limit:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        rc = await proc.wait()
    finally:
        for task in pumps:
            task.cancel()
    if not limit and cgroup is not None and cgroup.oom_killed():
        limit = "memory"
    if not limit and rc in (128 + signal.SIGXCPU, -signal.SIGXCPU):
        limit = "cpu"
    output = "".join(kept)
    data = output.encode()
    truncated = len(data) > FINAL_OUTPUT_BYTES
    if truncated:
        output = data[-FINAL_OUTPUT_BYTES:].decode(errors="ignore")
    yield Outcome(
        exit_code=-1 if limit else rc,
        duration_ms=round((time.monotonic() - started) * 1000),
        output=output,
        output_truncated=truncated,
        limit_exceeded=limit,
        summary=None,
        report=b"",
    )
