"""bandit in its fork server (servers.code.warm) against the cold run it replaces,
with real processes: the same findings, its limits (a timeout kills the run and
leaves no process), and a fork server that died is started again."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from servers.code.analyzers import DEFAULT_LIMITS
from servers.code.processes import Limits, run_limited
from servers.code.warm import WarmBandit

PLANTED = (Path(__file__).parents[1] / "api" / "code_fixtures" / "planted.py.txt").read_bytes()


@pytest.fixture
async def warm() -> AsyncIterator[WarmBandit]:
    bandit = WarmBandit(sys.executable, DEFAULT_LIMITS)
    yield bandit
    await bandit.close()


def findings(stdout: bytes) -> list[tuple[int, str, str]]:
    results = json.loads(stdout)["results"]
    return sorted((r["line_number"], r["test_id"], r["issue_severity"]) for r in results)


def forked_runs(bandit: WarmBandit) -> list[psutil.Process]:
    """What this fork server forked and is still alive."""
    assert bandit.server_pid is not None
    children = psutil.Process(bandit.server_pid).children()
    return [c for c in children if c.status() != psutil.STATUS_ZOMBIE]


async def test_the_warm_run_finds_what_the_cold_one_does(warm: WarmBandit) -> None:
    cold = await run_limited(
        [sys.executable, "-I", "-m", "bandit", "--format=json", "--quiet", "-"], PLANTED, DEFAULT_LIMITS
    )
    first, second = await warm.run(PLANTED), await warm.run(PLANTED)
    assert (first.status, first.returncode) == (second.status, second.returncode) == ("ok", cold.returncode)
    assert findings(first.stdout) == findings(second.stdout) == findings(cold.stdout)
    assert len(findings(cold.stdout)) >= 7


async def test_a_run_past_its_time_limit_is_killed_and_leaves_nothing() -> None:
    limits = Limits(wall_seconds=2.0, memory_bytes=DEFAULT_LIMITS.memory_bytes, cpu_seconds=10)
    bandit = WarmBandit(sys.executable, limits)
    try:
        for _ in range(30):  # started (its start goes on past a run's limit), so the limit is the run's own
            if (await bandit.run(b"x = 1\n")).status == "ok":
                break
        code = "".join(f"def f{i}(x):\n    return eval(x) if x else exec(x)\n" for i in range(4000))
        done = await bandit.run(code.encode())
        assert done.status == "timeout"
        for _ in range(100):  # killed at once; poll until the kernel has it gone
            if not forked_runs(bandit):
                break
            await asyncio.sleep(0.05)
        assert not forked_runs(bandit)
        assert (await bandit.run(b"x = 1\n")).status == "ok"  # the fork server goes on
    finally:
        await bandit.close()


async def test_a_fork_server_that_died_is_started_again(warm: WarmBandit) -> None:
    assert (await warm.run(b"import pickle\n")).status == "ok"
    first = warm.server_pid
    assert first is not None
    psutil.Process(first).kill()
    psutil.Process(first).wait(5)
    again = await warm.run(b"import pickle\n")
    assert again.status == "ok" and findings(again.stdout)[0][1] == "B403"
    assert warm.server_pid not in (None, first)  # a new one
    await warm.close()
    assert not psutil.pid_exists(first) and warm.server_pid is None
