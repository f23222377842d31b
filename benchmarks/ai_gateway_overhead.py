"""The AI gateway's added latency: the same chat request sent straight to a
fake provider and through the gateway (native gRPC, and REST through Envoy),
at 1, 32 and 128 concurrent requests.

    .venv/bin/python benchmarks/ai_gateway_overhead.py [--requests 2000] [--litellm PATH]

Runs the fake OpenAI-compatible provider (tests/fakes/ai_providers.py), the
auth and AI servers (like `aether serve`) and Envoy as separate processes on
a dedicated database (`aether_bench_ai`) and Redis db 14. For each mode it
prints p50/p99 of the whole request (unary) and of time to first token
(streams), and the gateway's added latency: its percentile minus the direct
call's at the same concurrency, from the same client. A bare pass-through on
the same stack (benchmarks/passthrough.py: grpc.aio and aiohttp, none of the
gateway's work) runs beside it as the floor, so the figures separate what the
stack costs on this machine from what the gateway's own work adds; at 32
concurrent it also prints each path's CPU per request, process by process.
The fake answers after --provider-latency-ms (default 50, a fast real
provider's time to first token): with 0, every path is CPU-bound on this
machine and the figures measure queueing on its cores rather than the gateway.
KEEP_LOGS=1 keeps the processes' logs.

With --litellm PATH (a `litellm` executable, e.g. from
`python -m venv .bench-litellm && .bench-litellm/bin/pip install 'litellm[proxy]'`),
LiteLLM's proxy runs against the same fake and its added latency and the
ratio to Aether's REST path are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import grpc
import httpx
import psutil
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aether.ai.v1 import ai_service_pb2 as pb  # noqa: E402
from aether.ai.v1 import ai_service_pb2_grpc  # noqa: E402

from benchmarks.readiness import wait_http  # noqa: E402
from servers.devtools.codegen import DESCRIPTOR  # noqa: E402
from servers.edge import EdgeSettings, EnvoyOptions, envoy_command, write_bootstrap  # noqa: E402
from servers.embedded.ports import free_port  # noqa: E402
from servers.platform.secrets import new_secret_key  # noqa: E402

CONCURRENCY = (1, 32, 128)
# One connection per concurrent caller at 32, as 32 clients would have: the
# kernel spreads connections, not calls, over GRPC_WORKERS processes, and with
# few connections one worker often gets most of them.
GRPC_CHANNELS = 32
MESSAGE = "Summarise the benefits of a gRPC-first backend in one sentence please"
# One chat model whose per-user limits are too high to reach: the admission
# checks run on every request, but the benchmark measures the path, not throttling.
# And the local embedding model, to wait for its background load before measuring.
CATALOG = """
[[models]]
id = "bench"
name = "Benchmark model"
provider = "openai"
upstream = "gpt-4o-mini"
requests_per_minute = 100000000
tokens_per_minute = 2000000000
max_tokens = 1024
context_window = 128000

[[models]]
id = "all-MiniLM-L6-v2"
name = "all-MiniLM-L6-v2"
provider = "local"
upstream = "all-MiniLM-L6-v2"
capabilities = ["embeddings"]
dimensions = 384
"""

LITELLM_KEY = "sk-aether-benchmark"
FLOOR = "floor: bare gRPC"
FAILURES: list[str] = []
Call = Callable[[], Awaitable[float]]  # returns seconds to measure (whole call or first token)


def answering(status: int) -> bool:
    """Up enough to measure: any answer but a server error."""
    return status < 500


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


async def run(concurrency: int, total: int, call: Call, label: str) -> list[float]:
    """`total` calls, `concurrency` at a time, after a warm-up."""
    for _ in range(min(50, total)):
        with contextlib.suppress(Exception):
            await call()
    samples: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            try:
                samples.append(await call())
            except Exception as error:  # counted and reported, not measured
                FAILURES.append(f"{label}: {type(error).__name__} {str(error)[:100]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def cpu_seconds(roles: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each role: its processes with their children,
    plus the machine's PostgreSQL and Redis (shared by every path)."""
    groups: dict[str, list[psutil.Process]] = {"client": [psutil.Process()]}
    for role, pids in roles.items():
        groups[role] = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                groups[role] += [root, *root.children(recursive=True)]
    for name in ("postgres", "redis-server"):
        groups[name] = [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    totals: dict[str, float] = {}
    for role, processes in groups.items():
        totals[role] = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                totals[role] += times.user + times.system
    return totals


def openai_body(stream: bool, model: str = "gpt-4o-mini") -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": MESSAGE}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def http_unary(
    client: aiohttp.ClientSession, url: str, body: dict[str, object], headers: dict[str, str]
) -> Call:
    async def call() -> float:
        started = time.perf_counter()
        async with client.post(url, json=body, headers=headers) as r:
            data = await r.read()
        elapsed = time.perf_counter() - started
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {data[:300]!r}")
        return elapsed

    return call


