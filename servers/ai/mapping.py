"""Proto <-> domain conversions for the AI gateway, in one place, and the one
mapping of its domain events to aether.ai.v1 event protos (`to_event`)."""

from __future__ import annotations

from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import events_pb2, model_pb2

from servers.ai.domain import (
    AiEvent,
    ChatInput,
    ChatResult,
    Chunk,
    EmbeddingsInput,
    EmbeddingsResult,
    ModelListing,
    ModelSwitch,
    ModelView,
    RequestReceived,
    ResponseGenerated,
    UsageQuery,
    UsageReport,
)
from servers.ai.providers.base import Message, Usage
from servers.platform.pagination import pagination
from servers.platform.paging import PageRequest
from servers.platform.timestamps import field_datetime, timestamp
from servers.platform.uow import OutgoingEvent


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


def page_request(request: pb.ListModelsRequest) -> PageRequest:
    return PageRequest.of(request.page, request.limit)


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


def models_response(listing: ModelListing) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(
        models=[model_to_proto(v) for v in listing.page.items],
        pagination=pagination(listing.page),
        current_model=listing.current_model,
    )


def switch_response(switch: ModelSwitch) -> pb.SwitchModelResponse:
    return pb.SwitchModelResponse(
        current_model=switch.current,
        previous_model=switch.previous,
        status="unchanged" if switch.unchanged else "switched",
        message=f"Default model {'already is' if switch.unchanged else 'set to'} {switch.current}",
    )


def usage_query(request: pb.GetUsageRequest) -> UsageQuery:
    return UsageQuery(
        user_id=request.user_id,
        start=field_datetime(request, "start_date"),
        end=field_datetime(request, "end_date"),
        model=request.model,
    )


def usage_response(report: UsageReport) -> pb.GetUsageResponse:
    start, end = report.window.start, report.window.end
    return pb.GetUsageResponse(
        period=pb.Period(start_date=timestamp(start) if start else None, end_date=timestamp(end)),
        total_requests=report.requests,
        total_tokens=report.tokens,
        by_model={
            model: pb.ModelUsage(requests=t.requests, tokens=t.tokens, cost_usd=t.cost_usd)
            for model, t in report.by_model.items()
        },
        cost_estimate_usd=report.cost_usd,
    )


def embeddings_input(request: pb.CreateEmbeddingsRequest, deadline: float) -> EmbeddingsInput:
    single = bool(request.text)
    return EmbeddingsInput(
        model=request.model,
        texts=[request.text] if single else list(request.texts),
        single=single,
        deadline=deadline,
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


# --- domain events -> aether.ai.v1 events ----------------------------------------------
def to_event(event: AiEvent) -> OutgoingEvent:
    """The event proto of a domain event, its CloudEvents type and subject (the request id)."""
    if isinstance(event, ResponseGenerated):
        e = event.entry
        return OutgoingEvent(
            "ai.response.generated",
            e.request_id,
            events_pb2.AiResponseGenerated(
                request_id=e.request_id,
                user_id=e.user_id,
                operation=e.operation,
                model=e.model,
                provider=e.provider,
                fallback_from=e.fallback_from,
                tokens=model_pb2.TokenUsage(
                    input=e.input_tokens, output=e.output_tokens, total=e.input_tokens + e.output_tokens
                ),
                latency_ms=e.latency_ms,
                cached=e.cached,
                success=e.success,
                error_code=e.error_code,
                error_message=event.error_message,
                cost_usd=e.cost_usd,
                streamed=e.streamed,
                cancelled=e.cancelled,
            ),
        )
    if isinstance(event, RequestReceived):
        return OutgoingEvent(
            "ai.request.received",
            event.request_id,
            events_pb2.AiRequestReceived(
                request_id=event.request_id,
                user_id=event.user_id,
                operation=event.operation,
                model=event.model,
                input_chars=event.input_chars,
                context_messages=event.context_messages,
                texts=event.texts,
            ),
        )
    raise TypeError(f"not an AI domain event: {event!r}")
