"""Fake AI provider servers speaking the real wire protocols, for tests and benchmarks.

One aiohttp server answers, under path prefixes, the OpenAI-compatible API (as OpenAI,
Groq and HuggingFace), Ollama's native API and Gemini's native API, so the official
SDKs (openai, ollama, google-genai) talk to it unchanged. Answers are deterministic:
the reply is "echo: <last user message>", streamed a word per chunk; a prompt token
is a whitespace-separated word of the input, a completion token is a chunk.

Faults are scripted per provider: `fake.script("openai", Fault.rate_limit(2), Fault.ok())`
queues steps consumed one per chat/embeddings request; an empty queue answers normally.

    async with FakeProviders() as fake:
        client = AsyncOpenAI(base_url=fake.openai_base, api_key=fake.api_key, max_retries=0)

Standalone (benchmarks): `python -m tests.fakes.ai_providers --port 9999` serves until
SIGINT/SIGTERM and prints "FakeProviders listening on <url>" once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import itertools
import json
import math
import re
import signal
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvloop
from aiohttp import web

PROVIDERS = ("openai", "groq", "huggingface", "ollama", "gemini")
# The OpenAI-compatible providers and their path prefix (base URL = url + prefix).
OPENAI_COMPATIBLE = {"openai": "/openai/v1", "groq": "/groq/openai/v1", "huggingface": "/huggingface/v1"}
MODELS = {
    "openai": ("gpt-4o-mini", "text-embedding-3-small"),
    "groq": ("llama-3.1-8b-instant", "llama-3.3-70b-versatile"),
    "huggingface": ("meta-llama/Llama-3.1-8B-Instruct", "sentence-transformers/all-MiniLM-L6-v2"),
    "ollama": ("llama3.2:latest", "nomic-embed-text:latest"),
    "gemini": ("gemini-2.5-flash", "gemini-embedding-001"),
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OPENAI_ERROR = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_CHUNK = re.compile(r"\s*\S+\s*")
_dumps = functools.partial(json.dumps, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted step, consumed by one chat/embeddings request. Build with the factories."""

    kind: str  # "ok" | "error" | "timeout" | "malformed" | "cut"
    status: int = 200
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    n: int = 0

    @classmethod
    def ok(cls) -> Fault:
        """Answer normally."""
        return cls("ok")

    @classmethod
    def error(cls, status: int, message: str | None = None, *, retry_after: float | None = None) -> Fault:
        """Answer `status` with the provider's error body (and Retry-After when given)."""
        return cls("error", status=status, message=message, retry_after=retry_after)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0, message: str | None = None) -> Fault:
        """429 with Retry-After (seconds; OpenAI-style also retry-after-ms); None omits it."""
        return cls.error(429, message or "Rate limit reached; slow down.", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, message: str | None = None) -> Fault:
        """A 5xx with the provider's error body."""
        return cls.error(status, message or "The server had an error while processing your request.")

    @classmethod
    def timeout(cls, seconds: float = 30.0) -> Fault:
        """Sleep `seconds` before answering (normally); make it outlast the client's deadline."""
        return cls("timeout", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """200 whose body is not valid JSON (streams: a garbage event)."""
        return cls("malformed")

    @classmethod
    def cut_after(cls, n: int) -> Fault:
        """Streams: send n content chunks then drop the connection (no final/usage/[DONE]).
        Unary: drop the connection halfway through the body."""
        return cls("cut", n=n)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # the full request path, e.g. "/openai/v1/chat/completions"
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, None when there was no (valid JSON) body


@functools.lru_cache(maxsize=8192)
def _vector(text: str, dim: int) -> tuple[float, ...]:
    raw = hashlib.shake_256(text.encode()).digest(2 * dim)
    values = [v / 32767.5 - 1.0 for v in struct.unpack(f"<{dim}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    # Rounded to float32, so the float and base64 encodings carry the same numbers.
    return struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *(v / norm for v in values)))


def fake_embedding(text: str, dim: int = 8) -> list[float]:
    """The deterministic unit vector the fake answers for `text` (float32 values)."""
    return list(_vector(text, dim))


def _words(text: str) -> int:
    return len(text.split())


def _openai_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _gemini_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, dict):
        return ""
    return "".join(p.get("text", "") for p in content.get("parts") or () if isinstance(p, dict))