def http_first_token(
    client: aiohttp.ClientSession, url: str, body: dict[str, object], headers: dict[str, str]
) -> Call:
    async def call() -> float:
        started = time.perf_counter()
        first = 0.0
        async with client.post(url, json=body, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"{url}: {r.status} {(await r.read())[:300]!r}")
            async for chunk in r.content.iter_any():
                if chunk and not first:
                    first = time.perf_counter() - started
        return first

    return call


def grpc_calls(stubs: list[ai_service_pb2_grpc.AiServiceStub], token: str) -> tuple[Call, Call]:
    """Calls spread round-robin over several channels (connections), as many
    clients' would be: the kernel spreads connections, not calls, over workers."""
    md = (("authorization", f"Bearer {token}"),)
    turn = itertools.cycle(stubs)

    async def unary() -> float:
        started = time.perf_counter()
        await next(turn).Chat(pb.ChatRequest(model="bench", message=MESSAGE), metadata=md)
        return time.perf_counter() - started

    async def first_token() -> float:
        started = time.perf_counter()
        first = 0.0
        async for _ in next(turn).StreamChat(
            pb.StreamChatRequest(model="bench", message=MESSAGE), metadata=md
        ):
            if not first:
                first = time.perf_counter() - started
        return first

    return unary, first_token


