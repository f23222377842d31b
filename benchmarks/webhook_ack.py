"""How fast the Integration Hub acknowledges a signed webhook: verify the
HMAC over the exact bytes, log the delivery and write its outbox event in one
transaction, answer. Providers give 3 s (Slack, Discord) or 10 s (GitHub).

    .venv/bin/python benchmarks/webhook_ack.py [--deliveries 2000] [--concurrency 1,16]

Runs auth, tasks and integrations in one in-process server (like `aether dev`)
on a dedicated database (`aether_bench_integrations`, recreated each run) and
Redis db 13, with a GitHub integration sealed under a fresh key. Sends
`push` deliveries (acknowledged and logged, no actions) over native gRPC and
prints p50/p99 of the acknowledgement and deliveries per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aether.integrations.v1 import integrations_service_pb2 as pb  # noqa: E402
from aether.integrations.v1 import integrations_service_pb2_grpc  # noqa: E402
from google.api import httpbody_pb2  # noqa: E402

from servers.platform.secrets import new_secret_key  # noqa: E402
from tests.api import integrations_support as sig  # noqa: E402

DB = "aether_bench_integrations"


async def main(postgres: str, redis: str, deliveries: int, levels: list[int]) -> None:
    admin = await asyncpg.connect(f"{postgres}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    os.environ.update(
        DATABASE_URL=f"{postgres}/{DB}",
        REDIS_URL=redis,
        AETHER_SECRET_KEY=new_secret_key(),
        GRPC_HOST="127.0.0.1",
        GRPC_PORT="0",
        LOG_LEVEL="WARNING",
        LOG_JSON="false",
    )
    from servers import registry
    from servers.integrations.domain import GithubCredentials, NewIntegration
    from servers.integrations.main import IntegrationsSettings
    from servers.integrations.store import IntegrationRepository
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    server = Server([registry.load(n) for n in ("auth", "tasks", "integrations")], PlatformSettings())
    port = await server.start()
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    integration_id = uuid.uuid4()
    creds = GithubCredentials("ghp_bench", sig.GITHUB_SECRET)
    async with pool.acquire() as conn:
        sealed = IntegrationsSettings().vault().seal(str(integration_id), creds)
        await IntegrationRepository(conn).insert(
            integration_id, "bench-user", NewIntegration("b", creds, {}), sealed, ""
        )
    body = json.dumps(
        {"ref": "refs/heads/main", "repository": {"full_name": "acme/api"}, "pad": "x" * 4000}
    ).encode()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = integrations_service_pb2_grpc.IntegrationServiceStub(channel)

            async def one() -> float:
                headers = sig.github_headers(body, "push")
                request = pb.ReceiveWebhookRequest(
                    integration_id=str(integration_id),
                    http_body=httpbody_pb2.HttpBody(content_type="application/json", data=body),
                )
                start = time.perf_counter()
                await stub.ReceiveWebhook(request, metadata=tuple(headers.items()))
                return time.perf_counter() - start

            for _ in range(50):
                await one()  # warm-up
            for level in levels:
                latencies: list[float] = []

                async def worker(n: int, into: list[float]) -> None:
                    for _ in range(n):
                        into.append(await one())

                start = time.perf_counter()
                await asyncio.gather(*(worker(deliveries // level, latencies) for _ in range(level)))
                elapsed = time.perf_counter() - start
                q = statistics.quantiles(latencies, n=100)
                print(
                    f"concurrency {level:>3}: {len(latencies)} deliveries, "
                    f"p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, {len(latencies) / elapsed:.0f}/s"
                )
    finally:
        await pool.close()
        await server.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    asyncio.run(
        main(args.postgres, args.redis, args.deliveries, [int(c) for c in args.concurrency.split(",")])
    )
