"""The Docker Manager's cost over the engine: resolve + inspect and list latency
with N visible and N invisible containers, and log throughput through the frame
demultiplexer, against a real dockerd of its own (tests/dockerd.py, as in the tests).

    .venv/bin/python benchmarks/containers_engine.py [--containers 20] [--lines 200000] [--rounds 200]

The use cases run in-process on the real engine client (servers/containers/engine.py)
with an in-memory unit of work, so the figures are the server's work and the
engine's, without gRPC or Envoy. For scale, `docker logs` (the Go CLI, its stdout read
by this process) reads the same log. Needs root, dockerd and busybox-static; stops everything it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers.containers.domain import LabelFilter, LogLine, LogsQuery, build_list_query  # noqa: E402
from servers.containers.engine import DockerEngine  # noqa: E402
from servers.containers.usecases import ContainerUseCases  # noqa: E402
from servers.platform.uow import InMemoryUnitOfWork  # noqa: E402
from tests.dockerd import LocalDocker, missing  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms"


async def timed(rounds: int, call: object) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


async def main(containers: int, lines: int, rounds: int) -> None:
    engine = LocalDocker(Path(tempfile.mkdtemp(prefix="aether-bench-dk-")))
    engine.start()
    client = DockerEngine(engine.host)
    try:
        for n in range(containers):
            await engine.run(name=f"bench-in-{n}")
            await engine.run(name=f"bench-out-{n}", labels=())
        writer = await engine.run("seq", "1", str(lines), name="bench-logs")
        await engine.cli("wait", writer)
        uc = ContainerUseCases(
            client, InMemoryUnitOfWork(None), label=LabelFilter.parse("aether.managed=true")
        )
        query = build_list_query(all=True, page=1, limit=20, name="", state="", sort="", order="")

        async def get() -> None:
            await uc.get("bench-in-0")

        async def list_page() -> None:
            await uc.list_page(query)

        async def raw_inspect() -> None:
            await client.inspect("bench-in-0")

        print(f"{containers} visible + {containers} invisible containers, {rounds} rounds each")
        print(f"  engine inspect alone        {percentiles(await timed(rounds, raw_inspect))}")
        print(f"  GetContainer (resolve+insp) {percentiles(await timed(rounds, get))}")
        print(f"  ListContainers (page of 20) {percentiles(await timed(rounds, list_page))}")

        start = time.perf_counter()
        count = 0
        async for item in uc.logs("bench-logs", LogsQuery(tail=lines)):
            count += isinstance(item, LogLine)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        await engine.cli("logs", writer)
        cli = time.perf_counter() - start
        print(f"logs of {lines} lines: {count} lines in {ours:.2f} s ({count / ours:,.0f} lines/s); ")
        print(f"  `docker logs` (Go CLI, no per-line work): {cli:.2f} s ({lines / cli:,.0f} lines/s)")
    finally:
        await client.close()
        engine.stop()


if __name__ == "__main__":
    if reason := missing():
        raise SystemExit(reason)
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.containers, args.lines, args.rounds))
