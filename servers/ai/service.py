"""gRPC transport for AiService: decode, call the use case, encode."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc

from servers.ai import mapping
from servers.ai.usecases import AiUseCases
from servers.platform.paging import PageRequest
from servers.platform.timestamps import field_datetime

DEFAULT_USAGE_DAYS = 30


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
        result = await self._uc.chat(mapping.chat_input(request, self._deadline(context)))
        return mapping.chat_response(result)

    async def StreamChat(
        self, request: pb.StreamChatRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatResponse]:
        async for item in self._uc.stream_chat(mapping.chat_input(request, self._deadline(context))):
            yield mapping.stream_message(item)

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        views, current = await self._uc.list_models(request.provider, request.capability)
        return mapping.models_page(PageRequest.of(request.page, request.limit).slice(views), current)

    async def SwitchModel(
        self, request: pb.SwitchModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.SwitchModelResponse:
        current, previous = await self._uc.switch_model(request.model)
        unchanged = current == previous
        return pb.SwitchModelResponse(
            current_model=current,
            previous_model=previous,
            status="unchanged" if unchanged else "switched",
            message=f"Default model {'already is' if unchanged else 'set to'} {current}",
        )

    async def GetUsage(
        self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUsageResponse:
        end = field_datetime(request, "end_date") or datetime.now(UTC)
        start = field_datetime(request, "start_date") or end - timedelta(days=DEFAULT_USAGE_DAYS)
        report = await self._uc.usage(request.user_id, start, end, request.model)
        return mapping.usage_response(report, start, end)

    async def CreateEmbeddings(
        self, request: pb.CreateEmbeddingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateEmbeddingsResponse:
        single = bool(request.text)
        texts = [request.text] if single else list(request.texts)
        result = await self._uc.embed(request.model, texts, single, self._deadline(context))
        return mapping.embeddings_response(result, single)
