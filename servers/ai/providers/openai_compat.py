"""OpenAI's Chat Completions protocol (JSON, and server-sent events for
streams): OpenAI itself, Groq, Hugging Face's router and any OpenAI-compatible
server (vLLM, LM Studio).

Spoken over one pooled aiohttp session rather than the official SDK: the SDK
costs about 2.2 ms of CPU per call on this hardware (request transforms,
pydantic models, httpx), aiohttp about 0.2 ms, and that CPU is the gateway's
added latency under load (benchmarks/README.md). The wire format is small and
stable; tests/unit/test_fake_ai_providers.py holds the fake provider to the
official SDK, and the gateway's tests hold this adapter to the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp

from servers.ai.providers.base import (
    Completion,
    Piece,
    Prompt,
    ProviderError,
    Usage,
    Vectors,
    estimate_tokens,
    http_error,
)

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}
_MAX_LINE = 2**20
# Connections kept per provider: more than the concurrency one gateway process serves.
_POOL_SIZE = 512


class OpenAICompatible:
    def __init__(self, name: str, base_url: str, api_key: str, timeout: float):
        self.name = name
        self._base = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key or 'none'}", "accept": "application/json"}
        # Connect, and each read (a stream's next event included); the router
        # puts the request's deadline around the whole call.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_POOL_SIZE),
                timeout=self._timeout,
                headers=self._headers,
                trust_env=False,  # no proxy settings from the environment
            )
        return self._session

    @asynccontextmanager
    async def _post(self, path: str, body: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        # No redirects: a provider must not be able to send our key elsewhere.
        async with self._client().post(self._base + path, json=body, allow_redirects=False) as response:
            if response.status >= 300:
                raise http_error(self.name, response.status, response.headers)
            try:
                yield response
            except BaseException:
                response.close()  # drop the connection: the provider sees the caller leave
                raise

    async def _json(self, response: aiohttp.ClientResponse) -> Any:
        try:
            return json.loads(await response.read())
        except ValueError as error:
            raise ProviderError(f"{self.name} sent a malformed reply", retryable=True) from error

    def _chat_body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": prompt.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        }
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        if prompt.max_tokens:
            body["max_tokens"] = prompt.max_tokens
        return body

    async def complete(self, prompt: Prompt) -> Completion:
        with self._errors():
            async with self._post("/chat/completions", self._chat_body(prompt)) as response:
                reply = await self._json(response)
            try:
                choice = reply["choices"][0]
                text = choice["message"].get("content") or ""
                finish = choice.get("finish_reason") or "stop"
                usage = _usage(reply.get("usage"))
            except (KeyError, IndexError, TypeError, AttributeError) as error:
                raise ProviderError(f"{self.name} sent a malformed reply", retryable=True) from error
        counted = usage or Usage(prompt.estimated_input_tokens(), estimate_tokens(text))
        return Completion(text, counted, _FINISH.get(finish, "stop"))

    async def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]:
        body = self._chat_body(prompt) | {"stream": True, "stream_options": {"include_usage": True}}
        finish = "stop"
        usage: Usage | None = None
        with self._errors():
            async with self._post("/chat/completions", body) as response:
                async for chunk in self._events(response):
                    try:
                        usage = _usage(chunk.get("usage")) or usage
                        for choice in chunk.get("choices") or ():
                            if choice.get("finish_reason"):
                                finish = _FINISH.get(choice["finish_reason"], "stop")
                            content = (choice.get("delta") or {}).get("content")
                            if content:
                                yield Piece(content)
                    except (KeyError, TypeError, AttributeError) as error:
                        raise ProviderError(f"{self.name} sent a malformed event", retryable=True) from error
        yield Piece(usage=usage, finish_reason=finish)

    async def _events(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        """The JSON payload of each server-sent event, until `data: [DONE]`; a
        stream that ends without it was cut off."""
        data: list[str] = []
        async for line in _lines(response, self.name):
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line or not data:  # other fields and comments; blank lines between events
                continue
            payload, data = "\n".join(data), []
            if payload == "[DONE]":
                return
            try:
                event = json.loads(payload)
            except ValueError as error:
                raise ProviderError(f"{self.name} sent a malformed event", retryable=True) from error
            if not isinstance(event, dict):
                raise ProviderError(f"{self.name} sent a malformed event", retryable=True)
            if "error" in event:  # OpenAI reports failures after the headers this way
                raise ProviderError(f"{self.name} reported an error mid-stream", retryable=True)
            yield event
        raise ProviderError(f"{self.name} ended the stream early", retryable=True)

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors:
        with self._errors():
            body = {"model": model, "input": list(texts), "encoding_format": "float"}
            async with self._post("/embeddings", body) as response:
                reply = await self._json(response)
            try:
                ordered = sorted(reply["data"], key=lambda d: d["index"])
                vectors = [[float(x) for x in d["embedding"]] for d in ordered]
                usage = reply.get("usage") or {}
                tokens = int(usage.get("prompt_tokens") or sum(map(estimate_tokens, texts)))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise ProviderError(f"{self.name} sent malformed embeddings", retryable=True) from error
        if len(vectors) != len(texts):
            raise ProviderError(
                f"{self.name} sent {len(vectors)} vectors for {len(texts)} texts", retryable=True
            )
        return Vectors(vectors, tokens)

    async def ping(self) -> bool:
        try:
            with self._errors():
                async with self._client().get(self._base + "/models", allow_redirects=False) as response:
                    status = response.status
        except ProviderError:
            return False
        # Reachable, and not refusing our key (a 404 still proves the server answers).
        return status not in (401, 403) and status < 500

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """aiohttp's exceptions as ProviderError (no secrets, no URLs)."""
        try:
            yield
        except TimeoutError as error:  # aiohttp's ServerTimeoutError too
            raise ProviderError(f"{self.name} timed out", retryable=True) from error
        except aiohttp.ClientPayloadError as error:
            raise ProviderError(f"{self.name} broke off its reply", retryable=True) from error
        except (aiohttp.ClientError, UnicodeDecodeError) as error:
            raise ProviderError(f"{self.name} unreachable or off-protocol", retryable=True) from error


async def _lines(response: aiohttp.ClientResponse, provider: str) -> AsyncIterator[str]:
    """The body's lines. Read with iter_any rather than line by line: once the
    connection drops, aiohttp's next read raises and discards what is still
    buffered, and the events a provider sent just before breaking off must
    still reach the client."""
    pending = b""
    async for data in response.content.iter_any():
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode()
        if len(pending) > _MAX_LINE:
            raise ProviderError(f"{provider} sent a stream line over {_MAX_LINE} bytes", retryable=True)
    if pending:
        yield pending.rstrip(b"\r").decode()


def _usage(reported: Any) -> Usage | None:
    if not reported:
        return None
    return Usage(int(reported["prompt_tokens"]), int(reported.get("completion_tokens") or 0))
