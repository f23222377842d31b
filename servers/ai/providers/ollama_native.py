"""Ollama's native API (NDJSON streaming, /api/embed) through the official client."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import ollama

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


class Ollama:
    name = "ollama"

    def __init__(self, base_url: str, timeout: float):
        self._client = ollama.AsyncClient(host=base_url, timeout=httpx.Timeout(timeout))

    def _args(self, prompt: Prompt) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if prompt.temperature is not None:
            options["temperature"] = prompt.temperature
        if prompt.max_tokens:
            options["num_predict"] = prompt.max_tokens
        return {
            "model": prompt.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
            "options": options,
        }

    def _usage(self, prompt: Prompt, reply: Any, text: str) -> Usage:
        prompt_tokens = reply.prompt_eval_count
        output_tokens = reply.eval_count
        return Usage(
            prompt_tokens if prompt_tokens is not None else prompt.estimated_input_tokens(),
            output_tokens if output_tokens is not None else estimate_tokens(text),
        )

    async def complete(self, prompt: Prompt) -> Completion:
        with _errors():
            reply = await self._client.chat(**self._args(prompt), stream=False)
        text = reply.message.content or ""
        return Completion(text, self._usage(prompt, reply, text), _finish(reply.done_reason))

    async def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]:
        text: list[str] = []
        with _errors():
            async for part in await self._client.chat(**self._args(prompt), stream=True):
                if part.message and part.message.content:
                    text.append(part.message.content)
                    yield Piece(part.message.content)
                if part.done:
                    yield Piece(
                        usage=self._usage(prompt, part, "".join(text)),
                        finish_reason=_finish(part.done_reason),
                    )
                    return
        raise ProviderError("ollama ended the stream without its final message", retryable=True)

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors:
        with _errors():
            reply = await self._client.embed(model=model, input=list(texts))
        tokens = reply.prompt_eval_count or sum(map(estimate_tokens, texts))
        return Vectors([list(v) for v in reply.embeddings], tokens)

    async def ping(self) -> bool:
        try:
            with _errors():
                await self._client.list()
        except ProviderError:
            return False
        return True

    async def close(self) -> None:
        await self._client.close()


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except ollama.ResponseError as error:
        raise http_error("ollama", error.status_code) from error
    except httpx.TimeoutException as error:
        raise ProviderError("ollama timed out", retryable=True) from error
    except (ConnectionError, httpx.TransportError) as error:
        raise ProviderError("ollama is unreachable", retryable=True) from error
    except Exception as error:  # e.g. a body that is not Ollama's JSON
        raise ProviderError(f"ollama call failed ({type(error).__name__})", retryable=True) from error