async def start_litellm(path: str, fake_openai: str, logs: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    port = free_port()
    config = logs / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {fake_openai}\n"
        "      api_key: test-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    # A master key, so LiteLLM authenticates every request as Aether does.
    env = os.environ | {
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_MASTER_KEY": LITELLM_KEY,
    }
    proc = spawn(
        [path, "--config", str(config), "--port", str(port), "--num_workers", "1"], env, logs / "litellm.log"
    )
    procs.append(proc)  # stopped with the others
    await wait_http(f"http://127.0.0.1:{port}/health/liveliness", [proc], within=180, ready=answering)
    return f"http://127.0.0.1:{port}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement at 32/128")
    parser.add_argument("--litellm", default="", help="path of a `litellm` executable (optional)")
    parser.add_argument(
        "--provider-latency-ms",
        type=float,
        default=50.0,
        help="the fake provider's time to first token; 0 makes every path CPU-bound on this machine",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="AI server processes (GRPC_WORKERS)"
    )
    parser.add_argument("--db", default="aether_bench_ai")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    logs = Path(tempfile.mkdtemp(prefix="aether-bench-ai-"))
    admin = await asyncpg.connect(args.admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{args.db}"')
    await admin.close()
    dsn = args.admin_dsn.rsplit("/", 1)[0] + f"/{args.db}"
    (logs / "models.toml").write_text(CATALOG)

    fake_port, auth_port, ai_port, edge_port, floor_port = (free_port() for _ in range(5))
    fake = f"http://127.0.0.1:{fake_port}"
    env = os.environ | {
        "DATABASE_URL": dsn,
        "REDIS_URL": args.redis,
        "AETHER_SECRET_KEY": new_secret_key(),
        "AUTH_ADDR": f"127.0.0.1:{auth_port}",
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": f"{fake}/openai/v1",
        "AI_MODELS_FILE": str(logs / "models.toml"),
        "LOG_LEVEL": "WARNING",
        # The route limits lifted (the gateway's own per-user limits still apply).
        "RATE_LIMIT_OVERRIDES": ",".join(
            f"{path}=1000000/60"
            for path in (
                "/aether.ai.v1.AiService/Chat",
                "/aether.ai.v1.AiService/StreamChat",
                "/aether.auth.v1.AuthService/Register",
                "/aether.auth.v1.AuthService/Login",
            )
        ),
    }
    procs = [
        spawn(
            [
                sys.executable,
                "-m",
                "tests.fakes.ai_providers",
                "--port",
                str(fake_port),
                "--latency",
                str(args.provider_latency_ms / 1000),
            ],
            env,
            logs / "fake.log",
        )
    ]
    await wait_http(f"{fake}/healthz", procs, within=90, ready=answering)
    roles = {"fake provider": [procs[0].pid]}
    procs += [
        spawn(
            [
                sys.executable,
                "benchmarks/passthrough.py",
                "--port",
                str(floor_port),
                "--upstream",
                f"{fake}/openai/v1",
            ],
            env,
            logs / f"floor-{i}.log",
        )
        for i in range(args.workers)
    ]
    roles["floor"] = [proc.pid for proc in procs[1:]]
    procs.append(
        spawn(
            [sys.executable, "-m", "servers.cli", "serve", "auth"],
            env | {"GRPC_PORT": str(auth_port)},
            logs / "auth.log",
        )
    )
    roles["auth server"] = [procs[-1].pid]
    await asyncio.sleep(2)  # auth migrates first; then the AI server
    procs.append(
        spawn(
            [sys.executable, "-m", "servers.cli", "serve", "ai"],
            env | {"GRPC_PORT": str(ai_port), "GRPC_WORKERS": str(args.workers)},
            logs / "ai.log",
        )
    )
    roles["gateway"] = [procs[-1].pid]
    settings = EdgeSettings(
        listen_port=edge_port,
        upstreams={
            "aether.auth.v1.AuthService": f"127.0.0.1:{auth_port}",
            "aether.ai.v1.AiService": f"127.0.0.1:{ai_port}",
        },
        access_log_path=str(logs / "access.log"),
    )
    config = write_bootstrap(DESCRIPTOR, settings, logs / "envoy.json")
    procs.append(spawn(envoy_command(config, EnvoyOptions(log_level="warning")), env, logs / "envoy.log"))
    roles["envoy"] = [procs[-1].pid]
    base = f"http://127.0.0.1:{edge_port}"
    await wait_http(f"{base}/readyz", procs, within=90, ready=answering)
    litellm = ""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            creds = {"email": email, "password": "Bench-Passw0rd!x", "name": "Bench"}
            for _ in range(100):  # the AI server may still be starting
                r = await client.post("/api/v1/auth/register", json=creds)
                if r.status_code in (200, 409):
                    break
                await asyncio.sleep(0.3)
            token = (await client.post("/api/v1/auth/login", json=creds)).json()["accessToken"]
            bearer = {"authorization": f"Bearer {token}"}
            for _ in range(100):
                r = await client.get("/api/v1/ai/models", headers=bearer)
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.3)
            r.raise_for_status()  # the AI server never came up right: see its log
            # The local embedding model loads in the background at start: wait for it
            # (an embeddings call does), so its load doesn't share the cores with the measurement.
            for _ in range(20):  # on a busy machine the first calls may time out while it loads
                r = await client.post("/api/v1/ai/embeddings", json={"text": "warm up"}, headers=bearer)
                if r.status_code != 503:
                    break
                await asyncio.sleep(3)
            r.raise_for_status()
        if args.litellm:
            litellm = await start_litellm(args.litellm, f"{fake}/openai/v1", logs, procs)
            roles["litellm"] = [procs[-1].pid]
        await measure_all(
            args.requests,
            fake,
            base,
            f"127.0.0.1:{ai_port}",
            f"127.0.0.1:{floor_port}",
            token,
            litellm,
            roles,
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # a saturated machine: don't leave it running
                proc.kill()
        print(f"(logs: {logs})")
        if not os.environ.get("KEEP_LOGS"):
            shutil.rmtree(logs, ignore_errors=True)


async def measure_all(
    total: int,
    fake: str,
    base: str,
    grpc_addr: str,
    floor_addr: str,
    token: str,
    litellm: str,
    roles: dict[str, list[int]],
) -> None:
    bearer = {"authorization": f"Bearer {token}"}
    gateway_body = {"model": "bench", "message": MESSAGE}
    results: dict[tuple[str, str, int], list[float]] = {}
    cpu: dict[str, dict[str, float]] = {}  # mode -> role -> CPU seconds per request, unary at 32
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
        ) as client,
        contextlib.AsyncExitStack() as stack,
    ):

        async def stubs(addr: str) -> list[ai_service_pb2_grpc.AiServiceStub]:
            # A local subchannel pool each: else grpc shares one connection among them.
            options = [("grpc.use_local_subchannel_pool", 1)]
            return [
                ai_service_pb2_grpc.AiServiceStub(
                    await stack.enter_async_context(grpc.aio.insecure_channel(addr, options=options))
                )
                for _ in range(GRPC_CHANNELS)
            ]

        modes: dict[str, tuple[Call, Call]] = {
            "direct to provider": (
                http_unary(
                    client,
                    f"{fake}/openai/v1/chat/completions",
                    openai_body(False),
                    {"authorization": "Bearer test-key"},
                ),
                http_first_token(
                    client,
                    f"{fake}/openai/v1/chat/completions",
                    openai_body(True),
                    {"authorization": "Bearer test-key"},
                ),
            ),
            FLOOR: grpc_calls(await stubs(floor_addr), token),
            "aether gRPC": grpc_calls(await stubs(grpc_addr), token),
            "aether REST via Envoy": (
                http_unary(client, f"{base}/api/v1/ai/chat", gateway_body, bearer),
                http_first_token(client, f"{base}/api/v1/ai/chat/stream", gateway_body, bearer),
            ),
        }
        if litellm:
            lite_auth = {"authorization": f"Bearer {LITELLM_KEY}"}
            modes["LiteLLM proxy"] = (
                http_unary(client, f"{litellm}/chat/completions", openai_body(False, "bench"), lite_auth),
                http_first_token(
                    client, f"{litellm}/chat/completions", openai_body(True, "bench"), lite_auth
                ),
            )
        for concurrency in CONCURRENCY:
            n = max(300, total) if concurrency > 1 else 300
            for mode, (unary, stream) in modes.items():
                label = f"{mode} @{concurrency}"
                before = cpu_seconds(roles)
                results[(mode, "unary", concurrency)] = await run(concurrency, n, unary, label)
                if concurrency == 32:
                    after, calls = cpu_seconds(roles), n + min(50, n)  # with the warm-up
                    cpu[mode] = {r: (after[r] - before.get(r, 0.0)) / calls for r in after}
                results[(mode, "ttft", concurrency)] = await run(concurrency, n, stream, label + " stream")
    report(results, bool(litellm))
    report_cpu(cpu, pct(results[("direct to provider", "unary", 32)], 0.5))


