"""Composition root of the Code Assistant: settings -> analyzers, AI Gateway
client, sandbox, store -> use cases -> servicer."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import asyncpg
from aether.ai.v1 import ai_service_pb2_grpc
from aether.code.v1 import code_service_pb2_grpc

from servers.code import mapping
from servers.code.ai import AiGateway
from servers.code.analyzers import Analyzers, Toolchain
from servers.code.processes import Limits
from servers.code.sandbox.bwrap import Sandbox, SandboxLimits
from servers.code.sandbox.slots import RunSlots
from servers.code.service import CodeServicer
from servers.code.store import ReviewQueries, ReviewRepository
from servers.code.testruns import CodeWorkUseCases
from servers.code.usecases import ReviewUseCases
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork


class CodeSettings(PlatformSettings):
    # The AI Gateway model for reviews, refactoring and tests; empty = the caller's default.
    code_ai_model: str = ""
    code_ai_timeout_seconds: float = 30.0
    # Each analyzer's limits (ruff, bandit, radon; oxlint, lizard), per review.
    code_analyzer_timeout_seconds: float = 10.0
    code_analyzer_memory_mb: int = 512
    code_analyzer_cpu_seconds: int = 10
    # bandit in a warm fork server (a fork per review instead of an interpreter start).
    code_analyzer_warm_bandit: bool = True
    # The sandbox of test runs: bubblewrap, where workspaces live, its cgroup parent.
    code_bwrap_path: str = "/usr/bin/bwrap"
    code_work_dir: str = str(Path(tempfile.gettempdir()) / "aether-code-runs")
    code_cgroup_parent: str = "aether-code"
    # Per run: memory, processes, CPU seconds, largest file, /tmp size, output cap.
    code_run_memory_mb: int = 256
    code_run_max_processes: int = 64
    code_run_cpu_seconds: int = 10
    code_run_file_mb: int = 16
    code_run_tmp_mb: int = 64
    code_run_output_kb: int = 2048
    # Runs in progress at once, per server and per user.
    code_max_runs: int = 8
    code_max_runs_per_user: int = 2


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[ReviewRepository]:
    return PostgresUnitOfWork(pool, source="code", repository=ReviewRepository, to_event=mapping.to_event)


def sandbox(s: CodeSettings) -> Sandbox:
    limits = SandboxLimits(
        memory_bytes=s.code_run_memory_mb << 20,
        max_processes=s.code_run_max_processes,
        cpu_seconds=s.code_run_cpu_seconds,
        file_bytes=s.code_run_file_mb << 20,
        tmp_bytes=s.code_run_tmp_mb << 20,
        output_bytes=s.code_run_output_kb << 10,
    )
    return Sandbox(s.code_bwrap_path, Path(s.code_work_dir), s.code_cgroup_parent, limits)


def tool(name: str) -> str:
    """An analyzer's executable: the one installed with this interpreter's packages, else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name) or name


async def build(res: Resources) -> Mount:
    s = CodeSettings()
    if res.pool is None:
        raise SystemExit("the code service needs DATABASE_URL")
    analyzers = Analyzers(
        Toolchain(
            ruff=tool("ruff"),
            oxlint=tool("oxlint"),
            limits=Limits(
                s.code_analyzer_timeout_seconds, s.code_analyzer_memory_mb << 20, s.code_analyzer_cpu_seconds
            ),
            warm_bandit=s.code_analyzer_warm_bandit,
        )
    )
    assistant = AiGateway(
        lambda: res.clients.stub("ai", ai_service_pb2_grpc.AiServiceStub),
        s.code_ai_model,
        s.code_ai_timeout_seconds,
    )
    reviews = ReviewUseCases(unit_of_work(res.pool), ReviewQueries(res.pool), analyzers, assistant)
    work = CodeWorkUseCases(
        analyzers, assistant, sandbox(s), RunSlots(s.code_max_runs, s.code_max_runs_per_user)
    )
    return Mount(
        services=[
            Service(
                "aether.code.v1.CodeService",
                CodeServicer(reviews, work),
                code_service_pb2_grpc.add_CodeServiceServicer_to_server,
            )
        ],
        on_stop=[analyzers.close],
    )


DOMAIN = Domain(name="code", build=build, migrations=Path(__file__).with_name("migrations"))
