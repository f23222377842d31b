"""Task Manager at scale: 1,000,000 tasks across 1,000 users, measured through
Envoy REST.

    .venv/bin/python benchmarks/tasks_scale.py [--tasks 1000000] [--users 1000] [--reseed]

Seeds a dedicated database (default `aether_bench_tasks` on the local
PostgreSQL, never the test database) with SQL generate_series, starts the auth
and tasks servers as separate processes (like `aether serve`) behind a real
Envoy generated from the descriptors, and prints p50/p95 of:
  * the first page of a filtered, sorted list (status=pending, sort=dueDate asc);
  * a deep page (the last page of a user's list, sorted by createdAt);
  * get by id (with comments and history);
  * stats for one user.
Requests are sequential (latency, not throughput), rotating over 50 users.
A seeded database is reused on the next run unless --reseed is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.readiness import wait_http  # noqa: E402
from servers.auth.keys import ALGORITHM, KeyRing, RotationPolicy  # noqa: E402
from servers.auth.store import AuthStore  # noqa: E402
from servers.devtools.codegen import DESCRIPTOR  # noqa: E402
from servers.edge import EdgeSettings, EnvoyOptions, envoy_command, write_bootstrap  # noqa: E402
from servers.embedded.ports import free_port  # noqa: E402
from servers.platform.secrets import SecretBox, new_secret_key  # noqa: E402

SEED_SQL = """
INSERT INTO tasks.tasks (id, title, description, status, priority, category, due_date, tags, assignee,
    estimated_hours, actual_hours, progress, created_at, created_by, updated_at, completed_at,
    completed_by, due_soon_notified_at, overdue_notified_at)
SELECT id, title, description, status, priority, category, due, tags, assignee,
    est, CASE WHEN status = 'completed' THEN est ELSE 0 END,
    CASE status WHEN 'completed' THEN 100 WHEN 'in_progress' THEN 50 ELSE 0 END,
    created, owner, created,
    CASE WHEN status = 'completed' THEN created + (1 + g % 200) * interval '1 hour' END,
    CASE WHEN status = 'completed' THEN owner ELSE '' END,
    -- Past events are already sent (a steady state), so the live scheduler has no backlog.
    CASE WHEN due < now() + interval '1 day' THEN due - interval '1 day' END,
    CASE WHEN due < now() THEN due END
