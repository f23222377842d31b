"""What every provider adapter speaks: prompts in, completions, stream pieces
and vectors out, and one error type the router knows how to retry."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Prompt:
    model: str  # the provider's model name
    messages: Sequence[Message]
    temperature: float | None = None
    max_tokens: int | None = None

    def estimated_input_tokens(self) -> int:
        return sum(estimate_tokens(m.content) for m in self.messages)


@dataclass(frozen=True)
class Usage:
    input: int
    output: int

    @property
    def total(self) -> int:
        return self.input + self.output


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str  # "stop" | "length" | "content_filter"


@dataclass(frozen=True)
class Piece:
    """One streamed piece: text, and on the last one the usage and finish reason
    (usage None when the provider did not report it)."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str = ""


@dataclass(frozen=True)
class Vectors:
    vectors: list[list[float]]
    tokens: int


class ProviderError(Exception):
    """A failed upstream call. `retryable` errors (429, 5xx, timeouts, broken
    connections) may be retried or sent to a fallback; `retry_after` is the
    provider's Retry-After in seconds. The message never contains secrets."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int = 0):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


class Provider(Protocol):
    """An adapter, built with its connection's timeout (connect, and each read);
    the router puts an overall deadline around every call."""

    name: str

    async def complete(self, prompt: Prompt) -> Completion: ...

    def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]: ...

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """About four characters per token (OpenAI's rule of thumb), used where a
    provider reports no counts and to pre-check limits before calling."""
    return math.ceil(len(text) / 4)


def retry_after_seconds(headers: object) -> float | None:
    """Retry-After (seconds or HTTP date) or OpenAI's retry-after-ms, if present."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def http_error(provider: str, status: int, headers: object = None) -> ProviderError:
    """The error for an HTTP status from a provider."""
    retryable = status in (408, 409, 425, 429) or status >= 500
    return ProviderError(
        f"{provider} answered HTTP {status}",
        retryable=retryable,
        retry_after=retry_after_seconds(headers),
        status=status,
    )
