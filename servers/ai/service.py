"""gRPC transport for AiService: decode, call the use case, encode.

Chat, StreamChat and CreateEmbeddings are admitted first (rate limits), then
answered: the admission's rate-limit window (or the refusal's) becomes the
X-RateLimit-* response headers here, before anything else can fail, so they
go out with the first message or with the error (servers.platform.context)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol, TypeVar

import grpc
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc

from servers.ai import mapping
from servers.ai.domain import RateLimitExceeded, RateLimitInfo
from servers.ai.usecases import AiUseCases
from servers.platform.context import add_response_header


class _Admitted(Protocol):
    @property
    def rate_limit(self) -> RateLimitInfo | None: ...


A = TypeVar("A", bound=_Admitted)


def _rate_limit_headers(window: RateLimitInfo | None) -> None:
    if window is not None:
        add_response_header("x-ratelimit-limit", str(window.limit))
        add_response_header("x-ratelimit-remaining", str(window.remaining))
        add_response_header("x-ratelimit-reset", str(window.reset_seconds))


async def _reported(admission: Awaitable[A]) -> A:
    """The admitted request, its rate-limit window added to the response headers
    (a refusal's too, before it propagates)."""
    try:
        admitted = await admission
    except RateLimitExceeded as refused:
        _rate_limit_headers(refused.rate_limit)
        raise
    _rate_limit_headers(admitted.rate_limit)
    return admitted


class AiServicer(ai_service_pb2_grpc.AiServiceServicer):
    def __init__(self, usecases: AiUseCases, max_seconds: float):
        self._uc = usecases
        self._max_seconds = max_seconds

    def _deadline(self, context: grpc.aio.ServicerContext) -> float:
        """The caller's gRPC deadline, capped by the gateway's own."""
        remaining = context.time_remaining()
        seconds = self._max_seconds if remaining is None else min(remaining, self._max_seconds)
        return time.monotonic() + seconds

    async def Chat(self, request: pb.ChatRequest, context: grpc.aio.ServicerContext) -> pb.ChatResponse:
        chat = self._uc.chat
        admitted = await _reported(chat.admit(mapping.chat_input(request, self._deadline(context))))
        return mapping.chat_response(await chat.chat(admitted))

    async def StreamChat(
        self, request: pb.StreamChatRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatResponse]:
        chat = self._uc.chat
        inp = mapping.chat_input(request, self._deadline(context))
        admitted = await _reported(chat.admit(inp, streaming=True))
        async for item in chat.stream(admitted):
            yield mapping.stream_message(item)

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        listing = await self._uc.models.list_models(
            request.provider, request.capability, mapping.page_request(request)
        )
        return mapping.models_response(listing)

    async def SwitchModel(
        self, request: pb.SwitchModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.SwitchModelResponse:
        return mapping.switch_response(await self._uc.models.switch_model(request.model))

    async def GetUsage(
        self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUsageResponse:
        return mapping.usage_response(await self._uc.usage.report(mapping.usage_query(request)))

    async def CreateEmbeddings(
        self, request: pb.CreateEmbeddingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateEmbeddingsResponse:
        inp = mapping.embeddings_input(request, self._deadline(context))
        embeddings = self._uc.embeddings
        admitted = await _reported(embeddings.admit(inp))
        return mapping.embeddings_response(await embeddings.embed(admitted), inp.single)
