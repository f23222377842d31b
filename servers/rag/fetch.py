"""Server-side URL fetching that cannot be pointed at the inside (SSRF).

- http and https only; credentials in the URL refused.
- Every address a name resolves to is checked *at connect time*: aiohttp
  connects only to what our resolver returns, and the resolver refuses the
  name if any of its addresses is not public (servers/rag/addresses.py). IP
  literals, which aiohttp does not resolve, are checked before the request.
  Other spellings of addresses (2130706433, 0x7f000001, 0177.0.0.1) go through
  the resolver like names, so they are checked as the address they mean.
- Redirects are followed by hand, at most `max_redirects`, each target
  checked the same way; size and time caps; a content-type allow-list.
- `allow_hosts` ("host:port" exactly as in the URL) exempts test servers from
  the address check; off by default, and RagSettings refuses it in production.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from servers.platform.errors import FieldViolation, InvalidArgument, Unavailable
from servers.rag.addresses import blocked_reason, ip_literal, legacy_ipv4

ALLOWED_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "application/pdf": "pdf",
}
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    kind: str  # "html", "text", "markdown" or "pdf"
    body: bytes
    charset: str


class Blocked(OSError):
    """The destination is not allowed; raised inside the connector."""


def _refused(url: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"the URL is not allowed: {why}", [FieldViolation("url", f"{url}: {why}")])


class GuardedResolver(AbstractResolver):
    """Resolves like the system does, then refuses the name unless every
    address is public (or the host:port is on the test allow-list)."""

    def __init__(self, allow_hosts: frozenset[str]):
        self._inner = aiohttp.ThreadedResolver()
        self._allow = allow_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if f"{host.rstrip('.')}:{port}" in self._allow:
            return results
        for result in results:
            reason = blocked_reason(result["host"])
            if reason:
                raise Blocked(f"{host} resolves to {result['host']}, {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class UrlFetcher:
    def __init__(
        self,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        timeout_seconds: float = 30.0,
        max_redirects: int = 5,
        allow_hosts: frozenset[str] = frozenset(),
    ):
        self._max_bytes = max_bytes
        self._timeout = timeout_seconds
        self._max_redirects = max_redirects
        self._allow = allow_hosts

    def check(self, url: URL) -> None:
        """What can be judged before connecting: scheme, credentials, IP literals."""
        if url.scheme not in ("http", "https") or not url.host:
            raise _refused(str(url), "only http and https URLs with a host")
        if url.user or url.password:
            raise _refused(str(url), "credentials in URLs are not accepted")
        if f"{url.host}:{url.port}" in self._allow:
            return
        legacy = legacy_ipv4(url.host)
        if legacy is not None:  # refused whatever it means: no one writes a public address so
            reason = blocked_reason(legacy)
            raise _refused(
                str(url), f"{url.host} is {legacy} spelled unusually" + (f", {reason}" if reason else "")
            )
        literal = ip_literal(url.host)
        if literal is not None:
            reason = blocked_reason(literal)
            if reason:
                raise _refused(str(url), f"{literal} is {reason}")

    async def fetch(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._fetch(URL(url, encoded=False))
        except TimeoutError:
            raise InvalidArgument(
                "the URL took too long",
                [FieldViolation("url", f"no complete answer within {self._timeout:g} s")],
            ) from None

    async def _fetch(self, url: URL) -> Fetched:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allow), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            for _ in range(self._max_redirects + 1):
                self.check(url)
                try:
                    async with session.get(url, allow_redirects=False) as response:
                        if response.status in _REDIRECTS and "Location" in response.headers:
                            url = url.join(URL(response.headers["Location"]))
                            continue
                        return await self._read(url, response)
                except aiohttp.ClientConnectorError as error:
                    if isinstance(error.os_error, Blocked):
                        raise _refused(str(url), str(error.os_error)) from None
                    raise Unavailable(f"the URL cannot be reached: {error.os_error}") from None
                except aiohttp.ClientError as error:
                    raise Unavailable(f"the URL cannot be fetched: {error}") from None
        raise _refused(str(url), f"more than {self._max_redirects} redirects")

    async def _read(self, url: URL, response: Any) -> Fetched:
        if not 200 <= response.status < 300:
            raise InvalidArgument(
                "the URL answered with an error",
                [FieldViolation("url", f"{url} answered HTTP {response.status}")],
            )
        kind = ALLOWED_TYPES.get(response.content_type)
        if kind is None:
            raise InvalidArgument(
                "unsupported content type",
                [
                    FieldViolation(
                        "url", f"{response.content_type or 'none'}: not HTML, text, markdown or PDF"
                    )
                ],
            )
        too_large = InvalidArgument(
            "the URL's content is too large",
            [FieldViolation("url", f"larger than {self._max_bytes} bytes")],
        )
        if (response.content_length or 0) > self._max_bytes:
            raise too_large
        body = bytearray()
        async for piece in response.content.iter_chunked(64 * 1024):
            body.extend(piece)
            if len(body) > self._max_bytes:
                raise too_large
        return Fetched(str(url), kind, bytes(body), response.charset or "utf-8")
