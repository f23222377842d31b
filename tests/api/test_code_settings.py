"""The Code Assistant under settings of its own, each an extra in-process code
server (trusting the shared auth service): no AI model (reviews skip the AI
part, refactoring names the setting), no bubblewrap (no test runs, never
unsandboxed), the concurrency caps, with a disconnect ending its run, and an
analyzer past its time limit (reported, nothing of it left running)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from aether.code.v1 import code_service_pb2 as pb
from aether.code.v1 import code_service_pb2_grpc

from tests.api.test_code_sandbox import leftovers
from tests.helpers import bearer, rich_error

NO_PROVIDERS = dict.fromkeys(
    ["GEMINI_API_KEY", "GROQ_API_KEY", "HUGGINGFACE_API_KEY", "OPENAI_API_KEY", "OLLAMA_BASE_URL"]
)


@pytest.fixture(scope="module")
async def start_code_server(app_server: tuple[str, list[str]]) -> AsyncIterator[Callable[..., Any]]:
    """`await start_code_server(CODE_MAX_RUNS="1")` -> a stub of a code server with those settings."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    started: list[tuple[Any, grpc.aio.Channel]] = []

    async def start(**env: str | None) -> code_service_pb2_grpc.CodeServiceStub:
        saved = dict(os.environ)
        os.environ["AUTH_ADDR"] = app_server[0]
        os.environ["DATABASE_POOL_MAX"] = "2"  # the test PostgreSQL is shared: few connections each
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            server = Server([registry.load("code")], PlatformSettings())
            port = await server.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append((server, channel))
        return code_service_pb2_grpc.CodeServiceStub(channel)

    yield start
    for server, channel in started:
        await channel.close()
        await server.stop()


@pytest.fixture
async def md(forge_token) -> tuple[tuple[str, str], ...]:
    return bearer(await forge_token(str(uuid.uuid4())))


async def test_without_an_ai_model_reviews_skip_the_ai_and_refactors_fail(
    start_code_server: Callable[..., Any], start_ai_server: Callable[..., Any], md: Any
) -> None:
    gateway = await start_ai_server(**NO_PROVIDERS)
    stub = await start_code_server(AI_ADDR=gateway)
    reply = await stub.ReviewCode(pb.ReviewCodeRequest(code="x = eval(input())\n"), metadata=md)
    assert reply.ai.status == "skipped" and "_API_KEY" in reply.ai.detail
    assert reply.security_issues and reply.review_id  # the analyzers' findings still come
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RefactorCode(pb.RefactorCodeRequest(code="x = 1\n", instruction="tidy"), metadata=md)
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.FAILED_PRECONDITION and rich.reason == "NOT_CONFIGURED"
    assert "GROQ_API_KEY" in rich.message


async def test_without_bubblewrap_runs_are_refused(start_code_server: Callable[..., Any], md: Any) -> None:
    stub = await start_code_server(CODE_BWRAP_PATH="/nonexistent/bwrap")
    request = pb.RunTestsRequest(files={"test_a.py": "def test_a():\n    pass\n"}, runner="pytest")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.RunTests(request, metadata=md):
            pass
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.FAILED_PRECONDITION and "bubblewrap" in rich.message


async def test_a_host_that_refuses_the_sandbox_refuses_runs_saying_why(
    start_code_server: Callable[..., Any], md: Any, tmp_path: Path
) -> None:
    """As under docker-compose (tests/integration/test_code_container_sandbox.py has the real
    kernel refusal): bubblewrap is installed but cannot build a sandbox, so the server's one
    probe makes every run FAILED_PRECONDITION with bubblewrap's own reason, not a failed run."""
    refusing = tmp_path / "bwrap"
    message = "bwrap: Can't mount proc on /newroot/proc: Operation not permitted"
    refusing.write_text(f'#!/bin/sh\necho "{message}" >&2\nexit 1\n')
    refusing.chmod(0o755)
    stub = await start_code_server(CODE_BWRAP_PATH=str(refusing))
    request = pb.RunTestsRequest(files={"test_a.py": "def test_a():\n    pass\n"}, runner="pytest")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.RunTests(request, metadata=md):
            pass
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "Can't mount proc" in rich.message and "bubblewrap cannot build a sandbox" in rich.message


async def test_concurrency_caps_and_a_disconnect_ends_the_run(
    start_code_server: Callable[..., Any], forge_token: Any
) -> None:
    stub = await start_code_server(CODE_MAX_RUNS="2", CODE_MAX_RUNS_PER_USER="1")
    alice, bob, carol = [bearer(await forge_token(str(uuid.uuid4()))) for _ in range(3)]
    waiting = {
        "test_wait.py": "import os, time, unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_wait(self):\n        os.write(1, b'started')\n        time.sleep(60)\n"
    }
    request = pb.RunTestsRequest(files=waiting, runner="unittest", timeout_seconds=120)
    calls = [stub.RunTests(request, metadata=alice), stub.RunTests(request, metadata=bob)]
    for call in calls:  # both running: their output has begun
        async for message in call:
            if "started" in message.chunk.content:
                break
    for who, cap in ((alice, "you have 1"), (carol, "server is running 2")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.RunTests(request, metadata=who):
                pass
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and cap in (err.value.details() or "")
    for call in calls:
        call.cancel()
    for _ in range(300):  # the cancelled runs are torn down
        if not any(leftovers().values()):
            break
        await asyncio.sleep(0.1)
    assert not any(leftovers().values()), leftovers()
    quick = pb.RunTestsRequest(files={"test_b.py": "def test_b():\n    pass\n"}, runner="pytest")
    messages = [m async for m in stub.RunTests(quick, metadata=carol)]  # a slot is free again
    assert messages[-1].final.success


def analyzer_runs() -> list[psutil.Process]:
    """bandit runs still alive below this test process (not the fork servers themselves)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            argv = " ".join(child.cmdline())
            fork_server = "bandit_server" in argv and child.ppid() == os.getpid()  # what it forks is not ours
            if child.status() != psutil.STATUS_ZOMBIE and "bandit" in argv and not fork_server:
                found.append(child)
        except psutil.Error:
            continue
    return found


async def test_an_analyzer_past_its_time_limit_is_reported_and_leaves_nothing(
    start_code_server: Callable[..., Any], md: Any
) -> None:
    stub = await start_code_server(CODE_ANALYZER_TIMEOUT_SECONDS="0.2")
    code = "".join(f"def f{i}(x):\n    return eval(x) if x else exec(x)\n" for i in range(4000))
    reply = await stub.ReviewCode(pb.ReviewCodeRequest(code=code), metadata=md)
    bandit = next(a for a in reply.analyzers if a.name == "bandit")
    assert bandit.status == "timeout" and "time limit" in bandit.detail and reply.partial
    for _ in range(100):  # killed at once; poll until the kernel has it gone
        if not analyzer_runs():
            break
        await asyncio.sleep(0.05)
    assert not analyzer_runs()
