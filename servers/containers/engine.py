"""The Docker Engine API over aiodocker (a maintained asyncio client), at the
DOCKER_HOST from settings. Engine failures become platform errors here:
unreachable -> UNAVAILABLE naming DOCKER_HOST, 404 -> NOT_FOUND, 409 ->
FAILED_PRECONDITION, and an error inside a pull's 200 progress stream -> an
error status rather than a silent success (docker-py #2286)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError, DockerStreamError
from aiodocker.utils import clean_filters
from prometheus_client import Gauge

from servers.containers import docker_json
from servers.containers.domain import (
    STDOUT,
    Container,
    DaemonInfo,
    Image,
    LabelFilter,
    LogLine,
    LogsQuery,
    PullProgress,
    Stats,
)
from servers.containers.frames import FrameParser, LineSplitter
from servers.containers.stats import stats_of
from servers.platform.errors import AetherError, InvalidArgument, NotFound, StateConflict, Unavailable

# Engine streams (logs, stats, pulls) open right now: back to its value after
# every stream, whether it ended, failed or was cancelled by the client.
OPEN_STREAMS = Gauge("aether_containers_open_streams", "Docker engine streams open", ["kind"])

UNREACHABLE = 900  # aiodocker's status for a connection that could not be made
RETRY_SECONDS = 2.0
_MISSING = re.compile(r"not found|manifest unknown|no such|denied|unauthorized|repository does not exist")
# Infinite per-request timeout for streams: their length is bounded by the use case's deadline.
_STREAMING = aiohttp.ClientTimeout(total=None, sock_read=None)


class DockerEngine:
    def __init__(self, docker_host: str, request_timeout_seconds: float = 30.0):
        self.docker_host = docker_host
        self._docker = aiodocker.Docker(
            url=docker_host, timeout=aiohttp.ClientTimeout(total=request_timeout_seconds)
        )

    async def close(self) -> None:
        await self._docker.close()

    @contextlib.contextmanager
    def _errors(self, what: str, refused: type[AetherError] = Unavailable) -> Iterator[None]:
        """`refused`: what an engine-side 5xx means for this call (a start the
        engine cannot do is FAILED_PRECONDITION, not an outage)."""
        try:
            yield
        except DockerStreamError as e:
            raise self._stream_error(what, e.message) from e
        except DockerError as e:
            error = self._error(what, e)
            if 500 <= e.status < UNREACHABLE and isinstance(error, Unavailable):
                error = refused(f"{what}: {e.message}")
            raise error from e
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise self._unreachable(f"{type(e).__name__}: {e}") from e

    def _unreachable(self, why: str) -> Unavailable:
        return Unavailable(
            f"Docker engine at DOCKER_HOST={self.docker_host} is unreachable ({why})", RETRY_SECONDS
        )

    def _error(self, what: str, e: DockerError) -> AetherError:
        if e.status == UNREACHABLE:
            return self._unreachable(e.message.rsplit("[", 1)[-1].rstrip("]"))
        if e.status == 404:
            return NotFound(f"{what}: {e.message}")
        if e.status == 409:
            return StateConflict(f"{what}: {e.message}")
        if e.status == 400:
            return InvalidArgument(f"{what}: {e.message}")
        if _MISSING.search(e.message):
            return NotFound(f"{what}: {e.message}")
        return Unavailable(f"{what}: Docker answered {e.status}: {e.message}", RETRY_SECONDS)

    @staticmethod
    def _stream_error(what: str, message: str) -> AetherError:
        if _MISSING.search(message):
            return NotFound(f"{what}: {message}")
        return Unavailable(f"{what} failed: {message}", RETRY_SECONDS)

    async def ping(self) -> str:
        with self._errors("ping"):
            async with self._docker._query("_ping", versioned_api=False) as response:
                await response.read()
                return response.headers.get("API-Version", "")

    async def info(self) -> DaemonInfo:
        with self._errors("daemon info"):
            version = await self._docker.version()
            return docker_json.info_of(dict(await self._docker.system.info()), version.get("ApiVersion", ""))

    async def containers(self, label: LabelFilter | None) -> list[Container]:
        """Every container (any state), only those with the label if one is given:
        the engine filters, and the caller checks again."""
        filters = {"filters": clean_filters({"label": [str(label)]})} if label else {}
        with self._errors("list containers"):
            found = await self._docker.containers.list(all=True, **filters)
        # aiodocker keeps each list entry's JSON as the container object's state
        return [docker_json.container_of_summary(c._container) for c in found]

    async def inspect(self, container_id: str) -> Container:
        with self._errors(f"container {container_id[:12]}"):
            return docker_json.container_of_inspect(
                await self._docker.containers.container(container_id).show()
            )

    async def start(self, container_id: str) -> None:
        with self._errors(f"start {container_id[:12]}", refused=StateConflict):
            await self._docker.containers.container(container_id).start()

    async def stop(self, container_id: str, timeout_seconds: int | None) -> None:
        with self._errors(f"stop {container_id[:12]}"):
            await self._docker.containers.container(container_id).stop(t=timeout_seconds, timeout=None)

    async def restart(self, container_id: str, timeout_seconds: int | None) -> None:
        with self._errors(f"restart {container_id[:12]}", refused=StateConflict):
            await self._docker.containers.container(container_id).restart(t=timeout_seconds, timeout=None)

    async def remove(self, container_id: str, force: bool, volumes: bool) -> None:
        with self._errors(f"remove {container_id[:12]}"):
            await self._docker.containers.container(container_id).delete(force=force, v=volumes)

    async def logs(
        self, container_id: str, query: LogsQuery, tty: bool
    ) -> AsyncGenerator[list[LogLine], None]:
        """The log's lines, in batches of what each read from the engine completed."""
        params: dict[str, Any] = {
            "stdout": query.stdout,
            "stderr": query.stderr,
            "follow": query.follow,
            "timestamps": query.timestamps,
            "tail": str(query.tail) if query.tail or query.follow else "0",
        }
        if query.since:
            params["since"] = f"{query.since.timestamp():.9f}"
        if query.until and not query.follow:
            params["until"] = f"{query.until.timestamp():.9f}"
        frames, lines = FrameParser(), LineSplitter(query.timestamps)
        with OPEN_STREAMS.labels("logs").track_inprogress(), self._errors(f"logs of {container_id[:12]}"):
            path = f"containers/{container_id}/logs"
            async with self._docker._query(path, params=params, timeout=_STREAMING) as response:
                while data := await response.content.readany():
                    parts = [(STDOUT, data)] if tty else frames.feed(data)  # a TTY's log is one raw stream
                    if batch := [line for stream, chunk in parts for line in lines.feed(stream, chunk)]:
                        yield batch
            frames.close()
            if rest := lines.flush():
                yield rest

    async def stats(self, container_id: str) -> Stats:
        with self._errors(f"stats of {container_id[:12]}"):
            samples = await self._docker.containers.container(container_id).stats(stream=False)
        if not samples:
            raise Unavailable(f"Docker sent no stats for {container_id[:12]}", RETRY_SECONDS)
        return stats_of(samples[0], container_id)

    async def stats_stream(self, container_id: str) -> AsyncGenerator[Stats, None]:
        with OPEN_STREAMS.labels("stats").track_inprogress(), self._errors(f"stats of {container_id[:12]}"):
            samples = self._docker.containers.container(container_id).stats(stream=True, timeout=_STREAMING)
            async with contextlib.aclosing(samples):  # type: ignore[type-var]  # a generator, typed AsyncIterator
                async for sample in samples:
                    yield stats_of(sample, container_id)

    async def images(self, all: bool, reference: str) -> list[Image]:
        with self._errors("list images"):
            found = await self._docker.images.list(
                all=all, filters={"reference": [reference]} if reference else None
            )
        return [docker_json.image_of(i) for i in found]

    async def image(self, reference: str) -> Image:
        with self._errors(f"image {reference}"):
            return docker_json.image_of(await self._docker.images.inspect(reference))

    async def pull(
        self, repository: str, tag: str, digest: str, platform: str
    ) -> AsyncGenerator[PullProgress, None]:
        """Docker's progress messages; raises on an error inside the stream."""
        reference = f"{repository}@{digest}" if digest else repository
        with OPEN_STREAMS.labels("pull").track_inprogress(), self._errors(f"pull of {reference}"):
            progress = self._docker.images.pull(
                reference,
                tag=None if digest else (tag or "latest"),
                platform=platform or None,
                stream=True,
                timeout=None,
            )
            async with contextlib.aclosing(progress):  # type: ignore[type-var]  # a generator, typed AsyncIterator
                async for message in progress:
                    detail = message.get("progressDetail") or {}
                    yield PullProgress(
                        status=str(message.get("status", "")),
                        layer_id=str(message.get("id", "")),
                        current_bytes=int(detail.get("current", 0)),
                        total_bytes=int(detail.get("total", 0)),
                    )
