"""One Docker stats sample -> Stats, computed the way `docker stats` does
(docker/cli cli/command/container/stats_helpers.go)."""

from __future__ import annotations

from typing import Any

from servers.containers.docker_json import timestamp
from servers.containers.domain import Stats


def cpu_percent(sample: dict[str, Any]) -> tuple[float, int]:
    """(percent of one CPU since the previous sample, online CPUs). The engine
    sends the previous reading as precpu_stats; on the first sample of a stream
    it is empty and the percentage is 0, as in the CLI."""
    cpu = sample.get("cpu_stats") or {}
    pre = sample.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    online = cpu.get("online_cpus") or len(usage.get("percpu_usage") or ()) or 0
    cpu_delta = usage.get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    if system_delta > 0 and cpu_delta > 0 and pre.get("system_cpu_usage"):
        return cpu_delta / system_delta * online * 100.0, online
    return 0.0, online


def memory_usage(memory: dict[str, Any]) -> int:
    """Usage without the page cache: cgroup v1 subtracts total_inactive_file,
    cgroup v2 inactive_file (the CLI's calculateMemUsageUnixNoCache)."""
    usage = int(memory.get("usage", 0))
    detail = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in detail and detail[key] < usage:
            return usage - int(detail[key])
    return usage


def _block_io(sample: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value", 0))
        elif op == "write":
            write += int(entry.get("value", 0))
    return read, write


def stats_of(sample: dict[str, Any], container_id: str) -> Stats:
    percent, online = cpu_percent(sample)
    memory = sample.get("memory_stats") or {}
    used, limit = memory_usage(memory), int(memory.get("limit", 0))
    networks = (sample.get("networks") or {}).values()
    read, write = _block_io(sample)
    return Stats(
        id=sample.get("id") or container_id,
        name=str(sample.get("name", "")).lstrip("/"),
        read_at=timestamp(sample.get("read")),
        cpu_percent=percent,
        online_cpus=online,
        memory_usage_bytes=used,
        memory_limit_bytes=limit,
        memory_percent=used / limit * 100.0 if limit else 0.0,
        network_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks),
        network_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks),
        block_read_bytes=read,
        block_write_bytes=write,
        pids=int((sample.get("pids_stats") or {}).get("current", 0)),
    )
