"""What a call's admission (servers/platform/admission.py) adds to a request: the token checked
against the process's revocation feed (in memory) and the caller's GCRA bucket charged from a
lease (a Redis grant for up to 100 calls). Runs the admission step's own call (Admission.admit)
against a real Redis, sequentially and at a concurrency, and prints per check: the latency
(p50/p95), the CPU of this (server-side) process and the CPU of Redis (INFO cpu), in
microseconds, and the Redis round trips per check.

    .venv/bin/python benchmarks/rate_limit_overhead.py --redis redis://127.0.0.1:6379/14 -n 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis

from servers.platform.admission import Admission, Bucket
from servers.platform.context import Principal


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _run(admission: Admission, redis: Redis, n: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    users = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(100)]
    tokens = [Principal(u, "", frozenset(), frozenset(), uuid.uuid4().hex, datetime.now(UTC)) for u in users]
    # Never refuses: the cost of an allowed request.
    buckets = [Bucket(f"aether:rl:/bench.v1.Bench/Call:1000000/60:{u}", 1_000_000, 60_000) for u in users]

    async def worker(index: int) -> None:
        for i in range(index, n, concurrency):
            started = time.perf_counter()
            await admission.admit(tokens[i % len(users)], buckets[i % len(users)])
            latencies.append(time.perf_counter() - started)

    redis_before, cpu_before, wall_before = await _redis_cpu(redis), time.process_time(), time.perf_counter()
    scripts_before = await _script_calls(redis)
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall = time.perf_counter() - wall_before
    cpu, redis_cpu = time.process_time() - cpu_before, await _redis_cpu(redis) - redis_before
    round_trips = await _script_calls(redis) - scripts_before
    latencies.sort()
    return {
        "p50_us": statistics.median(latencies) * 1e6,
        "p95_us": latencies[int(len(latencies) * 0.95)] * 1e6,
        "server_cpu_us": cpu / n * 1e6,
        "redis_cpu_us": redis_cpu / n * 1e6,
        "checks_per_s": n / wall,
        "round_trips_per_1000_checks": round_trips / n * 1000,
    }


async def _script_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    redis = Redis.from_url(args.redis)
    admission = Admission(redis)
    await admission.start()
    try:
        await _run(admission, redis, 500, 1)  # warm-up: the script is loaded, connections open
        for concurrency in (1, 32):
            figures = await _run(admission, redis, args.n, concurrency)
            print(f"concurrency {concurrency:>2}: " + ", ".join(f"{k} {v:,.0f}" for k, v in figures.items()))
    finally:
        await admission.stop()
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
