"""One HTTP client per provider, bound to the provider's configured API base.

It never leaves that base: a path is joined to it, and an absolute URL (a
GitHub `Link: rel="next"`) is followed only if it lies under it. Redirects
are not followed. Rate limits are honoured the way each provider documents
them: 429 with `Retry-After` (GitHub, Slack) or a JSON `retry_after` (Discord),
GitHub's `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`, and Discord's
per-route buckets (`X-RateLimit-Bucket`, `-Remaining`, `-Reset-After`), whose
exhaustion makes the next call on that route wait. Short waits are slept and
retried; longer ones, or the last attempt, become RESOURCE_EXHAUSTED with
RetryInfo. 5xx and connection failures are retried with backoff, then UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from servers.platform.errors import FailedPrecondition, RateLimited, Unavailable

BACKOFF_SECONDS = 0.2


class CredentialsRejected(FailedPrecondition):
    """The provider refused the credentials (401): the integration needs new ones."""


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class ProviderHttp:
    def __init__(
        self,
        title: str,
        base_url: str,
        *,
        reason_of: Callable[[httpx.Response], str],
        max_attempts: int = 3,
        max_wait_seconds: float = 5.0,
        timeout_seconds: float = 10.0,
    ):
        self.title = title
        self.base = base_url.rstrip("/")
        self._reason_of = reason_of
        self._attempts = max_attempts
        self._max_wait = max_wait_seconds
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)
        self._route_resume: dict[str, float] = {}  # Discord buckets: route -> monotonic resume time

    async def close(self) -> None:
        await self._client.aclose()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not path_or_url.startswith(self.base + "/"):
                raise Unavailable(f"{self.title} pointed outside its configured API base")
            return path_or_url
        return self.base + "/" + path_or_url.lstrip("/")

    async def request(
        self, method: str, path_or_url: str, *, route: str = "", **kwargs: Any
    ) -> httpx.Response:
        """The provider's successful response, after the retries its limits allow."""
        url = self.url(path_or_url)
        route = route or f"{method} {path_or_url.split('?')[0]}"
        for attempt in range(1, self._attempts + 1):
            await self._wait_for_bucket(route)
            try:
                response = await self._client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == self._attempts:
                    raise Unavailable(f"{self.title} cannot be reached: {type(exc).__name__}") from exc
                await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                continue
            self._note_bucket(route, response)
            wait = self._rate_limit_wait(response)
            if wait is not None:
                if attempt == self._attempts or wait > self._max_wait:
                    raise RateLimited(f"{self.title} rate limit: {self._reason_of(response)}", wait)
                await asyncio.sleep(wait)
                continue
            if response.status_code >= 500:
                if attempt == self._attempts:
                    raise Unavailable(f"{self.title} failed: {self._reason_of(response)}")
                await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                continue
            if response.status_code == 401:
                raise CredentialsRejected(
                    f"{self.title} rejected the credentials: {self._reason_of(response)}"
                )
            if response.status_code >= 400:
                raise FailedPrecondition(f"{self.title} refused: {self._reason_of(response)}")
            return response
        raise AssertionError("unreachable")

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        headers = response.headers
        if response.status_code == 429:
            retry_after = _seconds(headers.get("retry-after"))
            if retry_after is None:
                try:
                    retry_after = _seconds(str(response.json().get("retry_after")))
                except ValueError:
                    retry_after = None
            return 1.0 if retry_after is None else retry_after
        if response.status_code == 403 and headers.get("x-ratelimit-remaining") == "0":
            reset = _seconds(headers.get("x-ratelimit-reset"))  # GitHub: epoch seconds
            return max(0.0, (reset or time.time() + 60) - time.time())
        return None

    def _note_bucket(self, route: str, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset_after = _seconds(response.headers.get("x-ratelimit-reset-after"))
        if remaining == "0" and reset_after is not None:
            self._route_resume[route] = time.monotonic() + reset_after

    async def _wait_for_bucket(self, route: str) -> None:
        resume = self._route_resume.pop(route, None)
        if resume is None:
            return
        wait = resume - time.monotonic()
        if wait > self._max_wait:
            self._route_resume[route] = resume
            raise RateLimited(f"{self.title} rate limit: bucket exhausted", wait)
        if wait > 0:
            await asyncio.sleep(wait)
