"""The Docker Manager's pure parts: the allow-list, reference resolution, list
selection, registries, the `docker stats` formulas, Docker's log frames and
its JSON times."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from servers.containers.docker_json import container_of_inspect, timestamp
from servers.containers.domain import (
    Container,
    LabelFilter,
    LogLine,
    build_list_query,
    check_registry,
    registry_of,
    resolve,
    select,
)
from servers.containers.frames import MAX_LINE_BYTES, FrameParser, LineSplitter
from servers.containers.stats import cpu_percent, memory_usage, stats_of
from servers.platform.errors import InvalidArgument, NotFound, PermissionDenied

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def container(cid: str, name: str, state: str = "running", age: int = 0, **labels: str) -> Container:
    return Container(
        cid, name, "img", "sha256:x", "sh", state, "", T0 - timedelta(minutes=age), labels=labels
    )


def test_label_filter() -> None:
    exact, present = LabelFilter.parse("aether.managed=true"), LabelFilter.parse("team")
    assert exact.admits({"aether.managed": "true"}) and not exact.admits({"aether.managed": "false"})
    assert not exact.admits({}) and present.admits({"team": ""}) and not present.admits({"x": "team"})
    assert (str(exact), str(present), str(LabelFilter.parse("k="))) == ("aether.managed=true", "team", "k=")
    with pytest.raises(ValueError, match="key"):
        LabelFilter.parse(" =x")


def test_resolve_by_id_then_name_then_unique_prefix_among_the_visible_only() -> None:
    a = container("abc123" + "0" * 58, "web")
    b = container("abd456" + "0" * 58, "abc123")  # a name that is also a's id prefix
    visible = [a, b]
    assert resolve(a.id, visible) is a
    assert resolve("abc123", visible) is b  # a name wins over an id prefix, as in Docker
    assert resolve("abd", visible) is b and resolve("web", visible) is a
    with pytest.raises(InvalidArgument) as ambiguous:
        resolve("ab", visible)
    assert ambiguous.value.violations[0].field == "id"
    with pytest.raises(NotFound):
        resolve("ff", visible)
    # an invisible container neither matches nor makes a prefix ambiguous
    assert resolve("ab", [a]) is a


def test_select_filters_and_orders() -> None:
    cs = [container("c1", "b-one", age=2), container("c2", "a-two", "exited", age=1), container("c3", "c-x")]
    query = build_list_query(all=False, page=0, limit=0, name="", state="", sort="", order="")
    assert [c.id for c in select(cs, query)] == ["c3", "c1"]  # running only, newest first
    by_name = build_list_query(all=True, page=1, limit=2, name="-", state="", sort="name", order="asc")
    assert [c.name for c in by_name.page.slice(select(cs, by_name)).items] == ["a-two", "b-one"]
    exited = build_list_query(all=False, page=1, limit=20, name="", state="exited", sort="", order="")
    assert exited.all and [c.id for c in select(cs, exited)] == ["c2"]


def test_registries() -> None:
    assert registry_of("python") == registry_of("library/python") == "docker.io"
    assert registry_of("ghcr.io/acme/app") == "ghcr.io"
    assert registry_of("registry.local:5000/team/app") == "registry.local:5000"
    assert registry_of("localhost/app") == "localhost" and registry_of("acme/app") == "docker.io"
    check_registry("python", frozenset())
    check_registry("python", frozenset({"docker.io"}))
    with pytest.raises(PermissionDenied, match="127.0.0.1:5000"):
        check_registry("127.0.0.1:5000/x", frozenset({"docker.io"}))


SAMPLE = {
    "id": "c" * 64,
    "name": "/web",
    "read": "2026-01-01T00:00:02.123456789Z",
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000}, "system_cpu_usage": 20_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
    "memory_stats": {"usage": 10_000, "limit": 100_000, "stats": {"inactive_file": 2_000}},
    "networks": {"eth0": {"rx_bytes": 5, "tx_bytes": 7}, "eth1": {"rx_bytes": 1, "tx_bytes": 1}},
    "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4}, {"op": "Write", "value": 9}]},
    "pids_stats": {"current": 3},
}


def test_stats_are_computed_like_docker_stats() -> None:
    # (cpu delta / system delta) * online cpus * 100
    assert cpu_percent(SAMPLE) == pytest.approx((40.0, 2))
    # the first sample of a stream has no previous reading
    assert cpu_percent({**SAMPLE, "precpu_stats": {}}) == (0.0, 2)
    assert cpu_percent({"cpu_stats": {"cpu_usage": {"percpu_usage": [1, 2, 3]}}})[1] == 3
    # usage without the page cache: cgroup v2 inactive_file, v1 total_inactive_file
    assert memory_usage(SAMPLE["memory_stats"]) == 8_000  # type: ignore[arg-type]
    assert memory_usage({"usage": 10, "stats": {"total_inactive_file": 4}}) == 6
    assert memory_usage({"usage": 10, "stats": {"inactive_file": 40}}) == 10
    stats = stats_of(SAMPLE, "ignored")
    assert (stats.id, stats.name, stats.memory_percent, stats.pids) == ("c" * 64, "web", 8.0, 3)
    assert (stats.network_rx_bytes, stats.network_tx_bytes) == (6, 8)
    assert (stats.block_read_bytes, stats.block_write_bytes) == (4, 9)
    assert stats.read_at == datetime(2026, 1, 1, 0, 0, 2, 123456, tzinfo=UTC)


def test_engine_times() -> None:
    assert timestamp("0001-01-01T00:00:00Z") is None and timestamp("") is None and timestamp(0) is None
    assert timestamp(1_767_225_600) == datetime(2026, 1, 1, tzinfo=UTC)
    assert timestamp("2026-01-01T02:00:00.5+02:00") == datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)


def test_inspect_never_reads_the_environment() -> None:
    raw = {
        "Id": "c" * 64,
        "Name": "/web",
        "Created": "2026-01-01T00:00:00Z",
        "Path": "sh",
        "Args": ["-c", "echo hi there"],
        "Config": {"Image": "busybox", "Env": ["SECRET=hunter2"], "Labels": {"a": "b"}, "Tty": True},
        "State": {"Status": "exited", "ExitCode": 3, "StartedAt": "2026-01-01T00:00:01Z"},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}},
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": None}
        },
        "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data", "RW": False}],
    }
    c = container_of_inspect(raw)
    assert (c.name, c.command, c.status, c.labels) == (
        "web",
        "sh -c 'echo hi there'",
        "Exited (3)",
        {"a": "b"},
    )
    assert c.details and c.details.tty and c.details.restart_policy == "unless-stopped"
    assert [(p.private_port, p.public_port, p.protocol) for p in c.ports] == [
        (80, 8080, "tcp"),
        (53, 0, "udp"),
    ]
    assert c.details.mounts[0].read_only and c.details.mounts[0].source == "data"
    assert "hunter2" not in repr(c)


def frame(kind: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(data)) + data


def test_frames_are_demultiplexed_by_their_8_byte_headers() -> None:
    raw = frame(1, b"out 1\nou") + frame(2, b"err\n") + frame(1, b"") + frame(1, b"t 2\n")
    parser = FrameParser()
    # however the engine's writes are cut into reads
    assert parser.feed(raw[:3]) == [] and parser.feed(raw[3:20]) == [("stdout", b"out 1\nou")]
    assert parser.feed(raw[20:]) == [("stderr", b"err\n"), ("stdout", b"t 2\n")]
    parser.close()
    with pytest.raises(ValueError, match="frame type"):
        FrameParser().feed(b"hello, this is a TTY stream")
    cut = FrameParser()
    cut.feed(frame(1, b"x")[:5])
    with pytest.raises(ValueError, match="inside a frame"):
        cut.close()


def test_lines_are_rebuilt_per_stream_across_frames() -> None:
    split = LineSplitter(timestamps=False)
    assert split.feed("stdout", b"out 1\nou") == [LogLine("stdout", "out 1")]
    assert split.feed("stderr", b"err\r\n") == [LogLine("stderr", "err")]  # the other stream's tail waits
    assert split.feed("stdout", b"t 2\n\xff\n") == [LogLine("stdout", "out 2"), LogLine("stdout", "\ufffd")]
    assert split.feed("stdout", b"no newline") == [] and split.flush() == [LogLine("stdout", "no newline")]
    long = split.feed("stdout", b"x" * (MAX_LINE_BYTES * 2 + 1) + b"\n")
    assert [len(line.text) for line in long] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 1]


def test_timestamps_are_taken_off_the_line() -> None:
    split = LineSplitter(timestamps=True)
    (line,) = split.feed("stdout", b"2026-01-01T00:00:00.123456789Z hello world\n")
    assert line == LogLine("stdout", "hello world", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC))
