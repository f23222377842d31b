"""End-to-end event throughput and latency, outbox row -> consumer handler, for
both transports (RabbitMQ, and the embedded PostgreSQL bus).

    .venv/bin/python benchmarks/events_throughput.py [--events 10000] [--rate 500] [--seconds 10]

Needs the machine's PostgreSQL (AETHER_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/postgres) and RabbitMQ (AETHER_TEST_AMQP,
default amqp://guest:guest@127.0.0.1:5672/). Uses a scratch database and
uniquely named exchange/queues, removed afterwards.

As deployed, the producing service (here: this process) writes events and runs
the relay, and the consuming service (a child process) consumes. Measured:
(1) throughput: events written into the outbox as fast as possible
(transactions of 50) while relay and consumer run; events/s = events /
(last handled - first written). (2) latency: events written one per
transaction at a fixed rate; latency = handler start - the event's time (set
when its outbox row was written); p50/p95/p99/max. The handler is a no-op, but
every event takes the full path: outbox, relay, publisher confirms (RabbitMQ)
or the deliveries table (PostgreSQL), the inbox dedupe transaction, ack.
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

import asyncpg
from aether.events.v1 import event_pb2
from aether.tasks.v1 import events_pb2 as task_events

from servers.platform import events
from servers.platform.bus import BusConfig, EventBus
from servers.platform.db import migrate

ADMIN_DSN = os.environ.get("AETHER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AETHER_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


def bus_config(suffix: str) -> BusConfig:
    return BusConfig(
        exchange=f"aether.bench.{suffix}",
        queue_prefix=f"aether.bench.{suffix}",
        poll_interval=0.2,
        relay_batch=500,
        relay_concurrency=2,
        prefetch=200,
    )


# --- the consuming service (child process) ----------------------------------------
async def consumer(
    transport: str, dsn: str, suffix: str, throughput_events: int, latency_events: int
) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=20)
    bus = EventBus(pool, bus_config(suffix), amqp_url=AMQP_URL if transport == "rabbitmq" else None, dsn=dsn)
    seen = {"tp": 0, "lat": 0}
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
        now = time.time()
        seen[event.subject] += 1
        if event.subject == "tp" and seen["tp"] == throughput_events:
            print(json.dumps({"throughput_last": now}), flush=True)
        if event.subject == "lat":
            latencies.append(now - event.time.ToNanoseconds() / 1e9)
            if len(latencies) == latency_events:
                done.set()

    bus.subscribe("task.*", handler, consumer="bench")
    await bus.start(relay=False)
    await asyncio.sleep(1.0)  # queues declared / subscription registered
    print(json.dumps({"ready": True}), flush=True)
    await done.wait()
    q = statistics.quantiles(latencies, n=100)
    print(json.dumps({"p50": q[49], "p95": q[94], "p99": q[98], "max": max(latencies)}), flush=True)
    await bus.stop()
    await pool.close()


# --- the producing service (this process) -------------------------------------------
async def write(pool: asyncpg.Pool, n: int, subject: str) -> None:
    payload = task_events.TaskCreated()
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            await events.publish(
                conn, event_type="task.created", source="bench", subject=subject, payload=payload
            )


async def run_transport(transport: str, dsn: str, args: argparse.Namespace) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    latency_events = args.rate * args.seconds
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--consumer",
        transport,
        dsn,
        suffix,
        str(args.events),
        str(latency_events),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None

    async def line() -> dict[str, float]:
        assert child.stdout is not None
        data = await asyncio.wait_for(child.stdout.readline(), 300)
        if not data:
            raise RuntimeError("the consumer process exited")
        result: dict[str, float] = json.loads(data)
        return result

    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=20)
    config = bus_config(suffix)
    bus = EventBus(pool, config, amqp_url=AMQP_URL if transport == "rabbitmq" else None, dsn=dsn)
    try:
        await line()  # ready
        await bus.start(relay=True)
        # (1) throughput
        first = time.time()
        per_tx = 50
        remaining = list(range(args.events // per_tx))

        async def writer() -> None:
            while remaining:
                remaining.pop()
                await write(pool, per_tx, "tp")

        await asyncio.gather(*(writer() for _ in range(4)))
        written = time.time()
        last = (await line())["throughput_last"]

        # (2) latency at a fixed rate
        interval = 1 / args.rate
        t0 = time.perf_counter()
        tasks = set()
        for i in range(latency_events):
            delay = t0 + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(write(pool, 1, "lat"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        latency = await line()
        await child.wait()
        return {
            "throughput": args.events / (last - first),
            "write_rate": args.events / (written - first),
            **{k: v * 1000 for k, v in latency.items()},
        }
    finally:
        await bus.stop()
        await pool.close()
        if child.returncode is None:
            child.kill()
        if transport == "rabbitmq":
            await delete_topology(config)


async def delete_topology(config: BusConfig) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        name = config.queue("bench")
        for queue in [name, f"{name}.dlq"] + [f"{name}.retry.{i}" for i in range(1, config.max_attempts)]:
            await channel.queue_delete(queue)
        await channel.exchange_delete(config.exchange)


async def main(args: argparse.Namespace) -> None:
    name = f"aether_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    results = {}
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        await migrate(pool, "platform", events.MIGRATIONS)
        await pool.close()
        for transport in ["rabbitmq", "postgres"] if args.transport == "both" else [args.transport]:
            results[transport] = await run_transport(transport, dsn, args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"\nthroughput run: {args.events} events; latency run: {args.rate} events/s for {args.seconds} s")
    header = ("transport", "events/s", "written/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(f"{header[0]:<10} {header[1]:>9} {header[2]:>10}" + "".join(f" {h:>8}" for h in header[3:]))
    for transport, r in results.items():
        print(
            f"{transport:<10} {r['throughput']:>9.0f} {r['write_rate']:>10.0f} {r['p50']:>8.1f}"
            f" {r['p95']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--consumer":
        transport, dsn, suffix, tp, lat = sys.argv[2:7]
        asyncio.run(consumer(transport, dsn, suffix, int(tp), int(lat)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10000, help="events for the throughput run")
    parser.add_argument("--rate", type=int, default=500, help="events/s for the latency run")
    parser.add_argument("--seconds", type=int, default=10, help="length of the latency run")
    parser.add_argument("--transport", choices=["rabbitmq", "postgres", "both"], default="both")
    asyncio.run(main(parser.parse_args()))