def _limit(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _sse(payload: dict[str, Any], end: bytes = b"\n\n") -> bytes:
    return b"data: " + _dumps(payload).encode() + end


Handler = Callable[[web.Request, str, dict[str, Any], Fault | None], Awaitable[web.StreamResponse]]


class FakeProviders:
    """The fake providers' server. Options (reset by reset()):
    latency: seconds before every answer starts (a provider's time to first token);
    chunk_delay: seconds between stream chunks; reply: fixed reply text instead of the
    echo; reply_words: a reply of that many words ("w0 w1 ..."); embedding_dim."""

    def __init__(
        self,
        api_key: str | None = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        embedding_dim: int = 8,
        record: bool = True,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.record = record
        self._default_dim = embedding_dim
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)
        self._scripts: dict[str, deque[Fault]] = {p: deque() for p in PROVIDERS}
        self._recorded: dict[str, list[RecordedRequest]] = {p: [] for p in PROVIDERS}
        self._disconnects: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        self._disconnected = asyncio.Event()
        self._reset_options()

    def _reset_options(self) -> None:
        self.latency: float = 0.0
        self.chunk_delay: float = 0.0
        self.reply: str | None = None
        self.reply_words: int | None = None
        self.embedding_dim: int = self._default_dim

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeProviders:
        app = web.Application()
        self._add_routes(app)
        # handler_cancellation: a client going away cancels its handler at once (even
        # mid-sleep), which is how disconnects are seen; no access log: it is a baseline.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProviders:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base(self) -> str:
        return self.base_url("openai")

    @property
    def groq_base(self) -> str:
        return self.base_url("groq")

    @property
    def huggingface_base(self) -> str:
        return self.base_url("huggingface")

    @property
    def ollama_base(self) -> str:
        return self.base_url("ollama")

    @property
    def gemini_base(self) -> str:
        return self.base_url("gemini")

    def base_url(self, provider: str) -> str:
        """The base URL its SDK is given for `provider`."""
        self._check(provider)
        return self.url + OPENAI_COMPATIBLE.get(provider, f"/{provider}")

    # -- scripting and inspection -------------------------------------------------------------

    def script(self, provider: str, *steps: Fault) -> None:
        """Queue steps for `provider`, consumed one per chat/embeddings request."""
        self._check(provider)
        self._scripts[provider].extend(steps)

    def pending(self, provider: str) -> int:
        """Scripted steps of `provider` not consumed yet."""
        self._check(provider)
        return len(self._scripts[provider])

    def requests(self, provider: str) -> list[RecordedRequest]:
        """Requests `provider` received (every endpoint, including rejected ones)."""
        self._check(provider)
        return list(self._recorded[provider])

    def disconnects(self, provider: str) -> int:
        """Streams of `provider` whose client went away before their end."""
        self._check(provider)
        return self._disconnects[provider]

    async def wait_disconnects(self, provider: str, count: int = 1) -> int:
        """Wait until `provider` has seen `count` disconnects (bound it with asyncio.timeout)."""
        self._check(provider)
        while self._disconnects[provider] < count:
            self._disconnected.clear()
            await self._disconnected.wait()
        return self._disconnects[provider]

    def _count_disconnect(self, provider: str) -> None:
        self._disconnects[provider] += 1
        self._disconnected.set()

    def reset(self) -> None:
        """Forget scripts, recordings, disconnect counts and options."""
        for provider in PROVIDERS:
            self._scripts[provider].clear()
            self._recorded[provider].clear()
            self._disconnects[provider] = 0
        self._reset_options()

    def embedding(self, text: str, dim: int | None = None) -> list[float]:
        """The vector the fake answers for `text` (dim defaults to embedding_dim)."""
        return fake_embedding(text, dim or self.embedding_dim)

    @staticmethod
    def _check(provider: str) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; one of {PROVIDERS}")

    # -- common machinery -----------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        def streams(body: dict[str, Any], request: web.Request) -> bool:
            return body.get("stream") is True

        add = app.router.add_route
        for provider, prefix in OPENAI_COMPATIBLE.items():
            add("POST", f"{prefix}/chat/completions", self._endpoint(provider, self._openai_chat, streams))
            add("POST", f"{prefix}/embeddings", self._endpoint(provider, self._openai_embeddings))
            add("GET", f"{prefix}/models", self._endpoint(provider, self._openai_models, scripted=False))
        ollama = self._endpoint(
            "ollama", self._ollama_chat, lambda body, request: body.get("stream", True) is not False
        )
        add("POST", "/ollama/api/chat", ollama)
        add("POST", "/ollama/api/embed", self._endpoint("ollama", self._ollama_embed))
        add("POST", "/ollama/api/embeddings", self._endpoint("ollama", self._ollama_embeddings))
        add("GET", "/ollama/api/tags", self._endpoint("ollama", self._ollama_tags, scripted=False))
        add("GET", "/ollama/api/version", self._endpoint("ollama", self._ollama_version, scripted=False))
        gemini = self._endpoint(
            "gemini", self._gemini_call, lambda body, request: request.path.endswith(":streamGenerateContent")
        )
        add("POST", "/gemini/{version}/models/{call}", gemini)
        add("GET", "/gemini/{version}/models", self._endpoint("gemini", self._gemini_models, scripted=False))
        add("GET", "/healthz", self._healthz)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _endpoint(
        self,
        provider: str,
        handler: Handler,
        streams: Callable[[dict[str, Any], web.Request], bool] | None = None,
        *,
        scripted: bool = True,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wraps a handler: parse, record, authenticate, apply the next scripted step."""
        family = "gemini" if provider == "gemini" else "ollama" if provider == "ollama" else "openai"

        async def endpoint(request: web.Request) -> web.StreamResponse:
            body: Any = None
            if request.body_exists:
                raw = await request.read()
                with contextlib.suppress(ValueError):
                    body = json.loads(raw)
            if self.record:
                self._recorded[provider].append(
                    RecordedRequest(
                        request.method,
                        request.path,
                        dict(request.query),
                        {k.lower(): v for k, v in request.headers.items()},
                        body,
                    )
                )
            if body is None:
                if request.method == "POST":
                    return self._error(family, 400, "The request body is not valid JSON.")
                body = {}
            elif not isinstance(body, dict):
                return self._error(family, 400, "The request body must be a JSON object.")
            if not self._authorized(family, request):
                message = "API key not valid." if family == "gemini" else "Incorrect API key provided."
                return self._error(family, 401, message)
            step = None
            queue = self._scripts[provider]
            if scripted and queue:
                step = queue.popleft()
                if step.kind == "error":
                    return self._error(family, step.status, step.message or "error", step.retry_after)
            try:
                if step is not None and step.kind == "timeout":
                    await asyncio.sleep(step.seconds)
                elif self.latency:
                    await asyncio.sleep(self.latency)
                return await handler(request, provider, body, step)
            except asyncio.CancelledError:  # the client went away (handler_cancellation)
                if streams is not None and streams(body, request):
                    self._count_disconnect(provider)
                raise

        return endpoint

    def _authorized(self, family: str, request: web.Request) -> bool:
        if not self.api_key or family == "ollama":
            return True
        if family == "gemini":
            key = request.headers.get("x-goog-api-key") or request.query.get("key")
            return key == self.api_key
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _error(
        self, family: str, status: int, message: str, retry_after: float | None = None
    ) -> web.Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = _retry_after(retry_after)
        if family == "openai":
            kind, code = _OPENAI_ERROR.get(status, ("server_error" if status >= 500 else "api_error", None))
            payload: dict[str, Any] = {
                "error": {"message": message, "type": kind, "param": None, "code": code}
            }
            if retry_after is not None:
                headers["retry-after-ms"] = str(round(retry_after * 1000))
        elif family == "gemini":
            error: dict[str, Any] = {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
            if retry_after is not None:
                error["details"] = [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{_retry_after(retry_after)}s",
                    }
                ]
            payload = {"error": error}
        else:
            payload = {"error": message}
        return web.Response(
            status=status, text=_dumps(payload), content_type="application/json", headers=headers
        )

    def _reply(self, user_text: str, limit: Any) -> tuple[list[str], bool]:
        """The reply's chunks (a word and its following whitespace each) and whether
        they were truncated to the token limit."""
        if self.reply is not None:
            text = self.reply
        elif self.reply_words:
            text = " ".join(f"w{i}" for i in range(self.reply_words))
        else:
            text = f"echo: {user_text}"
        chunks = _CHUNK.findall(text)
        limit = _limit(limit)
        if limit is not None and len(chunks) > limit:
            return chunks[:limit], True
        return chunks, False

    async def _send(
        self, request: web.Request, payload: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        """A unary JSON answer, or its scripted corruption."""
        if step is not None and step.kind == "malformed":
            return web.Response(body=b'{"id": "oops", "choices": [{', content_type="application/json")
        data = _dumps(payload).encode()
        if step is None or step.kind != "cut":
            return web.Response(body=data, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        if request.transport is not None:
            request.transport.close()
        return response

    async def _stream(
        self,
        request: web.Request,
        provider: str,
        content_type: str,
        events: list[bytes],
        step: Fault | None,
        garbage: bytes,
    ) -> web.StreamResponse:
        """Streams `events` (one per chunk, the final ones included) with chunk_delay
        between them; a cut step sends its n events and drops the connection."""
        cut = step is not None and step.kind == "cut"
        if cut:
            events = events[: step.n]  # type: ignore[union-attr]
        elif step is not None and step.kind == "malformed":
            events = [garbage]
        response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        try:
            await response.prepare(request)
            delay = self.chunk_delay
            if delay <= 0:
                await response.write(b"".join(events))
            else:
                for i, event in enumerate(events):
                    if i:
                        await asyncio.sleep(delay)
                    await response.write(event)
        except ConnectionError:  # the write failed: the client went away
            self._count_disconnect(provider)
            return response
        if cut and request.transport is not None:
            request.transport.close()
        return response

    # -- OpenAI-compatible ---------------------------------------------------------------------

    async def _openai_chat(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
        prompt_tokens = sum(_words(_openai_text(m.get("content"))) for m in messages)
        user_text = next(
            (_openai_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        chunks, truncated = self._reply(user_text, limit)
        finish = "length" if truncated else "stop"
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(chunks),
            "total_tokens": prompt_tokens + len(chunks),
        }
        model = body.get("model", "")
        common = {"id": f"chatcmpl-{next(self._ids)}", "created": int(time.time()), "model": model}
        common["system_fingerprint"] = "fp_fake"
        if body.get("stream") is not True:
            message = {"role": "assistant", "content": "".join(chunks), "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return await self._send(
                request, {**common, "object": "chat.completion", "choices": [choice], "usage": usage}, step
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {**common, "object": "chat.completion.chunk"}
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return _sse({**base, "choices": [choice]})

        events = [
            chunk({"role": "assistant", "content": text} if i == 0 else {"content": text})
            for i, text in enumerate(chunks)
        ]
        events.append(chunk({}, finish))
        if include_usage:
            events.append(_sse({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return await self._stream(request, provider, "text/event-stream", events, step, b"data: {oops\n\n")

    async def _openai_embeddings(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        raw = body.get("input", "")
        if isinstance(raw, str):
            texts = [raw]
        elif raw and all(isinstance(t, int) for t in raw):  # one token array
            texts = [" ".join(map(str, raw))]
        else:
            texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in raw]
        dim = _limit(body.get("dimensions")) or self.embedding_dim
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vector: Any = _vector(text, dim)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(_words(t) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return await self._send(request, payload, step)

    async def _openai_models(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": provider} for m in MODELS[provider]]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    # -- Ollama -------------------------------------------------------------------------------

    async def _ollama_chat(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        started = time.perf_counter_ns()
        messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
        prompt_tokens = sum(_words(str(m.get("content") or "")) for m in messages)
        user_text = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        chunks, truncated = self._reply(user_text, (body.get("options") or {}).get("num_predict"))
        model = body.get("model", "")
        created_at = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())

        def final(content: str) -> dict[str, Any]:
            total = max(time.perf_counter_ns() - started, 1)
            return {
                "model": model,
                "created_at": created_at,
                "message": {"role": "assistant", "content": content},
                "done": True,
                "done_reason": "length" if truncated else "stop",
                "total_duration": total,
                "load_duration": 0,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": total // 2,
                "eval_count": len(chunks),
                "eval_duration": total // 2,
            }

        if body.get("stream", True) is False:
            return await self._send(request, final("".join(chunks)), step)
        events = [
            _dumps(
                {
                    "model": model,
                    "created_at": created_at,
                    "message": {"role": "assistant", "content": text},
                    "done": False,
                }
            ).encode()
            + b"\n"
            for text in chunks
        ]
        events.append(_dumps(final("")).encode() + b"\n")
        return await self._stream(request, provider, "application/x-ndjson", events, step, b"{oops\n")

    async def _ollama_embed(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        raw = body.get("input", "")
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
        dim = _limit(body.get("dimensions")) or self.embedding_dim
        payload = {
            "model": body.get("model", ""),
            "embeddings": [_vector(t, dim) for t in texts],
            "total_duration": 1000,
            "load_duration": 0,
            "prompt_eval_count": sum(_words(t) for t in texts),
        }
        return await self._send(request, payload, step)

    async def _ollama_embeddings(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:  # the legacy single-prompt endpoint
        return await self._send(
            request, {"embedding": _vector(str(body.get("prompt", "")), self.embedding_dim)}, step
        )

    async def _ollama_tags(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": "2025-01-01T00:00:00Z",
                "size": 1_000_000,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {"format": "gguf", "family": name.split(":")[0], "parameter_size": "1B"},
            }
            for name in MODELS["ollama"]
        ]
        return web.json_response({"models": models}, dumps=_dumps)

    async def _ollama_version(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        return web.json_response({"version": "0.12.0"}, dumps=_dumps)

    # -- Gemini -------------------------------------------------------------------------------

    async def _gemini_call(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        model, _, method = request.match_info["call"].rpartition(":")
        if method in ("generateContent", "streamGenerateContent"):
            return await self._gemini_generate(request, model, method == "streamGenerateContent", body, step)
        if method == "embedContent":
            dim = _limit(body.get("outputDimensionality")) or self.embedding_dim
            values = _vector(_gemini_text(body.get("content")), dim)
            return await self._send(request, {"embedding": {"values": values}}, step)
        if method == "batchEmbedContents":
            embeddings = []
            for item in body.get("requests") or ():
                dim = _limit(item.get("outputDimensionality")) or self.embedding_dim
                embeddings.append({"values": _vector(_gemini_text(item.get("content")), dim)})
            return await self._send(request, {"embeddings": embeddings}, step)
        return self._error("gemini", 404, f"Method {method!r} is not found for model {model!r}.")

    async def _gemini_generate(
        self, request: web.Request, model: str, stream: bool, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        contents = [c for c in body.get("contents") or () if isinstance(c, dict)]
        prompt_tokens = _words(_gemini_text(body.get("systemInstruction")))
        prompt_tokens += sum(_words(_gemini_text(c)) for c in contents)
        user_text = next((_gemini_text(c) for c in reversed(contents) if c.get("role", "user") == "user"), "")
        limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
        chunks, truncated = self._reply(user_text, limit)
        usage = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": len(chunks),
            "totalTokenCount": prompt_tokens + len(chunks),
        }
        finish = "MAX_TOKENS" if truncated else "STOP"
        response_id = f"resp-{next(self._ids)}"

        def answer(text: str, last: bool) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            payload: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": model,
                "responseId": response_id,
            }
            if last:
                candidate["finishReason"] = finish
                payload["usageMetadata"] = usage
            return payload

        if not stream:
            return await self._send(request, answer("".join(chunks), True), step)
        cut = step is not None and step.kind == "cut"
        texts = chunks or [""]
        events = [_sse(answer(t, not cut and i == len(texts) - 1), b"\r\n\r\n") for i, t in enumerate(texts)]
        return await self._stream(
            request, "gemini", "text/event-stream", events, step, b"data: {oops\r\n\r\n"
        )

    async def _gemini_models(
        self, request: web.Request, provider: str, body: dict[str, Any], step: Fault | None
    ) -> web.StreamResponse:
        chat, embed = MODELS["gemini"]
        models = [
            {
                "name": f"models/{chat}",
                "displayName": chat,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            },
            {
                "name": f"models/{embed}",
                "displayName": embed,
                "inputTokenLimit": 2048,
                "outputTokenLimit": 1,
                "supportedGenerationMethods": ["embedContent"],
            },
        ]
        return web.json_response({"models": models}, dumps=_dumps)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeProviders(
        api_key=args.api_key or None,
        host=args.host,
        port=args.port,
        embedding_dim=args.embedding_dim,
        record=False,  # nobody can read them from another process; keep memory flat
    )
    await fake.start()
    fake.chunk_delay = args.chunk_delay
    fake.latency = args.latency
    fake.reply_words = args.reply_words
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    print(f"FakeProviders listening on {fake.url}", flush=True)
    try:
        await stopped.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Groq/HuggingFace/Ollama/Gemini servers.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999, help="0 picks a free port (printed)")
    parser.add_argument("--api-key", default="test-key", help="empty disables the key check")
    parser.add_argument("--embedding-dim", type=int, default=8)
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer starts")
    parser.add_argument("--reply-words", type=int, default=None, help="fixed reply length, in words")
    uvloop.run(_serve(parser.parse_args(argv)))  # standalone for benchmarks: the cheaper loop


if __name__ == "__main__":
    main()
