"""The Code Assistant's own costs, on the components the server runs (the gRPC
layer is measured by the other benchmarks):

1. review latency of a 300-line Python file without AI: the three analyzers
   (ruff, bandit, radon + complexipy) under their limits, merged and scored;
   p50/p95 over --reviews runs (goal: p95 < 1 s); the same for a 300-line
   JavaScript file (oxlint, lizard);
2. sandbox overhead: an empty pytest run in the bubblewrap sandbox (cgroup,
   workspace, namespaces, report read-back, cleanup) minus the same pytest
   run as a bare child process, medians over --runs (goal: < 100 ms);
3. --concurrency runs kept in flight for --seconds, then the leftovers
   (processes, cgroups, workspaces, mounts) counted before and after.

    .venv/bin/python benchmarks/code_assistant.py [--reviews 30] [--runs 10] [--concurrency 20] [--seconds 60]
        [--reviews-only]

Needs root (cgroups) and /usr/bin/bwrap, like the server's test runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers.code.analyzers import Analyzers, Toolchain  # noqa: E402
from servers.code.domain import AiOutcome, NewReview, Source, assemble  # noqa: E402
from servers.code.sandbox.bwrap import INTERPRETER, Sandbox, SandboxLimits  # noqa: E402
from servers.code.sandbox.runners import RunOptions, command  # noqa: E402

CGROUP_PARENT = "aether-code-bench"
EMPTY_TEST = {"test_empty.py": "def test_nothing():\n    pass\n"}


def three_hundred_lines() -> str:
    """A realistic module: functions with branches, a class, some findings."""
    parts = ['"""Benchmark module."""\n\nimport os\nimport subprocess\n\n']
    i = 0
    while sum(p.count("\n") for p in parts) < 300:
        parts.append(
            f"def handler_{i}(request, verbose=False):\n"
            f"    total = 0\n"
            f"    for item in request.get('items', []):\n"
            f"        if item > {i}:\n"
            f"            total += item\n"
            f"        elif item < 0:\n"
            f"            total -= 1\n"
            f"    if verbose:\n"
            f"        print('handler {i}', total)\n"
            f"    return total\n\n\n"
        )
        i += 1
    parts.append("def run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    return "".join(parts)


def three_hundred_lines_of_js() -> str:
    """The same module in JavaScript."""
    parts = ["'use strict';\n\nconst { execSync } = require('child_process');\n\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < 300:
        parts.append(
            f"function handler{i}(request, verbose = false) {{\n"
            f"  let total = 0;\n"
            f"  for (const item of request.items || []) {{\n"
            f"    if (item > {i}) {{\n"
            f"      total += item;\n"
            f"    }} else if (item < 0) {{\n"
            f"      total -= 1;\n"
            f"    }}\n"
            f"  }}\n"
            f"  if (verbose) console.log('handler {i}', total);\n"
            f"  return total;\n"
            f"}}\n\n"
        )
        i += 1
    parts.append("function run(cmd) {\n  return eval(cmd) || execSync(cmd);\n}\n")
    parts.append(f"module.exports = {{ run, {', '.join(f'handler{n}' for n in range(i))} }};\n")
    return "".join(parts)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def leftovers(sandbox: Sandbox) -> dict[str, int]:
    import psutil

    procs = [p for p in psutil.Process().children(recursive=True) if p.name() == "bwrap"]
    groups = [
        p
        for c in ("memory", "pids")
        if (root := Path("/sys/fs/cgroup") / c / CGROUP_PARENT).exists()
        for p in root.iterdir()
        if p.is_dir()
    ]
    mounts = [
        line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(sandbox.work_root) in line
    ]
    workspaces = list(sandbox.work_root.iterdir()) if sandbox.work_root.exists() else []
    return {
        "processes": len(procs),
        "cgroups": len(groups),
        "workspaces": len(workspaces),
        "mounts": len(mounts),
    }


async def bench_reviews(n: int) -> None:
    """Python with bandit cold (an interpreter per review) and warm (its fork
    server), interleaved so load changes hit both alike; then JavaScript."""
    bin_dir = Path(sys.executable).parent
    tools = Toolchain(ruff=str(bin_dir / "ruff"), oxlint=str(bin_dir / "oxlint"))
    cold, warm = Analyzers(replace(tools, warm_bandit=False)), Analyzers(tools)
    python = Source(three_hundred_lines(), "python", "snippet.py")
    javascript = Source(three_hundred_lines_of_js(), "javascript", "snippet.js")
    runs: dict[str, tuple[list[float], list[NewReview]]] = {}
    cases = [("python, bandit cold", cold, python), ("python, bandit warm", warm, python)]
    for _, analyzers, source in cases:  # warm the page cache and start the fork server
        await analyzers.review(source)
    for _ in range(n):
        for name, analyzers, source in cases:
            await time_review(runs.setdefault(name, ([], [])), analyzers, source)
    await warm.review(javascript)
    for _ in range(n):
        await time_review(runs.setdefault("javascript", ([], [])), warm, javascript)
    await warm.close()
    for (name, _, source), (times, reviews) in zip(
        [*cases, ("javascript", warm, javascript)], runs.values(), strict=True
    ):
        last = reviews[-1]
        print(
            f"review, {len(source.code.splitlines())} lines of {name}, no AI, {n} runs: "
            f"p50 {pct(times, 0.5) * 1000:.0f} ms, p95 {pct(times, 0.95) * 1000:.0f} ms "
            f"(score {last.score}, partial {last.partial}; "
            + ", ".join(f"{r.name} {r.duration_ms} ms" for r in last.analyzers)
            + " in the last run)",
            flush=True,
        )


async def time_review(
    into: tuple[list[float], list[NewReview]], analyzers: Analyzers, source: Source
) -> None:
    started = time.perf_counter()
    review = assemble(source.code, source.language, await analyzers.review(source), AiOutcome("skipped"))
    into[0].append(time.perf_counter() - started)
    into[1][:] = [review]


async def run_once(sandbox: Sandbox, files: dict[str, str]) -> float:
    started = time.perf_counter()
    async for _ in sandbox.run(files, command(RunOptions("pytest"), INTERPRETER), 60):
        pass
    return time.perf_counter() - started


async def bare_once(files: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            (Path(tmp) / name).write_text(content)
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={tmp}/junit.xml",
            cwd=tmp, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        await proc.wait()
        return time.perf_counter() - started


async def bench_overhead(sandbox: Sandbox, n: int) -> None:
    await run_once(sandbox, EMPTY_TEST)
    await bare_once(EMPTY_TEST)
    sandboxed, bare = [], []
    for _ in range(n):  # interleaved, so load changes hit both alike
        sandboxed.append(await run_once(sandbox, EMPTY_TEST))
        bare.append(await bare_once(EMPTY_TEST))
    s, b = statistics.median(sandboxed), statistics.median(bare)
    print(
        f"empty pytest run, {n} each: sandboxed median {s * 1000:.0f} ms, bare {b * 1000:.0f} ms, "
        f"overhead {(s - b) * 1000:.0f} ms",
        flush=True,
    )


async def bench_concurrency(sandbox: Sandbox, concurrency: int, seconds: float) -> None:
    before = leftovers(sandbox)
    deadline = time.monotonic() + seconds
    done: list[float] = []

    async def worker() -> None:
        while time.monotonic() < deadline:
            done.append(await run_once(sandbox, EMPTY_TEST))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    after = leftovers(sandbox)
    print(
        f"{concurrency} concurrent runs for {seconds:.0f} s: {len(done)} runs, "
        f"p50 {pct(done, 0.5) * 1000:.0f} ms, p95 {pct(done, 0.95) * 1000:.0f} ms; "
        f"leftovers before {before}, after {after}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reviews", type=int, default=30)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--reviews-only", action="store_true", help="only the review latencies")
    args = parser.parse_args()
    if args.reviews_only:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        await bench_reviews(args.reviews)
        return
    sandbox = Sandbox(
        "/usr/bin/bwrap", Path(tempfile.gettempdir()) / "aether-code-bench", CGROUP_PARENT, SandboxLimits()
    )
    if (why := sandbox.available()) is not None:
        raise SystemExit(why)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    await bench_reviews(args.reviews)
    await bench_overhead(sandbox, args.runs)
    await bench_concurrency(sandbox, args.concurrency, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