def report(results: dict[tuple[str, str, int], list[float]], with_litellm: bool) -> None:
    print("\nlatency in ms (p50 / p99); 'added' = minus the direct call at the same concurrency")
    summary: dict[str, object] = {}
    for kind, label in (("unary", "whole request (Chat)"), ("ttft", "time to first token (StreamChat)")):
        print(f"\n{label}")
        for concurrency in CONCURRENCY:
            direct = results[("direct to provider", kind, concurrency)]
            d50, d99 = pct(direct, 0.5), pct(direct, 0.99)
            print(f"  {concurrency:>3} concurrent: direct {d50:6.2f} / {d99:6.2f}")
            added: dict[str, tuple[float, float]] = {}
            for mode in (FLOOR, "aether gRPC", "aether REST via Envoy", "LiteLLM proxy"):
                if (mode, kind, concurrency) not in results:
                    continue
                s = results[(mode, kind, concurrency)]
                a50, a99 = pct(s, 0.5) - d50, pct(s, 0.99) - d99
                added[mode] = (a50, a99)
                goal = ""
                if concurrency == 32 and mode.startswith("aether"):
                    goal = "  [goal p50<2 p99<10: " + ("met" if a50 < 2 and a99 < 10 else "NOT met") + "]"
                total = f"{pct(s, 0.5):7.2f} / {pct(s, 0.99):7.2f}"
                print(f"      {mode:<22} {total}   added {a50:6.2f} / {a99:6.2f}{goal}")
            if with_litellm and "LiteLLM proxy" in added:
                lite, rest = added["LiteLLM proxy"], added["aether REST via Envoy"]
                print(
                    f"      LiteLLM added / Aether REST added: p50 x{lite[0] / max(rest[0], 0.01):.1f}, "
                    f"p99 x{lite[1] / max(rest[1], 0.01):.1f}"
                )
            summary[f"{kind}@{concurrency}"] = {m: [round(v, 2) for v in a] for m, a in added.items()}
    print("\n" + json.dumps({"added_ms_p50_p99": summary}))
    if FAILURES:
        print(f"{len(FAILURES)} failed requests (not measured), e.g. {sorted(set(FAILURES))[:3]}")


def report_cpu(cpu: dict[str, dict[str, float]], direct_p50_ms: float) -> None:
    """Where the cores go at 32 concurrent: every path shares them, so a path whose
    requests need more CPU than the offered rate allows queues on them."""
    cores = os.cpu_count() or 1
    offered = 32 / (direct_p50_ms / 1000)  # requests/s if nothing added latency
    print(
        f"\nCPU per request at 32 concurrent (unary), µs, by process; 32 callers at the provider's "
        f"{direct_p50_ms:.0f} ms offer about {offered:.0f} requests/s, and there are {cores} cores"
    )
    for mode, roles in cpu.items():
        # Under 20 µs is within one clock tick over the run: not shown.
        shown = {r: v for r, v in sorted(roles.items(), key=lambda rv: -rv[1]) if v >= 20e-6}
        total = sum(roles.values())
        parts = ", ".join(f"{r} {v * 1e6:.0f}" for r, v in shown.items())
        print(
            f"  {mode:<22} total {total * 1e6:5.0f} (offered load needs {offered * total:.1f} cores): {parts}"
        )


if __name__ == "__main__":
    uvloop.run(main())  # like the servers: the load generator's own CPU is in every figure
