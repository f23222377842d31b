"""A TCP proxy in front of one real dependency (PostgreSQL, Redis) for one server under test:
`cut()` drops every connection through it and refuses new ones, as a dependency that went
away does; `restore()` listens again on the same port. The dependency itself, shared with
every other test and helper, is never touched. Also: a dependency URL rewritten to go through a
proxy, and an in-process server of its own built with such settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def through(url: str, proxy: FaultProxy) -> str:
    """`url` (postgresql://, redis://, amqp://) with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    auth = netloc[0] + netloc[1]
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))


def target(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def start_server(domains: list[str], env: dict[str, str]) -> Any:
    """A started in-process Server of `domains`, built with `env` over the test environment."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    saved = dict(os.environ)
    os.environ.update(env)
    try:  # settings are read from the environment while the server builds
        server = Server([registry.load(name) for name in domains], PlatformSettings())
        await server.start()
        return server
    finally:
        os.environ.clear()
        os.environ.update(saved)


class FaultProxy:
    def __init__(self, target_host: str, target_port: int):
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
