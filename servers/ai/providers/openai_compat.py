"""OpenAI's Chat Completions protocol through the official SDK: OpenAI itself,
Groq, Hugging Face's router and any OpenAI-compatible server (vLLM, LM Studio)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai

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


class OpenAICompatible:
    def __init__(self, name: str, base_url: str, api_key: str, timeout: float):
        self.name = name
        # Retries, backoff and fallbacks are the router's job: the SDK makes one attempt.
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "none", max_retries=0, timeout=timeout
        )

    def _request(self, prompt: Prompt) -> dict[str, Any]:
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
            reply = await self._client.chat.completions.create(**self._request(prompt))
        try:
            choice = reply.choices[0]
            text = choice.message.content or ""
            usage = reply.usage
        except (AttributeError, IndexError, TypeError) as error:
            raise ProviderError(f"{self.name} sent a malformed reply", retryable=True) from error
        counted = (
            Usage(usage.prompt_tokens, usage.completion_tokens)
            if usage
            else Usage(prompt.estimated_input_tokens(), estimate_tokens(text))
        )
        return Completion(text, counted, _FINISH.get(choice.finish_reason or "stop", "stop"))

    async def stream(self, prompt: Prompt) -> AsyncGenerator[Piece]:
        finish = "stop"
        usage: Usage | None = None
        with self._errors():
            chunks = await self._client.chat.completions.create(
                **self._request(prompt), stream=True, stream_options={"include_usage": True}
            )
            async with chunks:
                async for chunk in chunks:
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.finish_reason:
                            finish = _FINISH.get(choice.finish_reason, "stop")
                        if choice.delta and choice.delta.content:
                            yield Piece(choice.delta.content)
        yield Piece(usage=usage, finish_reason=finish)

    async def embed(self, model: str, texts: Sequence[str]) -> Vectors:
        with self._errors():
            reply = await self._client.embeddings.create(
                model=model, input=list(texts), encoding_format="float"
            )
        ordered = sorted(reply.data, key=lambda d: d.index)
        tokens = reply.usage.prompt_tokens if reply.usage else sum(map(estimate_tokens, texts))
        return Vectors([list(d.embedding) for d in ordered], tokens)

    async def ping(self) -> bool:
        try:
            with self._errors():
                await self._client.models.list()
        except ProviderError as error:
            return error.status not in (0, 401, 403) and error.status < 500
        return True

    async def close(self) -> None:
        await self._client.close()

    def _errors(self) -> _OpenAIErrors:
        return _OpenAIErrors(self.name)


class _OpenAIErrors:
    """Turns the SDK's exceptions into ProviderError (no secrets, no URLs)."""

    def __init__(self, provider: str):
        self.provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        if error is None:
            return
        if isinstance(error, openai.APIStatusError):
            raise http_error(self.provider, error.status_code, error.response.headers) from error
        if isinstance(error, openai.APITimeoutError):
            raise ProviderError(f"{self.provider} timed out", retryable=True) from error
        if isinstance(error, openai.APIConnectionError):
            raise ProviderError(f"{self.provider} is unreachable", retryable=True) from error
        if isinstance(error, Exception) and not isinstance(error, ProviderError):
            # e.g. a body that is not the protocol's JSON
            raise ProviderError(
                f"{self.provider} call failed ({type(error).__name__})", retryable=True
            ) from error
