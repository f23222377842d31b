"""Docker Manager use cases. Every container reference is resolved to a full id
among the visible containers (the label allow-list) before anything touches
it, so a container outside the list is NOT_FOUND by id, name and prefix alike.
Actions that change the engine are recorded as audit events through the unit
of work after the engine confirmed them (the engine cannot join a transaction)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Protocol

from servers.containers.domain import (
    Container,
    ContainerDeleted,
    ContainerRestarted,
    ContainerStarted,
    ContainerStopped,
    DaemonInfo,
    Image,
    ImagePulled,
    LabelFilter,
    ListQuery,
    LogLine,
    LogsQuery,
    PullDone,
    PullProgress,
    Stats,
    StreamEnd,
    check_registry,
    image_reference,
    resolve,
    select,
)
from servers.platform.errors import NotFound, StateConflict, Unavailable
from servers.platform.paging import Page, PageRequest
from servers.platform.uow import UnitOfWork


class Engine(Protocol):
    """The Docker Engine (servers.containers.engine.DockerEngine)."""

    async def ping(self) -> str: ...
    async def info(self) -> DaemonInfo: ...
    async def containers(self, label: LabelFilter | None) -> list[Container]: ...
    async def inspect(self, container_id: str) -> Container: ...
    async def start(self, container_id: str) -> None: ...
    async def stop(self, container_id: str, timeout_seconds: int | None) -> None: ...
    async def restart(self, container_id: str, timeout_seconds: int | None) -> None: ...
    async def remove(self, container_id: str, force: bool, volumes: bool) -> None: ...
    def logs(self, container_id: str, query: LogsQuery, tty: bool) -> AsyncGenerator[list[LogLine], None]: ...
    async def stats(self, container_id: str) -> Stats: ...
    def stats_stream(self, container_id: str) -> AsyncGenerator[Stats, None]: ...
    async def images(self, all: bool, reference: str) -> list[Image]: ...
    async def image(self, reference: str) -> Image: ...
    def pull(
        self, repository: str, tag: str, digest: str, platform: str
    ) -> AsyncGenerator[PullProgress, None]: ...


class ContainerUseCases:
    def __init__(
        self,
        engine: Engine,
        uow: UnitOfWork[None],
        *,
        label: LabelFilter | None,
        registries: frozenset[str] = frozenset(),
        max_stream_seconds: float = 3600.0,
    ):
        self._engine = engine
        self._uow = uow
        self._label = label
        self._registries = registries
        self._max_stream_seconds = max_stream_seconds

    def _visible(self, c: Container) -> bool:
        return self._label is None or self._label.admits(c.labels)

    async def _containers(self) -> list[Container]:
        return [c for c in await self._engine.containers(self._label) if self._visible(c)]

    async def _resolve(self, reference: str) -> Container:
        """The inspected container `reference` names, if visible."""
        container = await self._engine.inspect(resolve(reference, await self._containers()).id)
        if not self._visible(container):  # labels are immutable, but the list may be stale
            raise NotFound(f"container {reference!r} not found")
        return container

    async def list_page(self, query: ListQuery) -> Page[Container]:
        return query.page.slice(select(await self._containers(), query))

    async def get(self, reference: str) -> Container:
        return await self._resolve(reference)

    async def start(self, reference: str) -> tuple[Container, str]:
        container = await self._resolve(reference)
        if container.running:
            return container, "already running"
        await self._engine.start(container.id)
        after = await self._engine.inspect(container.id)
        await self._record(ContainerStarted(after))
        return after, "started"

    async def stop(self, reference: str, timeout_seconds: int | None) -> tuple[Container, str]:
        container = await self._resolve(reference)
        if not container.running:
            return container, "already stopped"
        await self._engine.stop(container.id, timeout_seconds)
        after = await self._engine.inspect(container.id)
        await self._record(ContainerStopped(after, timeout_seconds))
        return after, "stopped"

    async def restart(self, reference: str, timeout_seconds: int | None) -> tuple[Container, str]:
        container = await self._resolve(reference)
        await self._engine.restart(container.id, timeout_seconds)
        after = await self._engine.inspect(container.id)
        await self._record(ContainerRestarted(after, timeout_seconds))
        return after, "restarted"

    async def delete(self, reference: str, force: bool, volumes: bool) -> Container:
        container = await self._resolve(reference)
        if container.running and not force:
            raise StateConflict(f"container {container.name} is running; stop it first or set force")
        await self._engine.remove(container.id, force, volumes)
        await self._record(ContainerDeleted(container, force))
        return container

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._max_stream_seconds

    async def logs(self, reference: str, query: LogsQuery) -> AsyncGenerator[LogLine | StreamEnd, None]:
        """The selected lines, then one StreamEnd saying why the stream ended."""
        container = await self._resolve(reference)
        deadline, sent = self._deadline(), 0
        tty = container.details is not None and container.details.tty
        async with contextlib.aclosing(self._engine.logs(container.id, query, tty)) as batches:
            try:
                while True:
                    async with asyncio.timeout_at(deadline):  # around the read only, never a yield
                        batch = await anext(batches, None)
                    if batch is None:
                        break
                    for line in batch:
                        sent += 1
                        yield line
            except TimeoutError:
                yield StreamEnd("max_duration", sent)
                return
        yield StreamEnd("container_stopped" if query.follow else "all_sent", sent)

    async def stats(self, reference: str) -> Stats:
        return await self._engine.stats((await self._running(reference)).id)

    async def stats_stream(self, reference: str) -> AsyncGenerator[Stats | StreamEnd, None]:
        """Samples at the engine's rate, then one StreamEnd: the container
        stopped, or the deadline came."""
        container = await self._running(reference)
        deadline, sent = self._deadline(), 0
        async with contextlib.aclosing(self._engine.stats_stream(container.id)) as samples:
            try:
                while True:
                    async with asyncio.timeout_at(deadline):
                        sample = await anext(samples, None)
                    if sample is None or sample.read_at is None:  # the engine's zero sample: it stopped
                        break
                    sent += 1
                    yield sample
            except TimeoutError:
                yield StreamEnd("max_duration", sent)
                return
        yield StreamEnd("container_stopped", sent)

    async def _running(self, reference: str) -> Container:
        container = await self._resolve(reference)
        if not container.running:
            raise StateConflict(f"container {container.name} is not running ({container.state})")
        return container

    async def images(self, all: bool, reference: str, page: PageRequest) -> Page[Image]:
        found = await self._engine.images(all, reference)
        return page.slice(sorted(found, key=lambda i: (i.created_at, i.id), reverse=True))

    async def pull(
        self, repository: str, tag: str, digest: str, platform: str
    ) -> AsyncGenerator[PullProgress | PullDone, None]:
        """Docker's progress, then PullDone; an error inside the engine's stream
        raises, so a failed pull never looks like a finished one."""
        check_registry(repository, self._registries)
        reference = image_reference(repository, tag, digest)
        last, deadline = "", self._deadline()
        async with contextlib.aclosing(self._engine.pull(repository, tag, digest, platform)) as progress:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):  # a registry that stalls cannot hold it
                        message = await anext(progress, None)
                except TimeoutError:
                    limit = f"{self._max_stream_seconds:g}"
                    raise Unavailable(f"pull of {reference} did not finish within {limit} s") from None
                if message is None:
                    break
                last = message.status
                yield message
        image = await self._engine.image(reference)
        await self._record(ImagePulled(reference, image, last))
        yield PullDone(image, last)

    async def info(self) -> DaemonInfo:
        return replace(await self._engine.info(), label_filter=str(self._label or ""))

    async def ping(self) -> str:
        return await self._engine.ping()

    async def _record(self, event: object) -> None:
        async with self._uow() as tx:
            tx.record(event)
