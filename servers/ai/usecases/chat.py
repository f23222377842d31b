"""Chat, unary and streamed: pick and check the model, admit the request
(rate limits, then budget: servers.ai.usecases.accounting), answer from the
cache or through the router, and account it however it ends (success,
failure, a stream the client abandoned).

`admit` comes first and apart, so the transport can report the rate-limit
window (`AdmittedChat.rate_limit`) before the answer, or a failure, goes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from servers.ai.domain import (
    CHAT,
    STREAM_CHAT,
    CachedAnswer,
    ChatInput,
    ChatResult,
    Chunk,
    RateLimitInfo,
    RequestReceived,
    cacheable,
    check_fits,
)
from servers.ai.providers.base import Message, Prompt, ProviderError, Usage, estimate_tokens
from servers.ai.usecases.accounting import Accountant, Request
from servers.ai.usecases.models import ModelCatalogue
from servers.ai.usecases.ports import AnswerCache, ModelRouter
from servers.platform.context import current_principal, request_id
from servers.platform.errors import AetherError, Unavailable


@dataclass(frozen=True, slots=True)
class AdmittedChat:
    """A chat past the rate limits, to be answered by `chat` or `stream`."""

    request: Request
    inp: ChatInput
    prompt: Prompt

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The caller's requests-per-minute window (None: the model has no such limit)."""
        return self.request.rate_limit


class ChatUseCases:
    def __init__(
        self, models: ModelCatalogue, accountant: Accountant, router: ModelRouter, cache: AnswerCache
    ):
        self._models = models
        self._accountant = accountant
        self._router = router
        self._cache = cache

    async def admit(self, inp: ChatInput, *, streaming: bool = False) -> AdmittedChat:
        """Resolve and check the model and the conversation, and count the request
        against the caller's rate limits (RateLimitExceeded over one)."""
        principal = current_principal()
        operation = STREAM_CHAT if streaming else CHAT
        spec = await self._models.for_chat(inp.model, principal.user_id, "streaming" if streaming else "chat")
        # The model is the router's to fill in (the chosen one's upstream name).
        prompt = Prompt(
            "", [*inp.context, Message("user", inp.message)], inp.temperature, inp.max_tokens or None
        )
        estimated = prompt.estimated_input_tokens()
        check_fits(spec, estimated, inp.max_tokens)
        rid = inp.request_id or request_id()
        received = RequestReceived(
            request_id=rid,
            user_id=principal.user_id,
            operation=operation,
            model=spec.id,
            input_chars=sum(len(m.content) for m in prompt.messages),
            context_messages=len(inp.context),
        )
        req = await self._accountant.admit(
            principal, spec, operation, rid, estimated, inp.max_tokens or spec.max_tokens, received
        )
        return AdmittedChat(req, inp, prompt)

    async def chat(self, admitted: AdmittedChat) -> ChatResult:
        """The answer (BudgetExceeded if the budget cannot hold the request)."""
        req, inp, prompt = admitted.request, admitted.inp, admitted.prompt
        await self._accountant.begin(req)
        with self._accountant.accounted(req):
            key = self._cache_key(req, inp, prompt)
            hit = await self._cache.get(key) if key and not inp.skip_cache else None
            if hit is not None:
                return self._from_cache(req, hit)
            answer = await self._router.complete(req.spec, prompt, inp.deadline)
            completion = answer.completion
            req.model, req.fallback_from, req.usage = answer.spec, answer.fallback_from, completion.usage
            if key:
                await self._cache.put(key, _cached(req, completion.text, completion.finish_reason))
            return _result(req, completion.text, completion.finish_reason)

    async def stream(self, admitted: AdmittedChat) -> AsyncIterator[Chunk | ChatResult]:
        """Chunks, then the final ChatResult. Errors before the first chunk are
        raised as-is; a failure after it raises Unavailable."""
        req, inp, prompt = admitted.request, admitted.inp, admitted.prompt
        await self._accountant.begin(req)
        text: list[str] = []
        try:
            key = self._cache_key(req, inp, prompt)
            hit = await self._cache.get(key) if key and not inp.skip_cache else None
            if hit is not None:
                yield Chunk(hit.text, req.request_id)
                yield self._last(req, self._from_cache(req, hit))
                return
            routed = await self._router.stream(req.spec, prompt, inp.deadline)
            req.model, req.fallback_from = routed.spec, routed.fallback_from
            finish, reported = "stop", None
            try:
                async for piece in routed.pieces:
                    if piece.text:
                        text.append(piece.text)
                        yield Chunk(piece.text, req.request_id)
                    if piece.finish_reason:
                        finish, reported = piece.finish_reason, piece.usage
            except ProviderError as error:
                raise Unavailable(
                    f"{routed.spec.id!r} failed mid-stream ({error}); the answer is incomplete"
                ) from error
            finally:
                await routed.pieces.aclose()
                req.usage = reported or Usage(req.estimated_input, estimate_tokens("".join(text)))
            if key:
                await self._cache.put(key, _cached(req, "".join(text), finish))
            yield self._last(req, _result(req, "".join(text), finish))
        except AetherError as error:
            req.error = error
            raise
        except (asyncio.CancelledError, GeneratorExit):
            req.cancelled = True  # the client went away: account what was generated
            if req.usage.total == 0 and text:
                req.usage = Usage(req.estimated_input, estimate_tokens("".join(text)))
            raise
        finally:
            self._accountant.account(req)

    def _cache_key(self, req: Request, inp: ChatInput, prompt: Prompt) -> str:
        if not cacheable(inp.temperature):
            return ""
        return self._cache.key(req.principal.user_id, req.spec.id, prompt.messages, inp.max_tokens)

    def _from_cache(self, req: Request, hit: CachedAnswer) -> ChatResult:
        req.cached = True
        req.model = self._models.catalog.find(hit.model) or req.spec
        req.usage = Usage(hit.input_tokens, hit.output_tokens)
        return _result(req, hit.text, hit.finish_reason)

    def _last(self, req: Request, result: ChatResult) -> ChatResult:
        """A stream's final message, accounted before it is sent: a caller that
        has it and reads its usage next must find this request there."""
        self._accountant.account(req)
        return result


def _cached(req: Request, text: str, finish: str) -> CachedAnswer:
    model = req.model or req.spec
    return CachedAnswer(text, model.id, model.provider, req.usage.input, req.usage.output, finish)


def _result(req: Request, text: str, finish: str) -> ChatResult:
    model = req.model or req.spec
    return ChatResult(
        text, model.id, model.provider, req.usage, req.latency_ms, req.request_id, req.cached, finish
    )
