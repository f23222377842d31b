"""The Docker Manager's use cases with an in-memory engine and InMemoryUnitOfWork:
the allow-list holds even if the engine ignores its filter, audit events only
for real changes, and every stream ends (deadline, close) with the engine's
stream closed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from servers.containers.domain import (
    RUNNING,
    Container,
    ContainerDeleted,
    ContainerStarted,
    ContainerStopped,
    Image,
    LabelFilter,
    LogLine,
    LogsQuery,
    PullProgress,
    Stats,
    StreamEnd,
)
from servers.containers.usecases import ContainerUseCases
from servers.platform.errors import FailedPrecondition, NotFound, Unavailable
from servers.platform.uow import InMemoryUnitOfWork

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MANAGED = {"aether.managed": "true"}


class FakeEngine:
    """Containers in a dict; it ignores the label filter (the use cases must not rely on it)."""

    def __init__(self, *containers: Container):
        self.by_id = {c.id: c for c in containers}
        self.actions: list[tuple[str, str]] = []
        self.open_streams = 0
        self.lines: list[LogLine] = []
        self.hang = False  # streams wait forever after their items
        self.pull_error: Exception | None = None

    async def containers(self, label: LabelFilter | None) -> list[Container]:
        return list(self.by_id.values())

    async def inspect(self, container_id: str) -> Container:
        if container_id not in self.by_id:
            raise NotFound("gone")
        return self.by_id[container_id]

    def _set(self, container_id: str, state: str, action: str) -> None:
        self.actions.append((action, container_id))
        self.by_id[container_id] = replace(self.by_id[container_id], state=state)

    async def start(self, container_id: str) -> None:
        self._set(container_id, RUNNING, "start")

    async def stop(self, container_id: str, timeout_seconds: int | None) -> None:
        self._set(container_id, "exited", "stop")

    async def restart(self, container_id: str, timeout_seconds: int | None) -> None:
        self._set(container_id, RUNNING, "restart")

    async def remove(self, container_id: str, force: bool, volumes: bool) -> None:
        self.actions.append(("remove", container_id))
        del self.by_id[container_id]

    async def _stream(self, items: list[object]) -> AsyncGenerator[object, None]:
        self.open_streams += 1
        try:
            for item in items:
                yield item
            if self.hang:
                await asyncio.Event().wait()
        finally:
            self.open_streams -= 1

    def logs(self, container_id: str, query: LogsQuery, tty: bool) -> AsyncGenerator[list[LogLine], None]:
        return self._stream([[line] for line in self.lines])  # type: ignore[return-value]

    def stats_stream(self, container_id: str) -> AsyncGenerator[Stats, None]:
        sample = Stats(container_id, "web", T0, 1.0, 1, 1, 2, 50.0, 0, 0, 0, 0, 1)
        return self._stream([sample, sample])  # type: ignore[return-value]

    async def stats(self, container_id: str) -> Stats:
        raise AssertionError("not used")

    async def pull(
        self, repository: str, tag: str, digest: str, platform: str
    ) -> AsyncGenerator[PullProgress, None]:
        yield PullProgress("Pulling fs layer", "abc")
        if self.pull_error:
            raise self.pull_error
        if self.hang:
            await asyncio.Event().wait()
        yield PullProgress("Status: Downloaded newer image")

    async def image(self, reference: str) -> Image:
        return Image("sha256:i", (reference,), (), 1, T0, -1, {})

    async def images(self, all: bool, reference: str) -> list[Image]:
        return []

    async def info(self) -> object:
        raise AssertionError("not used")

    async def ping(self) -> str:
        return "1.41"


def container(cid: str, name: str, state: str = RUNNING, labels: dict[str, str] = MANAGED) -> Container:
    return Container(cid * 8, name, "busybox", "sha256:b", "sh", state, "", T0, labels=labels)


def make(engine: FakeEngine, **kw: object) -> tuple[ContainerUseCases, InMemoryUnitOfWork[None]]:
    uow: InMemoryUnitOfWork[None] = InMemoryUnitOfWork(None)
    kw.setdefault("label", LabelFilter.parse("aether.managed=true"))
    return ContainerUseCases(engine, uow, **kw), uow  # type: ignore[arg-type]


async def test_outside_containers_are_not_found_even_if_the_engine_lists_them() -> None:
    inside, outside = container("a1", "web"), container("b2", "db", labels={})
    engine = FakeEngine(inside, outside)
    uc, uow = make(engine)
    for reference in (outside.id, "db", "b2b2"):
        for action in (uc.get(reference), uc.start(reference), uc.delete(reference, True, False)):
            with pytest.raises(NotFound):
                await action
    assert engine.actions == [] and uow.committed == []
    assert (await uc.get("a1")).id == inside.id
    everything, _ = make(engine, label=None)
    assert (await everything.get("db")).id == outside.id


async def test_only_real_changes_are_audited() -> None:
    engine = FakeEngine(container("a1", "web"))
    uc, uow = make(engine)
    assert (await uc.start("web"))[1] == "already running"
    after, message = await uc.stop("web", 3)
    assert (after.state, message) == ("exited", "stopped")
    assert (await uc.stop("web", None))[1] == "already stopped"
    await uc.start("a1a1")
    assert uow.committed == [ContainerStopped(after, 3), ContainerStarted(engine.by_id["a1" * 8])]


async def test_removing_a_running_container_needs_force() -> None:
    engine = FakeEngine(container("a1", "web"))
    uc, uow = make(engine)
    with pytest.raises(FailedPrecondition, match="running"):
        await uc.delete("web", force=False, volumes=False)
    assert engine.actions == [] and uow.committed == []
    removed = await uc.delete("web", force=True, volumes=False)
    assert uow.committed == [ContainerDeleted(removed, True)] and engine.by_id == {}


async def test_logs_end_with_a_reason_and_close_the_engine_stream() -> None:
    engine = FakeEngine(container("a1", "web"))
    engine.lines = [LogLine("stdout", "one"), LogLine("stderr", "two")]
    uc, _ = make(engine, max_stream_seconds=0.2)
    items = [item async for item in uc.logs("web", LogsQuery())]
    assert items[-1] == StreamEnd("all_sent", 2)
    items = [item async for item in uc.logs("web", LogsQuery(follow=True))]
    assert items[-1] == StreamEnd("container_stopped", 2)
    engine.hang = True  # the container keeps running and writes nothing more
    items = [item async for item in uc.logs("web", LogsQuery(follow=True))]
    assert items[-1] == StreamEnd("max_duration", 2) and engine.open_streams == 0


async def test_a_client_that_goes_away_closes_the_engine_stream() -> None:
    engine = FakeEngine(container("a1", "web"))
    engine.lines, engine.hang = [LogLine("stdout", "one")], True
    uc, _ = make(engine)
    async with contextlib.aclosing(uc.logs("web", LogsQuery(follow=True))) as stream:
        assert await anext(stream) == LogLine("stdout", "one")
        assert engine.open_streams == 1
    assert engine.open_streams == 0


async def test_stats_stream_needs_a_running_container_and_ends() -> None:
    engine = FakeEngine(container("a1", "web"), container("b2", "old", "exited"))
    uc, _ = make(engine, max_stream_seconds=0.2)
    with pytest.raises(FailedPrecondition, match="not running"):
        await anext(uc.stats_stream("old"))
    items = [item async for item in uc.stats_stream("web")]
    assert items[-1] == StreamEnd("container_stopped", 2)
    engine.hang = True
    items = [item async for item in uc.stats_stream("web")]
    assert items[-1] == StreamEnd("max_duration", 2) and engine.open_streams == 0


async def test_a_pull_that_fails_in_the_stream_is_an_error_and_not_audited() -> None:
    engine = FakeEngine()
    uc, uow = make(engine)
    done = [item async for item in uc.pull("127.0.0.1:5000/app", "", "", "")]
    assert done[-1].image.repo_tags == ("127.0.0.1:5000/app:latest",)  # type: ignore[union-attr]
    assert len(uow.committed) == 1
    engine.pull_error = Unavailable("pull of app failed: unknown blob")
    received = []
    with pytest.raises(Unavailable, match="unknown blob"):
        async for item in uc.pull("127.0.0.1:5000/app", "1", "", ""):
            received.append(item)
    assert received == [PullProgress("Pulling fs layer", "abc")] and len(uow.committed) == 1


async def test_a_pull_that_stalls_ends_at_the_deadline() -> None:
    engine = FakeEngine()
    engine.hang = True
    uc, uow = make(engine, max_stream_seconds=0.2)
    with pytest.raises(Unavailable, match="did not finish within 0.2 s"):
        async for _ in uc.pull("app", "", "", ""):
            pass
    assert uow.committed == []
