"""ContainerService over native gRPC against a real Docker engine (tests/dockerd.py):
the label allow-list, lifecycle, logs, stats, images and pulls, an engine that is
down, admin-only access, and the audit events in the outbox."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import grpc
import pytest
from aether.common.v1 import output_pb2
from aether.containers.v1 import container_pb2, containers_service_pb2_grpc
from aether.containers.v1 import containers_service_pb2 as pb

from servers.containers.engine import OPEN_STREAMS
from tests.dockerd import LocalDocker
from tests.helpers import bearer, outbox_events, rich_error

Stub = containers_service_pb2_grpc.ContainerServiceStub
Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
async def stub(app_server: tuple[str, list[str]], docker_engine: LocalDocker) -> AsyncIterator[Stub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield Stub(channel)


@pytest.fixture
async def admin(forge_token: Callable[..., Awaitable[str]]) -> Metadata:
    return bearer(await forge_token(str(uuid.uuid4()), roles=("admin",)))


@pytest.fixture
def engine(docker_engine: LocalDocker) -> Iterator[LocalDocker]:
    """The engine; each test leaves it as it found it (the check fails the test otherwise)."""
    before_images = docker_engine.images()
    yield docker_engine
    docker_engine.docker("rm", "-f", *docker_engine.containers(), check=False)
    assert docker_engine.containers() == []
    assert docker_engine.images() == before_images


def open_streams(kind: str) -> float:
    return OPEN_STREAMS.labels(kind)._value.get()


async def eventually(check: Callable[[], Any], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {what} within {seconds} s")


async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def collect(call: Any) -> list[Any]:
    return [message async for message in call]


async def rest_of(call: Any) -> list[Any]:
    """The remaining messages of a stream that was read with read()."""
    messages = []
    while (message := await call.read()) is not grpc.aio.EOF:
        messages.append(message)
    return messages


async def test_ping_and_daemon_info(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    ping = await stub.PingDaemon(pb.PingDaemonRequest(), metadata=admin)
    assert ping.ok and ping.api_version.startswith("1.")
    info = await stub.GetDaemonInfo(pb.GetDaemonInfoRequest(), metadata=admin)
    assert info.server_version and info.os_type == "linux" and info.ncpu >= 1
    assert info.api_version == ping.api_version
    assert info.images >= 1 and info.label_filter == "aether.managed=true"


async def test_containers_without_the_label_are_invisible_and_untouchable(
    stub: Stub, admin: Metadata, engine: LocalDocker
) -> None:
    tag = uuid.uuid4().hex[:6]
    managed = await engine.run(name=f"managed-{tag}")
    outside = await engine.run(name=f"outside-{tag}", labels=())
    wrong = await engine.run(name=f"wrong-{tag}", labels=("aether.managed=false",))

    listed = await stub.ListContainers(pb.ListContainersRequest(all=True, name=tag), metadata=admin)
    assert [c.id for c in listed.containers] == [managed]
    assert listed.pagination.total == 1

    for other in (outside, wrong):
        name = f"outside-{tag}" if other == outside else f"wrong-{tag}"
        for reference in (other, name, other[:12], other[:4]):
            assert await code_of(stub.GetContainer(pb.GetContainerRequest(id=reference), metadata=admin)) == (
                grpc.StatusCode.NOT_FOUND
            ), reference
        for call in (
            stub.StopContainer(pb.StopContainerRequest(id=name, timeout_seconds=0), metadata=admin),
            stub.RestartContainer(pb.RestartContainerRequest(id=other[:12]), metadata=admin),
            stub.DeleteContainer(pb.DeleteContainerRequest(id=other, force=True), metadata=admin),
            stub.GetContainerStats(pb.GetContainerStatsRequest(id=name), metadata=admin),
            collect(stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id=other[:12]), metadata=admin)),
            collect(stub.StreamContainerStats(pb.StreamContainerStatsRequest(id=other), metadata=admin)),
        ):
            assert await code_of(call) == grpc.StatusCode.NOT_FOUND
    # untouched: still running, still there
    assert (await engine.cli("inspect", "-f", "{{.State.Running}}", outside, wrong)).split() == [
        "true",
        "true",
    ]

    by_prefix = await stub.GetContainer(pb.GetContainerRequest(id=managed[:12]), metadata=admin)
    by_name = await stub.GetContainer(pb.GetContainerRequest(id=f"managed-{tag}"), metadata=admin)
    assert by_prefix.id == by_name.id == managed
    assert by_prefix.state == container_pb2.CONTAINER_STATE_RUNNING
    assert by_prefix.labels["aether.managed"] == "true" and by_prefix.image == "aether-test/busybox:latest"
    assert by_prefix.started_at.seconds > 0 and by_prefix.restart_policy == container_pb2.RESTART_POLICY_NO
    assert by_prefix.health == container_pb2.CONTAINER_HEALTH_NONE and by_prefix.platform == "linux"


async def test_list_pages_sorts_and_filters(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [await engine.run(name=f"page-{tag}-{n}") for n in range(3)]
    await engine.cli("stop", "-t", "0", ids[2])

    running = await stub.ListContainers(pb.ListContainersRequest(name=tag), metadata=admin)
    assert {c.id for c in running.containers} == set(ids[:2])
    first = await stub.ListContainers(
        pb.ListContainersRequest(all=True, name=tag, limit=2, sort="name", order="asc"), metadata=admin
    )
    second = await stub.ListContainers(
        pb.ListContainersRequest(all=True, name=tag, limit=2, page=2, sort="name", order="asc"),
        metadata=admin,
    )
    assert [c.name for c in [*first.containers, *second.containers]] == [f"page-{tag}-{n}" for n in range(3)]
    assert (first.pagination.total, first.pagination.total_pages, first.pagination.has_next) == (3, 2, True)
    assert second.pagination.has_prev and not second.pagination.has_next
    exited = await stub.ListContainers(
        pb.ListContainersRequest(name=tag, state=container_pb2.CONTAINER_STATE_EXITED), metadata=admin
    )
    assert [c.id for c in exited.containers] == [ids[2]]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListContainers(pb.ListContainersRequest(limit=101), metadata=admin)
    assert rich_error(caught.value).code == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in rich_error(caught.value).field_violations


async def test_lifecycle_on_a_real_container_is_audited(
    stub: Stub, admin: Metadata, engine: LocalDocker, database_url: str
) -> None:
    cid = await engine.run(name=f"life-{uuid.uuid4().hex[:6]}")

    stopped = await stub.StopContainer(
        pb.StopContainerRequest(id=cid[:12], timeout_seconds=1), metadata=admin
    )
    assert (stopped.success, stopped.id, stopped.message) == (True, cid, "stopped")
    assert stopped.state == container_pb2.CONTAINER_STATE_EXITED
    again = await stub.StopContainer(pb.StopContainerRequest(id=cid), metadata=admin)
    assert again.message == "already stopped"

    started = await stub.StartContainer(pb.StartContainerRequest(id=cid), metadata=admin)
    assert (started.message, started.state) == ("started", container_pb2.CONTAINER_STATE_RUNNING)
    assert (await stub.StartContainer(pb.StartContainerRequest(id=cid), metadata=admin)).message == (
        "already running"
    )
    restarted = await stub.RestartContainer(
        pb.RestartContainerRequest(id=cid, timeout_seconds=0), metadata=admin
    )
    assert (restarted.message, restarted.state) == ("restarted", container_pb2.CONTAINER_STATE_RUNNING)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.DeleteContainer(pb.DeleteContainerRequest(id=cid), metadata=admin)
    assert rich_error(caught.value).code == grpc.StatusCode.FAILED_PRECONDITION
    assert engine.containers() == [cid]

    deleted = await stub.DeleteContainer(pb.DeleteContainerRequest(id=cid, force=True), metadata=admin)
    assert (deleted.success, deleted.id) == (True, cid)
    assert engine.containers() == []
    assert await code_of(stub.GetContainer(pb.GetContainerRequest(id=cid), metadata=admin)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert await code_of(stub.DeleteContainer(pb.DeleteContainerRequest(id=cid), metadata=admin)) == (
        grpc.StatusCode.NOT_FOUND
    )

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:  # reads and no-op actions ("already ...") record nothing
        assert await outbox_events(pool, cid) == [
            "container.stopped",
            "container.started",
            "container.restarted",
            "container.deleted",
        ]
    finally:
        await pool.close()


async def test_logs_tail_demultiplexes_stdout_and_stderr(
    stub: Stub, admin: Metadata, engine: LocalDocker
) -> None:
    cid = await engine.run("sh", "-c", "echo out-1; echo err-1 >&2; echo out-2; exec sleep 600")
    for _ in range(200):  # until the container wrote all three
        if (
            len(
                await collect(stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id=cid), metadata=admin))
            )
            == 4
        ):
            break
        await asyncio.sleep(0.05)

    async def lines(**fields: Any) -> tuple[list[tuple[int, str]], pb.StreamContainerLogsFinal]:
        messages = await collect(
            stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id=cid, **fields), metadata=admin)
        )
        assert messages[-1].WhichOneof("event") == "final"
        return [(m.line.stream, m.line.text) for m in messages[:-1]], messages[-1].final

    out, err = output_pb2.OUTPUT_STREAM_STDOUT, output_pb2.OUTPUT_STREAM_STDERR
    everything, final = await lines()
    assert sorted(everything) == sorted([(out, "out-1"), (err, "err-1"), (out, "out-2")])
    assert (final.reason, final.lines) == (pb.LOGS_END_REASON_ALL_SENT, 3)
    assert (await lines(stream=err))[0] == [(err, "err-1")]
    last, final = await lines(tail=1)  # of the whole log (the engine tails before it filters streams)
    assert len(last) == 1 and last[0] in everything and final.lines == 1

    stamped = await collect(
        stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id=cid, timestamps=True), metadata=admin)
    )
    assert all(m.line.timestamp.seconds > 0 for m in stamped[:-1]) and stamped[0].line.text in {
        "out-1",
        "err-1",
    }


async def test_logs_follow_streams_new_lines_and_cancel_closes_the_engine_stream(
    stub: Stub, admin: Metadata, engine: LocalDocker
) -> None:
    cid = await engine.run("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    call = stub.StreamContainerLogs(
        pb.StreamContainerLogsRequest(id=cid, follow=True, tail=0), metadata=admin
    )
    ticks = []
    async for message in call:
        ticks.append(int(message.line.text.split()[1]))
        if len(ticks) == 3:
            break
    assert ticks == sorted(ticks) and len(set(ticks)) == 3  # new lines, as written
    assert open_streams("logs") >= 1
    call.cancel()
    await eventually(lambda: open_streams("logs") == 0, "closed after the cancel")


async def test_logs_follow_ends_when_the_container_stops(
    stub: Stub, admin: Metadata, engine: LocalDocker
) -> None:
    cid = await engine.run("sh", "-c", "echo first; exec sleep 600")
    call = stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id=cid, follow=True), metadata=admin)
    first = await call.read()
    assert first.line.text == "first"
    await engine.cli("stop", "-t", "0", cid)
    rest = await rest_of(call)
    assert rest[-1].final.reason == pb.LOGS_END_REASON_CONTAINER_STOPPED and rest[-1].final.lines >= 1


async def test_stats_one_shot_and_streamed(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    cid = await engine.run("sh", "-c", "while true; do :; done")  # keeps a CPU busy
    one = await stub.GetContainerStats(pb.GetContainerStatsRequest(id=cid[:12]), metadata=admin)
    assert one.id == cid and one.name.startswith("aether-") and one.pids >= 2
    assert one.online_cpus >= 1 and one.cpu_percent > 0
    assert 0 < one.memory_usage_bytes < one.memory_limit_bytes
    assert one.memory_percent == pytest.approx(one.memory_usage_bytes / one.memory_limit_bytes * 100)

    call = stub.StreamContainerStats(pb.StreamContainerStatsRequest(id=cid), metadata=admin)
    samples = []
    async for message in call:
        samples.append(message.sample)
        if len(samples) == 3:
            break
    reads = [s.read_at.ToDatetime() for s in samples]
    assert reads == sorted(reads) and len(set(reads)) == 3
    assert any(s.cpu_percent > 0 for s in samples[1:])  # the first has no previous reading
    call.cancel()
    await eventually(lambda: open_streams("stats") == 0, "closed after the cancel")

    await engine.cli("stop", "-t", "0", cid)
    assert await code_of(stub.GetContainerStats(pb.GetContainerStatsRequest(id=cid), metadata=admin)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


async def test_stats_stream_ends_when_the_container_stops(
    stub: Stub, admin: Metadata, engine: LocalDocker
) -> None:
    cid = await engine.run()
    call = stub.StreamContainerStats(pb.StreamContainerStatsRequest(id=cid), metadata=admin)
    assert (await call.read()).sample.id == cid
    await engine.cli("stop", "-t", "0", cid)
    rest = await rest_of(call)
    assert rest[-1].final.reason == pb.STATS_END_REASON_CONTAINER_STOPPED
    assert rest[-1].final.samples == 1 + len(rest) - 1


async def test_images_list(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    listed = await stub.ListImages(pb.ListImagesRequest(), metadata=admin)
    tags = [t for image in listed.images for t in image.repo_tags]
    assert "aether-test/busybox:latest" in tags and listed.pagination.total == len(listed.images)
    busybox = next(i for i in listed.images if "aether-test/busybox:latest" in i.repo_tags)
    assert busybox.id.startswith("sha256:") and busybox.size_bytes > 1_000_000
    # A pattern only busybox matches: the shared dockerd may hold other aether-test/ images
    # (tests/integration/test_code_container_sandbox.py builds aether-test/bwrap).
    filtered = await stub.ListImages(pb.ListImagesRequest(reference="aether-test/busy*"), metadata=admin)
    assert [i.id for i in filtered.images] == [busybox.id]
    none = await stub.ListImages(pb.ListImagesRequest(reference="no-such-image"), metadata=admin)
    assert (list(none.images), none.pagination.total) == ([], 0)


async def test_pull_streams_progress_and_ends_with_the_image(
    stub: Stub, admin: Metadata, engine: LocalDocker, database_url: str
) -> None:
    reference = await engine.push("aether/pulled", "1", {"etc/pulled": b"yes"})
    repository = reference.rsplit(":", 1)[0]
    try:
        messages = await collect(
            stub.PullImage(pb.PullImageRequest(image=repository, tag="1"), metadata=admin)
        )
        progress = [m.progress for m in messages[:-1]]
        assert all(m.WhichOneof("event") == "progress" for m in messages[:-1]) and progress
        assert any(p.layer_id for p in progress) and {"Pull complete"} <= {p.status for p in progress}
        final = messages[-1].final
        assert reference in final.image.repo_tags and final.status.startswith(
            "Status: Downloaded newer image"
        )
        again = await collect(stub.PullImage(pb.PullImageRequest(image=repository, tag="1"), metadata=admin))
        assert again[-1].final.status.startswith("Status: Image is up to date")
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            assert await outbox_events(pool, final.image.id) == ["image.pulled", "image.pulled"]
        finally:
            await pool.close()
    finally:
        await engine.cli("rmi", reference, check=False)
    assert open_streams("pull") == 0


async def test_pull_failures_are_error_statuses(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    missing = f"{engine.registry}/aether/no-such-image"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub.PullImage(pb.PullImageRequest(image=missing, tag="1"), metadata=admin))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    broken = await engine.push("aether/broken", "1", {"etc/broken": b"soon"})
    engine.drop_layers("aether/broken")
    call = stub.PullImage(pb.PullImageRequest(image=broken.rsplit(":", 1)[0], tag="1"), metadata=admin)
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in call:
            received.append(message)
    # the engine answered 200 and said "Pulling ..." before it failed: still no success
    assert received and all(m.WhichOneof("event") == "progress" for m in received)
    error = rich_error(caught.value)
    assert error.code == grpc.StatusCode.UNAVAILABLE and "unknown blob" in error.message
    assert await engine.cli("images", "-q", broken) == ""


async def test_bad_input_is_invalid_argument(stub: Stub, admin: Metadata, engine: LocalDocker) -> None:
    for call in (
        stub.GetContainer(pb.GetContainerRequest(id="../etc"), metadata=admin),
        stub.GetContainer(pb.GetContainerRequest(id="images"), metadata=admin),
        stub.StopContainer(pb.StopContainerRequest(id="x", timeout_seconds=301), metadata=admin),
        collect(stub.PullImage(pb.PullImageRequest(image="UPPER/case"), metadata=admin)),
        collect(
            stub.PullImage(
                pb.PullImageRequest(image="busybox", tag="1", digest="sha256:" + "a" * 64), metadata=admin
            )
        ),
        collect(stub.StreamContainerLogs(pb.StreamContainerLogsRequest(id="x", tail=10001), metadata=admin)),
    ):
        assert await code_of(call) == grpc.StatusCode.INVALID_ARGUMENT


# Every RPC with a request that would pass validation.
EVERY_RPC: dict[str, Any] = {
    "ListContainers": pb.ListContainersRequest(),
    "GetContainer": pb.GetContainerRequest(id="x"),
    "StartContainer": pb.StartContainerRequest(id="x"),
    "StopContainer": pb.StopContainerRequest(id="x"),
    "RestartContainer": pb.RestartContainerRequest(id="x"),
    "DeleteContainer": pb.DeleteContainerRequest(id="x"),
    "StreamContainerLogs": pb.StreamContainerLogsRequest(id="x"),
    "GetContainerStats": pb.GetContainerStatsRequest(id="x"),
    "StreamContainerStats": pb.StreamContainerStatsRequest(id="x"),
    "ListImages": pb.ListImagesRequest(),
    "PullImage": pb.PullImageRequest(image="busybox"),
    "GetDaemonInfo": pb.GetDaemonInfoRequest(),
    "PingDaemon": pb.PingDaemonRequest(),
}
STREAMS = {"StreamContainerLogs", "StreamContainerStats", "PullImage"}


def test_every_rpc_is_covered() -> None:
    assert set(EVERY_RPC) == set(pb.DESCRIPTOR.services_by_name["ContainerService"].methods_by_name)


async def call_rpc(stub: Stub, method: str, metadata: Metadata) -> Any:
    call = getattr(stub, method)(EVERY_RPC[method], metadata=metadata)
    return await (collect(call) if method in STREAMS else call)


@pytest.mark.parametrize("role", ["user", "developer", "guest"])
async def test_every_rpc_is_admin_only(
    stub: Stub, forge_token: Callable[..., Awaitable[str]], engine: LocalDocker, role: str
) -> None:
    md = bearer(await forge_token(str(uuid.uuid4()), roles=(role,)))
    for method in EVERY_RPC:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call_rpc(stub, method, md)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
    for method in EVERY_RPC:
        assert await code_of(call_rpc(stub, method, ())) == grpc.StatusCode.UNAUTHENTICATED, method


@pytest.fixture(scope="module")
async def start_server(app_server: tuple[str, list[str]]) -> AsyncIterator[Callable[..., Awaitable[Stub]]]:
    """Extra containers servers with settings of their own (trusting the shared auth)."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    servers: list[Any] = []
    channels: list[grpc.aio.Channel] = []

    async def start(**env: str) -> Stub:
        saved = dict(os.environ)
        # small: PostgreSQL's connections are shared with every other test server
        small = {"DATABASE_POOL_MAX": "2", "BUS_RELAY": "false", "MIGRATE_ON_START": "false"}
        os.environ.update(AUTH_ADDR=app_server[0], **small, **env)
        try:  # settings are read from the environment while the server builds
            server = Server([registry.load("containers")], PlatformSettings())
            port = await server.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        servers.append(server)
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        return Stub(channels[-1])

    yield start
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop()