FROM (
    SELECT g,
        md5('task-' || g)::uuid AS id,
        'Seeded task ' || g AS title,
        'Generated for the scale benchmark' AS description,
        (ARRAY['pending', 'in_progress', 'completed', 'blocked'])[1 + floor(random() * 4)::int] AS status,
        (ARRAY['low', 'medium', 'high', 'urgent'])[1 + floor(random() * 4)::int] AS priority,
        'cat' || (g % 10) AS category,
        CASE WHEN random() < 0.7 THEN now() + (random() * 120 - 60) * interval '1 day' END AS due,
        ARRAY['tag' || (g % 20), 'kind' || (g % 7)] AS tags,
        md5('user-' || (g % $2))::uuid::text AS owner,
        CASE WHEN g % 2 = 0 THEN md5('user-' || ((g / 2 + 17) % $2))::uuid::text ELSE '' END AS assignee,
        round((random() * 40)::numeric, 1)::float8 AS est,
        now() - random() * interval '365 days' AS created
    FROM generate_series(1, $1) AS g
) seeded
"""


def user_id(n: int) -> str:
    import hashlib

    return str(uuid.UUID(hashlib.md5(f"user-{n}".encode()).hexdigest()))  # noqa: S324 - an id, not a hash


async def seed(admin_dsn: str, dsn: str, db: str, tasks: int, users: int, reseed: bool) -> None:
    admin = await asyncpg.connect(admin_dsn)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db)
    if exists and reseed:
        await admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        exists = None
    if not exists:
        await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    env = os.environ | {"DATABASE_URL": dsn}
    migrate = [sys.executable, "-m", "servers.cli", "migrate", "auth", "tasks"]
    await asyncio.to_thread(subprocess.run, migrate, env=env, check=True, cwd=ROOT)
    conn = await asyncpg.connect(dsn)
    have = await conn.fetchval("SELECT count(*) FROM tasks.tasks")
    if have == tasks:
        print(f"reusing {have:,} seeded tasks in {db}")
    else:
        await conn.execute("TRUNCATE tasks.tasks CASCADE")
        started = time.perf_counter()
        await conn.execute(SEED_SQL, tasks, users, timeout=3600)
        seeded = time.perf_counter()
        await conn.execute(
            """INSERT INTO tasks.history (task_id, action, user_id, created_at)
               SELECT id, 'created', created_by, created_at FROM tasks.tasks""",
            timeout=3600,
        )
        await conn.execute("VACUUM ANALYZE tasks.tasks", timeout=3600)
        await conn.execute("VACUUM ANALYZE tasks.history", timeout=3600)
        print(
            f"seeded {tasks:,} tasks for {users:,} users in {seeded - started:.1f} s "
            f"(+ history and VACUUM ANALYZE: {time.perf_counter() - seeded:.1f} s)"
        )
    # Signing keys are sealed with this run's secret key: start with none.
    await conn.execute("DELETE FROM auth.signing_keys")
    await conn.close()


async def forge_tokens(dsn: str, secret: str, subjects: list[str]) -> list[str]:
    """Access tokens for seeded users, signed with the auth server's active key
    (the users exist only as task owners, not as accounts)."""
    import jwt

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    policy = RotationPolicy(timedelta(days=30), timedelta(minutes=10), timedelta(minutes=16))
    key = await KeyRing(AuthStore(pool), SecretBox.from_setting(secret), policy).active()
    await pool.close()
    now = int(time.time())
    return [
        jwt.encode(
            {
                "sub": sub,
                "iss": "aether-auth",
                "aud": "aether",
                "iat": now,
                "exp": now + 3600,
                "jti": uuid.uuid4().hex,
                "roles": ["user"],
                "permissions": ["tasks:read", "tasks:write"],
            },
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid},
        )
        for sub in subjects
    ]


def start_server(service: str, port: int, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"{service}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "servers.cli", "serve", service],
        env=env | {"GRPC_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def start_envoy(config: Path, logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / "envoy.log").open("wb")
    argv = envoy_command(config, EnvoyOptions(concurrency=1, log_level="warning"))
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    verdict = "ok" if p95 < 25 else "OVER 25 ms"
    print(f"  {name:<42} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   max {ms[-1]:7.2f} ms   [{verdict}]")


async def measure(
    client: httpx.AsyncClient, tokens: list[str], n: int, make: Callable[[int], Awaitable[httpx.Response]]
) -> list[float]:
    samples = []
    for i in range(n + 20):
        started = time.perf_counter()
        r = await make(i)
        elapsed = time.perf_counter() - started
        assert r.status_code == 200, r.text
        if i >= 20:  # warm-up
            samples.append(elapsed)
    return samples


async def bench(base: str, dsn: str, tokens: list[str], subjects: list[str], n: int) -> None:
    conn = await asyncpg.connect(dsn)
    ids: list[list[str]] = []
    for sub in subjects:
        rows = await conn.fetch(
            "SELECT id::text FROM tasks.tasks WHERE created_by = $1 OR assignee = $1 LIMIT 50", sub
        )
        ids.append([r["id"] for r in rows])
    await conn.close()
    rng = random.Random(7)  # noqa: S311 - picks task ids, not secrets
    auth = [{"authorization": f"Bearer {t}"} for t in tokens]
    u = len(tokens)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        first = (await client.get("/api/v1/tasks", headers=auth[0], params={"limit": 20})).json()
        print(
            f"  (a user sees {first['pagination']['total']:,} tasks; the deep page is page ~"
            f"{first['pagination']['totalPages']})"
        )
        deep_pages = []
        for h in auth:
            r = await client.get("/api/v1/tasks", headers=h, params={"limit": 20})
            deep_pages.append(max(1, r.json()["pagination"].get("totalPages", 1)))
        filtered = {"status": "pending", "sort": "dueDate", "order": "asc", "limit": 20}
        results = {
            "list: first page, status filter, dueDate sort": await measure(
                client, tokens, n, lambda i: client.get("/api/v1/tasks", headers=auth[i % u], params=filtered)
            ),
            "list: deep (last) page, createdAt sort": await measure(
                client,
                tokens,
                n,
                lambda i: client.get(
                    "/api/v1/tasks",
                    headers=auth[i % u],
                    params={"page": deep_pages[i % u], "limit": 20, "sort": "createdAt"},
                ),
            ),
            "get by id (with comments + history)": await measure(
                client,
                tokens,
                n,
                lambda i: client.get(f"/api/v1/tasks/{rng.choice(ids[i % u])}", headers=auth[i % u]),
            ),
            "stats for one user": await measure(
                client, tokens, n, lambda i: client.get("/api/v1/tasks/stats", headers=auth[i % u])
            ),
        }
    print(f"\nthrough Envoy REST, {n} sequential requests each (after 20 warm-up), {u} users:")
    for name, samples in results.items():
        report(name, samples)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="aether_bench_tasks")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="the auth server needs one")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    dsn = args.postgres.rsplit("/", 1)[0] + "/" + args.database

    await seed(args.postgres, dsn, args.database, args.tasks, args.users, args.reseed)

    secret = new_secret_key()
    auth_port, tasks_port, edge_port = free_port(), free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "METRICS_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    } | {
        "DATABASE_URL": dsn,
        "REDIS_URL": args.redis,
        "AETHER_SECRET_KEY": secret,
        "AUTH_ADDR": f"127.0.0.1:{auth_port}",
        "RATE_LIMIT_DEFAULT": "1000000/1",  # measure latency, not the per-caller rate limits
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
    }
    with tempfile.TemporaryDirectory(prefix="tasks-bench-") as tmp:
        work = Path(tmp)
        procs = [start_server("auth", auth_port, env, work)]
        try:
            await asyncio.sleep(0.5)
            procs.append(start_server("tasks", tasks_port, env, work))
            settings = EdgeSettings(
                listen_port=edge_port,
                upstreams={
                    "aether.auth.v1.AuthService": f"127.0.0.1:{auth_port}",
                    "aether.tasks.v1.TaskService": f"127.0.0.1:{tasks_port}",
                },
                access_log_path=str(work / "access.log"),
            )
            config = write_bootstrap(DESCRIPTOR, settings, work / "envoy.json")
            procs.append(start_envoy(config, work))
            await wait_http(f"http://127.0.0.1:{edge_port}/readyz", procs)
            subjects = [user_id(n) for n in range(min(50, args.users))]
            tokens = await forge_tokens(dsn, secret, subjects)
            await asyncio.sleep(1)
            await bench(f"http://127.0.0.1:{edge_port}", dsn, tokens, subjects, args.requests)
        except Exception:
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    asyncio.run(main())
