"""Proto <-> use-case conversions for the AI gateway, in one place."""

from __future__ import annotations

from datetime import datetime

from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import model_pb2

from servers.ai.providers.base import Message, Usage
from servers.ai.store import UsageReport
from servers.ai.usecases import ChatInput, ChatResult, Chunk, EmbeddingsResult, ModelView
from servers.platform.pagination import pagination
from servers.platform.paging import Page
from servers.platform.timestamps import timestamp


def chat_input(request: pb.ChatRequest | pb.StreamChatRequest, deadline: float) -> ChatInput:
    options = request.options
    return ChatInput(
        model=request.model,
        message=request.message,
        context=[Message(m.role, m.content) for m in request.context],
        temperature=options.temperature if options.HasField("temperature") else None,
        max_tokens=options.max_tokens,
        skip_cache=options.skip_cache,
        request_id=request.request_id,
        deadline=deadline,
    )


def tokens(usage: Usage) -> model_pb2.TokenUsage:
    return model_pb2.TokenUsage(input=usage.input, output=usage.output, total=usage.total)


def chat_response(result: ChatResult) -> pb.ChatResponse:
    return pb.ChatResponse(
        response=result.text,
        model=result.model,
        tokens=tokens(result.usage),
        latency_ms=result.latency_ms,
        request_id=result.request_id,
        cached=result.cached,
        provider=result.provider,
        finish_reason=result.finish_reason,
    )


def stream_message(item: Chunk | ChatResult) -> pb.StreamChatResponse:
    if isinstance(item, Chunk):
        return pb.StreamChatResponse(chunk=pb.ChatChunk(content=item.text, request_id=item.request_id))
    return pb.StreamChatResponse(
        final=pb.ChatFinal(
            done=True,
            tokens=tokens(item.usage),
            latency_ms=item.latency_ms,
            model=item.model,
            request_id=item.request_id,
            cached=item.cached,
            provider=item.provider,
            finish_reason=item.finish_reason,
        )
    )


def model_to_proto(view: ModelView) -> model_pb2.Model:
    spec = view.spec
    return model_pb2.Model(
        id=spec.id,
        name=spec.name,
        provider=spec.provider,
        status=view.status,
        capabilities=list(spec.capabilities),
        max_tokens=spec.max_tokens,
        rate_limit=model_pb2.ModelRateLimit(
            requests_per_minute=spec.requests_per_minute, tokens_per_minute=spec.tokens_per_minute
        ),
        local=spec.local,
        context_window=spec.context_window,
        dimensions=spec.dimensions,
        input_cost_per_1k_tokens_usd=spec.input_cost_per_1k,
        output_cost_per_1k_tokens_usd=spec.output_cost_per_1k,
        description=spec.description,
    )


def models_page(page: Page[ModelView], current: str) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(
        models=[model_to_proto(v) for v in page.items],
        pagination=pagination(page),
        current_model=current,
    )


def usage_response(report: UsageReport, start: datetime, end: datetime) -> pb.GetUsageResponse:
    return pb.GetUsageResponse(
        period=pb.Period(start_date=timestamp(start), end_date=timestamp(end)),
        total_requests=report.requests,
        total_tokens=report.tokens,
        by_model={
            model: pb.ModelUsage(requests=t.requests, tokens=t.tokens, cost_usd=t.cost_usd)
            for model, t in report.by_model.items()
        },
        cost_estimate_usd=report.cost_usd,
    )


def embeddings_response(result: EmbeddingsResult, single: bool) -> pb.CreateEmbeddingsResponse:
    reply = pb.CreateEmbeddingsResponse(
        dimensions=result.dimensions, model=result.model, tokens=result.tokens
    )
    if single:
        reply.embedding.extend(result.vectors[0])
    else:
        reply.embeddings.extend(pb.Embedding(values=v, index=i) for i, v in enumerate(result.vectors))
    return reply