async def test_engine_down_is_unavailable_naming_docker_host(
    start_server: Callable[..., Awaitable[Stub]], admin: Metadata, tmp_path: Any
) -> None:
    host = f"unix://{tmp_path}/no-dockerd.sock"
    down = await start_server(DOCKER_HOST=host)
    for method in EVERY_RPC:
        if method == "PullImage":
            continue  # checked below: the registry allow-list comes first
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call_rpc(down, method, admin)
        error = rich_error(caught.value)
        assert error.code == grpc.StatusCode.UNAVAILABLE, method
        assert f"DOCKER_HOST={host}" in error.message and error.retry_delay_seconds, method
    assert await code_of(collect(down.PullImage(pb.PullImageRequest(image="busybox"), metadata=admin))) == (
        grpc.StatusCode.UNAVAILABLE
    )


async def test_allow_lists_and_stream_limits_are_settings(
    start_server: Callable[..., Awaitable[Stub]], admin: Metadata, engine: LocalDocker
) -> None:
    outside = await engine.run(labels=())
    everything = await start_server(CONTAINERS_LABEL_FILTER_ENABLED="false")
    seen = await everything.GetContainer(pb.GetContainerRequest(id=outside[:12]), metadata=admin)
    assert seen.id == outside
    info = await everything.GetDaemonInfo(pb.GetDaemonInfoRequest(), metadata=admin)
    assert info.label_filter == ""

    strict = await start_server(
        CONTAINERS_ALLOWED_REGISTRIES="docker.io",
        CONTAINERS_LABEL_FILTER="team=a",
        CONTAINERS_STREAM_MAX_SECONDS="1",
    )
    pull = strict.PullImage(pb.PullImageRequest(image=f"{engine.registry}/aether/any"), metadata=admin)
    assert await code_of(collect(pull)) == grpc.StatusCode.PERMISSION_DENIED
    managed = await engine.run("sh", "-c", "echo only; exec sleep 600")  # aether.managed, not team=a
    assert await code_of(strict.GetContainer(pb.GetContainerRequest(id=managed), metadata=admin)) == (
        grpc.StatusCode.NOT_FOUND
    )

    # streams end at the maximum duration
    cid = await engine.run("sh", "-c", "echo only; exec sleep 600", labels=("team=a",))
    messages = await collect(
        strict.StreamContainerLogs(pb.StreamContainerLogsRequest(id=cid, follow=True), metadata=admin)
    )
    assert [m.line.text for m in messages[:-1]] == ["only"]
    assert (messages[-1].final.reason, messages[-1].final.lines) == (pb.LOGS_END_REASON_MAX_DURATION, 1)
    stats = await collect(strict.StreamContainerStats(pb.StreamContainerStatsRequest(id=cid), metadata=admin))
    assert stats[-1].final.reason == pb.STATS_END_REASON_MAX_DURATION
    assert open_streams("logs") == open_streams("stats") == 0
