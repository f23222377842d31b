"""Gemini's native API (generateContent, streamGenerateContent, embedContent)
through Google's official google-genai SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from google import genai
from google.genai import errors, types

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

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
}

_ROLES = {"user": "user", "assistant": "model"}  # system messages go in system_instruction


class Gemini:
    name = "gemini"

    def __init__(self, base_url: str, api_key: str, timeout: float):
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=int(timeout * 1000),  # milliseconds
                retry_options=types.HttpRetryOptions(attempts=1),  # the router retries
            ),
        ).aio

    def _args(self, prompt: Prompt) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in prompt.messages if m.role == "system")
        contents = [
            types.Content(role=_ROLES[m.role], parts=[types.Part(text=m.content)])
            for m in prompt.messages
            if m.role != "system"
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=prompt.temperature,
            max_output_tokens=prompt.max_tokens or None,
        )
        return {"model": prompt.model, "contents": contents, "config": config}

    @staticmethod
    def _usage(prompt: Prompt, reply: types.GenerateContentResponse | None, text: str) -> Usage:
        meta = reply.usage_metadata if reply else None
        if meta and meta.prompt_token_count is not None:
            return Usage(meta.prompt_token_count, meta.candidates_token_count or 0)
        return Usage(prompt.estimated_input_tokens(), estimate_tokens(text))

    async def complete(self, prompt: Prompt) -> Completion:
        with _errors():
            reply = await self._client.models.generate_content(**self._args(prompt))
        text = _text(reply)
        return Completion(text, self._usage(prompt, reply, text), _finish(reply))

    async def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]:
        last: types.GenerateContentResponse | None = None
        text: list[str] = []
        with _errors():
            async for part in await self._client.models.generate_content_stream(**self._args(prompt)):
                last = part
                piece = _text(part)
                if piece:
                    text.append(piece)
                    yield Piece(piece)
        if last is None:
            raise ProviderError("gemini ended the stream without an answer", retryable=True)
        yield Piece(usage=self._usage(prompt, last, "".join(text)), finish_reason=_finish(last))

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors:
        with _errors():
            reply = await self._client.models.embed_content(model=model, contents=list(texts))
        vectors = [list(e.values or []) for e in reply.embeddings or []]
        if len(vectors) != len(texts):
            raise ProviderError("gemini returned the wrong number of embeddings", retryable=True)
        return Vectors(vectors, sum(map(estimate_tokens, texts)))

    async def ping(self) -> bool:
        try:
            with _errors():
                await self._client.models.list(config={"page_size": 1})
        except ProviderError as error:
            return error.status not in (0, 401, 403) and error.status < 500
        return True

    async def close(self) -> None:
        await self._client.aclose()


def _text(reply: types.GenerateContentResponse) -> str:
    candidates = reply.candidates or []
    if not candidates or not candidates[0].content or not candidates[0].content.parts:
        return ""
    return "".join(p.text or "" for p in candidates[0].content.parts)


def _finish(reply: types.GenerateContentResponse) -> str:
    candidates = reply.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    return _FINISH.get(reason.value if reason else "STOP", "stop")


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except errors.APIError as error:
        response = getattr(error, "response", None)
        raise http_error("gemini", error.code or 0, getattr(response, "headers", None)) from error
    except (TimeoutError, httpx.TimeoutException) as error:
        raise ProviderError("gemini timed out", retryable=True) from error
    except Exception as error:  # the SDK's transport (httpx or aiohttp) or a body that is not Gemini's
        raise ProviderError(f"gemini call failed ({type(error).__name__})", retryable=True) from error
