"""The Task Manager against the same endpoints written the ordinary way
(benchmarks/peers/fastapi_tasks.py: FastAPI + uvicorn + asyncpg + PyJWT), in
one run, on the same PostgreSQL and the same rows.

    .venv/bin/python benchmarks/side_by_side.py [--rows 100000] [--users 100] [--seconds 15]

Needs the `bench` extra (FastAPI, uvicorn, uvloop, httptools), Debian's `wrk`
and `h2load` (nghttp2-client), the local PostgreSQL and a Redis
(`--redis`, the auth server's revocations). It:

1. seeds a scratch database (`aether_bench_side`, dropped and made again) with
   benchmarks/tasks_scale.py's SQL: --rows tasks over --users users, each with
   a "created" history entry; the peer gets a copy in its own schema `peer`
   (same columns, same indexes);
2. starts the auth server, the tasks server (GRPC_WORKERS=--workers) behind a
   real Envoy generated from the descriptors (rate limit lifted), and uvicorn
   with as many workers; plus this machine's floors: a bare grpc.aio server
   (benchmarks/peers/bare_grpc.py, one process) and an Envoy answering a
   `direct_response` route;
3. per endpoint — get by id (as its owner, with comments and history), list
   filtered (status + priority, first page of 20), list unfiltered (first page
   of 20), create — loads each stack with `wrk` (one thread, --connections
   keep-alive connections, a Lua script rotating users' tokens and ids) over
   REST, and Aether with `h2load` over native gRPC (8 connections x 4 streams),
   straight to the server and through Envoy, after checking one call's
   grpc-status (h2load counts a gRPC error as a success);
4. prints req/s, p50/p99, the ratio to FastAPI's req/s, and the CPU each
   request costs process by process (psutil deltas net of each process's idle
   CPU, measured for 5 s before the load; the load generator's from its
   rusage), plus the CPU the rest of the machine used meanwhile (other
   people's work on shared cores), and a JSON summary.

CPU per request is the robust figure on a busy machine; req/s and latency
move with whatever else runs on the cores. KEEP_LOGS=1 keeps the logs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import httpx
import jwt
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aether.tasks.v1 import tasks_service_pb2 as pb  # noqa: E402
from grpc_health.v1 import health_pb2  # noqa: E402

from benchmarks.readiness import wait_http  # noqa: E402
from benchmarks.tasks_scale import forge_tokens, seed, start_server, user_id  # noqa: E402
from servers.devtools.codegen import DESCRIPTOR  # noqa: E402
from servers.edge import EdgeSettings, EnvoyOptions, envoy_command, write_bootstrap  # noqa: E402
from servers.embedded.ports import free_port  # noqa: E402
from servers.platform.secrets import new_secret_key  # noqa: E402

PEER_SCHEMA = """
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;
CREATE TABLE peer.tasks (LIKE tasks.tasks INCLUDING ALL);
CREATE TABLE peer.comments (LIKE tasks.comments INCLUDING ALL);
CREATE TABLE peer.history (LIKE tasks.history INCLUDING ALL);
"""
FILTER = {"status": "pending", "priority": "high", "limit": "20"}
ENDPOINTS = ("get", "list filtered", "list unfiltered", "create")
TASK_SERVICE = "/aether.tasks.v1.TaskService/"
GRPC_METHODS = {
    "get": "GetTask",
    "list filtered": "ListTasks",
    "list unfiltered": "ListTasks",
    "create": "CreateTask",
}


@dataclass
class Cell:
    """One measurement: a stack, an endpoint, its figures."""

    stack: str
    endpoint: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    cpu_us: dict[str, float] = field(default_factory=dict)  # role -> µs of CPU per request
    other_cores: float = 0.0  # cores the rest of the machine used meanwhile
    load: float = 0.0  # 1-minute load average at the end


# --- processes -------------------------------------------------------------------


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def cpu_seconds(roles: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each role (its processes and their children), and
    by the machine's PostgreSQL and Redis; "machine" is every core's busy time."""
    groups: dict[str, list[psutil.Process]] = {}
    for role, pids in roles.items():
        groups[role] = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                groups[role] += [root, *root.children(recursive=True)]
    for name in ("postgres", "redis-server"):
        groups[name] = [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    totals = {"machine": _busy(psutil.cpu_times())}
    for role, processes in groups.items():
        totals[role] = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                totals[role] += times.user + times.system
    return totals


def _busy(times: object) -> float:
    return sum(getattr(times, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def run_loadgen(argv: list[str]) -> tuple[str, float]:
    """Run wrk / h2load to the end; its output and the CPU seconds it used (rusage)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {text[-2000:]}")
    return text, usage.ru_utime + usage.ru_stime


def envoy_floor_config(port: int, path: Path) -> Path:
    """An Envoy whose one route answers itself (direct_response): the edge's floor."""
    config = {
        "static_resources": {
            "listeners": [
                {
                    "name": "floor",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                        "http_connection_manager.v3.HttpConnectionManager",
                                        "stat_prefix": "floor",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {
                                                    "name": "floor",
                                                    "domains": ["*"],
                                                    "routes": [
                                                        {
                                                            "match": {"prefix": "/"},
                                                            "direct_response": {
                                                                "status": 200,
                                                                "body": {"inline_string": '{"ok":true}'},
                                                            },
                                                        }
                                                    ],
                                                }
                                            ]
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.router",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy.extensions.filters."
                                                    "http.router.v3.Router"
                                                },
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    }
    path.write_text(json.dumps(config))
    return path


# --- load ------------------------------------------------------------------------


def lua(tokens: list[str], ids: list[list[str]], endpoint: str) -> str:
    """A wrk script: every request as the next user, with one of their task ids."""
    quoted = ", ".join(f'"{t}"' for t in tokens)
    id_lists = ", ".join("{" + ", ".join(f'"{i}"' for i in user_ids) + "}" for user_ids in ids)
    query = "&".join(f"{k}={v}" for k, v in FILTER.items())
    body = json.dumps({"title": "Benchmark task", "priority": "high", "tags": ["bench"]})
    request = {
        "get": 'wrk.format("GET", "/api/v1/tasks/" .. ids[u][(n % #ids[u]) + 1], headers)',
        "list filtered": f'wrk.format("GET", "/api/v1/tasks?{query}", headers)',
        "list unfiltered": 'wrk.format("GET", "/api/v1/tasks?limit=20", headers)',
        "create": f'wrk.format("POST", "/api/v1/tasks", headers, \'{body}\')',
    }[endpoint]
    return f"""
local tokens = {{{quoted}}}
local ids = {{{id_lists}}}
local n = 0
request = function()
  n = n + 1
  local u = (n % #tokens) + 1
  local headers = {{["authorization"] = "Bearer " .. tokens[u], ["content-type"] = "application/json"}}
  return {request}
end
"""


def wrk(base: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float, int, float]:
    """req/s, p50 ms, p99 ms, non-2xx count, wrk's CPU seconds."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base]
    out, cpu = run_loadgen(argv)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors += sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return rps, _ms(lat["50"]), _ms(lat["99"]), errors, cpu


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


def h2load(
    url: str, body: Path, token: str, seconds: int, log: Path
) -> tuple[float, float, float, int, float]:
    """req/s, p50 ms, p99 ms, failed count, h2load's CPU seconds; 8 connections x 4 streams."""
    argv = ["h2load", "-c8", "-m4", "-t1", "-D", str(seconds), "-d", str(body), "--log-file", str(log)]
    argv += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    if token:
        argv += ["-H", f"authorization: Bearer {token}"]
    out, cpu = run_loadgen([*argv, url])
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    errors = sum(int(x) for x in failed.groups()) if failed else 0
    elapsed = sorted(int(line.split()[2]) for line in log.read_text().splitlines() if line.strip())
    p50, p99 = (
        elapsed[len(elapsed) // 2] / 1000,
        elapsed[min(len(elapsed) - 1, int(len(elapsed) * 0.99))] / 1000,
    )
    return rps, p50, p99, errors, cpu


# --- the run ---------------------------------------------------------------------


async def seed_both(admin_dsn: str, dsn: str, db: str, rows: int, users: int) -> None:
    await seed(admin_dsn, dsn, db, rows, users, reseed=True)
    conn = await asyncpg.connect(dsn)
    await conn.execute(PEER_SCHEMA, timeout=3600)
    for table in ("tasks", "history"):
        columns = ", ".join(
            r["column_name"]
            for r in await conn.fetch(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_schema = 'tasks' AND table_name = $1 AND is_generated = 'NEVER'""",
                table,
            )
        )
        await conn.execute(
            f"INSERT INTO peer.{table} ({columns}) SELECT {columns} FROM tasks.{table}",  # noqa: S608
            timeout=3600,
        )
        await conn.execute(f"VACUUM ANALYZE peer.{table}", timeout=3600)
    await conn.close()


async def owned_ids(dsn: str, subjects: list[str]) -> list[list[str]]:
    conn = await asyncpg.connect(dsn)
    ids = [
        [
            r["id"]
            for r in await conn.fetch("SELECT id::text FROM tasks.tasks WHERE created_by = $1 LIMIT 20", s)
        ]
        for s in subjects
    ]
    await conn.close()
    return ids


async def check_grpc(addr: str, token: str, requests: dict[str, bytes]) -> None:
    """One call of each body; raises unless it is OK (h2load would count it a success)."""
    async with grpc.aio.insecure_channel(addr) as channel:
        for endpoint, raw in requests.items():
            method = TASK_SERVICE + GRPC_METHODS[endpoint]
            request_type = {"GetTask": pb.GetTaskRequest, "ListTasks": pb.ListTasksRequest}.get(
                GRPC_METHODS[endpoint], pb.CreateTaskRequest
            )
            call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=bytes)
            try:
                await call(raw, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
            except grpc.aio.AioRpcError as error:
                raise RuntimeError(
                    f"{addr} {method} ({request_type.__name__}): {error.code()} {error.details()}"
                ) from error


async def check_rest(base: str, token: str, task_id: str) -> None:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for r in (
            await client.get(f"/api/v1/tasks/{task_id}", headers=headers),
            await client.get("/api/v1/tasks", params=FILTER, headers=headers),
            await client.post("/api/v1/tasks", json={"title": "check"}, headers=headers),
        ):
            if r.status_code != 200:
                raise RuntimeError(f"{base} {r.request.url}: {r.status_code} {r.text[:300]}")


def measure(
    stack: str,
    endpoint: str,
    roles: dict[str, list[int]],
    load: object,
    warmup: object,
) -> Cell:
    """Warm up, then one measured run with CPU snapshots around it."""
    warmup()  # type: ignore[operator]
    before, started = cpu_seconds(roles), time.monotonic()
    rps, p50, p99, errors, loadgen_cpu = load()  # type: ignore[operator]
    after, wall = cpu_seconds(roles), time.monotonic() - started
    requests = max(1.0, rps * wall)
    # Net of what each process burns when idle (health checks, relay polls), which
    # would otherwise be charged to the requests of a slow run.
    cpu = {
        r: max(0.0, after[r] - before.get(r, 0.0) - IDLE.get(r, 0.0) * wall) / requests * 1e6
        for r in after
        if r != "machine"
    }
    cpu["load generator"] = loadgen_cpu / requests * 1e6
    ours = sum(after[r] - before.get(r, 0.0) for r in after if r != "machine") + loadgen_cpu
    other = max(0.0, (after["machine"] - before["machine"]) - ours) / wall
    cell = Cell(stack, endpoint, rps, p50, p99, errors, cpu, other, os.getloadavg()[0])
    shown = ", ".join(f"{r} {v:.0f}" for r, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 5)
    print(
        f"  {stack:<26} {endpoint:<16} {rps:8.0f} req/s  p50 {p50:6.1f}  p99 {p99:6.1f} ms"
        f"{f'  ERRORS {errors}' if errors else ''}  | CPU µs/req: {shown}  | others used {other:.2f} cores",
        flush=True,
    )
    return cell


IDLE: dict[str, float] = {}  # role -> CPU seconds per second with no load


def measure_idle(roles: dict[str, list[int]], seconds: float = 5.0) -> None:
    before = cpu_seconds(roles)
    time.sleep(seconds)
    after = cpu_seconds(roles)
    IDLE.update({r: (after[r] - before.get(r, 0.0)) / seconds for r in after if r != "machine"})
    print("idle CPU, ms/s: " + ", ".join(f"{r} {v * 1000:.1f}" for r, v in IDLE.items()), flush=True)


def report(cells: list[Cell]) -> None:
    print("\nREST at the same concurrency; ratio = req/s over FastAPI's for that endpoint")
    fastapi = {c.endpoint: c for c in cells if c.stack == "FastAPI"}
    for endpoint in ENDPOINTS:
        print(f"\n  {endpoint}")
        base = fastapi.get(endpoint)
        for c in (c for c in cells if c.endpoint == endpoint):
            ratio = f"{c.rps / base.rps:5.2f}x" if base and base.rps else "    -"
            server = c.cpu_us.get("fastapi" if c.stack == "FastAPI" else "tasks server", 0.0)
            print(
                f"    {c.stack:<26} {c.rps:8.0f} req/s  p50 {c.p50_ms:6.1f}  p99 {c.p99_ms:6.1f} ms  {ratio}"
                f"  server CPU {server:6.0f} µs/req"
            )
    floor = next((c for c in cells if c.stack == "floor: bare grpc.aio"), None)
    get = next((c for c in cells if c.stack == "Aether gRPC direct" and c.endpoint == "get"), None)
    if floor and get:
        f, g = floor.cpu_us.get("bare grpc.aio", 0.0), get.cpu_us.get("tasks server", 0.0)
        print(
            f"\n  tasks server CPU per gRPC GET {g:.0f} µs = {g / max(f, 1):.1f}x "
            f"the bare grpc.aio floor ({f:.0f} µs)"
        )
    rounded = [c.__dict__ | {"cpu_us": {r: round(v) for r, v in c.cpu_us.items() if v >= 5}} for c in cells]
    print("\n" + json.dumps({"cells": rounded}))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="tasks to seed")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15, help="each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before each measured run")
    parser.add_argument("--connections", type=int, default=32, help="wrk's keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="server processes of each stack")
    parser.add_argument("--envoy-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--upstream-streams",
        type=int,
        default=EdgeSettings.upstream_streams_per_connection,
        help="Envoy's concurrent streams per upstream connection",
    )
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset")
    parser.add_argument(
        "--skip", default="", help="comma-separated stacks to skip: fastapi,rest,grpc,envoy-grpc,floors"
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="aether_bench_side")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    endpoints = [e for e in ENDPOINTS if e in args.endpoints.split(",")]
    skip = set(args.skip.split(","))
    dsn = args.postgres.rsplit("/", 1)[0] + "/" + args.database
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (apt-get install wrk nghttp2-client)")

    await seed_both(args.postgres, dsn, args.database, args.rows, args.users)
    work = Path(tempfile.mkdtemp(prefix="aether-side-"))
    secret, peer_secret = new_secret_key(), uuid.uuid4().hex
    ports = {name: free_port() for name in ("auth", "tasks", "edge", "fastapi", "bare", "floor")}
    env = {
        k: v for k, v in os.environ.items() if k not in {"METRICS_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    } | {
        "DATABASE_URL": dsn,
        "REDIS_URL": args.redis,
        "AETHER_SECRET_KEY": secret,
        "AUTH_ADDR": f"127.0.0.1:{ports['auth']}",
        "TASKS_SCHEDULER_INTERVAL_SECONDS": "0",  # no due-date passes during the measurement
        # The per-caller limit still runs (its Redis round trip is part of the path), with a
        # budget no run reaches: measure the path, not refusals.
        "RATE_LIMIT_DEFAULT": "1000000000/1",
    }
    procs: list[subprocess.Popen[bytes]] = []
    roles: dict[str, list[int]] = {}
    try:
        procs.append(start_server("auth", ports["auth"], env, work))
        roles["auth server"] = [procs[-1].pid]
        await asyncio.sleep(1)  # auth migrates first
        procs.append(start_server("tasks", ports["tasks"], env | {"GRPC_WORKERS": str(args.workers)}, work))
        roles["tasks server"] = [procs[-1].pid]
        settings = EdgeSettings(
            listen_port=ports["edge"],
            upstreams={
                "aether.auth.v1.AuthService": f"127.0.0.1:{ports['auth']}",
                "aether.tasks.v1.TaskService": f"127.0.0.1:{ports['tasks']}",
            },
            access_log_path=str(work / "access.log"),
            upstream_streams_per_connection=args.upstream_streams,
        )
        edge = write_bootstrap(DESCRIPTOR, settings, work / "envoy.json")
        options = EnvoyOptions(concurrency=args.envoy_threads, log_level="warning")
        procs.append(spawn(envoy_command(edge, options), env, work / "envoy.log"))
        roles["envoy"] = [procs[-1].pid]
        peer_env = env | {"PEER_DSN": dsn, "PEER_JWT_SECRET": peer_secret}
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.peers.fastapi_tasks:app",
            "--port",
            str(ports["fastapi"]),
        ]
        uvicorn += ["--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools"]
        uvicorn += ["--no-access-log", "--log-level", "warning"]
        procs.append(spawn(uvicorn, peer_env, work / "fastapi.log"))
        roles["fastapi"] = [procs[-1].pid]
        procs.append(
            spawn(
                [sys.executable, "benchmarks/peers/bare_grpc.py", "--port", str(ports["bare"])],
                env,
                work / "bare.log",
            )
        )
        roles["bare grpc.aio"] = [procs[-1].pid]
        floor_config = envoy_floor_config(ports["floor"], work / "floor.json")
        procs.append(spawn(envoy_command(floor_config, options), env, work / "floor.log"))
        roles["envoy floor"] = [procs[-1].pid]

        edge_base, peer_base = f"http://127.0.0.1:{ports['edge']}", f"http://127.0.0.1:{ports['fastapi']}"
        await wait_http(f"{edge_base}/readyz", procs, within=120)
        await wait_http(f"http://127.0.0.1:{ports['floor']}/", procs)
        subjects = [user_id(n) for n in range(min(50, args.users))]
        tokens = await forge_tokens(dsn, secret, subjects)
        now = int(time.time())
        peer_tokens = [
            jwt.encode(
                {"sub": s, "aud": "aether", "iat": now, "exp": now + 3600}, peer_secret, algorithm="HS256"
            )
            for s in subjects
        ]
        ids = await owned_ids(dsn, subjects)
        for _ in range(100):  # uvicorn's workers open their pools
            with contextlib.suppress(Exception):
                await check_rest(peer_base, peer_tokens[0], ids[0][0])
                break
            await asyncio.sleep(0.3)
        await check_rest(peer_base, peer_tokens[0], ids[0][0])
        await check_rest(edge_base, tokens[0], ids[0][0])

        bodies = {
            "get": pb.GetTaskRequest(id=ids[0][0]).SerializeToString(),
            "list filtered": pb.ListTasksRequest(
                status="pending", priority="high", limit=20
            ).SerializeToString(),
            "list unfiltered": pb.ListTasksRequest(limit=20).SerializeToString(),
            "create": pb.CreateTaskRequest(
                title="Benchmark task", priority="high", tags=["bench"]
            ).SerializeToString(),
        }
        await check_grpc(f"127.0.0.1:{ports['tasks']}", tokens[0], bodies)
        await check_grpc(f"127.0.0.1:{ports['edge']}", tokens[0], bodies)
        await asyncio.sleep(2)
        print(
            f"\n{args.rows:,} tasks / {args.users} users; {args.workers} workers each; REST: wrk, 1 thread, "
            f"{args.connections} connections; gRPC: h2load 8 connections x 4 streams; "
            f"{args.warmup} s warm-up + {args.seconds} s each; load average {os.getloadavg()[0]:.1f}\n",
            flush=True,
        )
        cells: list[Cell] = []
        loop = asyncio.get_running_loop()

        def rest(base: str, endpoint: str, toks: list[str]) -> tuple[object, object]:
            script = work / f"{uuid.uuid4().hex}.lua"
            script.write_text(lua(toks, ids, endpoint))
            return (
                lambda: wrk(base, script, args.seconds, args.connections),
                lambda: wrk(base, script, args.warmup, args.connections),
            )

        def native(addr: str, path: str, raw: bytes, token: str) -> tuple[object, object]:
            body = work / f"{uuid.uuid4().hex}.bin"
            body.write_bytes(grpc_frame(raw))
            url = f"http://{addr}{path}"
            return (
                lambda: h2load(url, body, token, args.seconds, work / "h2load.log"),
                lambda: h2load(url, body, token, args.warmup, work / "h2load-warmup.log"),
            )

        plan: list[tuple[str, str, tuple[object, object]]] = []
        for endpoint in endpoints:
            if "fastapi" not in skip:
                plan.append(("FastAPI", endpoint, rest(peer_base, endpoint, peer_tokens)))
            if "rest" not in skip:
                plan.append(("Aether REST via Envoy", endpoint, rest(edge_base, endpoint, tokens)))
            path = TASK_SERVICE + GRPC_METHODS[endpoint]
            if "grpc" not in skip:
                plan.append(
                    (
                        "Aether gRPC direct",
                        endpoint,
                        native(f"127.0.0.1:{ports['tasks']}", path, bodies[endpoint], tokens[0]),
                    )
                )
            if "envoy-grpc" not in skip:
                plan.append(
                    (
                        "Aether gRPC via Envoy",
                        endpoint,
                        native(f"127.0.0.1:{ports['edge']}", path, bodies[endpoint], tokens[0]),
                    )
                )
        if "floors" not in skip:
            check = grpc_frame(health_pb2.HealthCheckRequest().SerializeToString())
            plan.append(
                (
                    "floor: bare grpc.aio",
                    "health check",
                    native(f"127.0.0.1:{ports['bare']}", "/grpc.health.v1.Health/Check", check, ""),
                )
            )
            floor_script = work / "floor.lua"
            floor_script.write_text('request = function() return wrk.format("GET", "/") end\n')
            plan.append(
                (
                    "floor: Envoy direct_response",
                    "GET /",
                    (
                        lambda: wrk(
                            f"http://127.0.0.1:{ports['floor']}", floor_script, args.seconds, args.connections
                        ),
                        lambda: wrk(
                            f"http://127.0.0.1:{ports['floor']}", floor_script, args.warmup, args.connections
                        ),
                    ),
                )
            )
        await loop.run_in_executor(None, measure_idle, roles)
        for stack, endpoint, (load, warmup) in plan:
            cells.append(await loop.run_in_executor(None, measure, stack, endpoint, roles, load, warmup))
        report(cells)
    except Exception:
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(f"(logs: {work})")
        if not os.environ.get("KEEP_LOGS"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
