"""The AI gateway as the RAG use cases see it: embeddings and chat, called
through the platform client with the caller's identity (so the caller's
limits and budget apply). The one embedding code path of the system is the
gateway's CreateEmbeddings; this adapter only batches and maps errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
from aether.ai.v1 import ai_service_pb2, ai_service_pb2_grpc
from grpc_status import rpc_status

from servers.platform.errors import (
    AetherError,
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    RateLimited,
    Unavailable,
)

# The gateway's batch limit (CreateEmbeddingsRequest.texts max_items).
MAX_BATCH = 256


def _retry_after(error: grpc.aio.AioRpcError) -> float:
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return 1.0


def _mapped(error: grpc.aio.AioRpcError, what: str, field: str) -> AetherError:
    """The gateway's answer as our error, keeping its message (which names
    the setting or limit)."""
    message = f"the AI gateway refused {what}: {error.details()}"
    match error.code():
        case grpc.StatusCode.FAILED_PRECONDITION:
            return FailedPrecondition(message, reason=ErrorReason.NOT_CONFIGURED)
        case grpc.StatusCode.RESOURCE_EXHAUSTED:
            return RateLimited(message, _retry_after(error))
        case grpc.StatusCode.NOT_FOUND | grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidArgument(message, [FieldViolation(field, error.details() or "rejected")])
        case grpc.StatusCode.PERMISSION_DENIED:
            return FailedPrecondition(message)
        case _:
            return Unavailable(f"the AI gateway cannot answer {what}: {error.code().name}")


class AiGateway:
    def __init__(
        self,
        stub: Callable[[], ai_service_pb2_grpc.AiServiceStub],
        embedding_model: str,
        timeout: float = 60,
    ):
        # A factory: the gateway's address is known only once the server listens
        # (when both run in one process), after the domains are built.
        self._stub = stub
        self._model = embedding_model
        self._timeout = timeout

    async def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], str]:
        """Vectors of `texts` (at most MAX_BATCH) and the model that made them."""
        try:
            reply = await self._stub().CreateEmbeddings(
                ai_service_pb2.CreateEmbeddingsRequest(texts=list(texts), model=self._model),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise _mapped(error, "the embeddings", "model") from None
        return [list(e.values) for e in sorted(reply.embeddings, key=lambda e: e.index)], reply.model

    async def chat(self, system: str, message: str, model: str) -> tuple[str, str]:
        """The model's answer and which model gave it."""
        request = ai_service_pb2.ChatRequest(
            model=model,
            message=message,
            context=[ai_service_pb2.ChatMessage(role="system", content=system)],
            options=ai_service_pb2.ChatOptions(temperature=0),
        )
        try:
            reply = await self._stub().Chat(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise _mapped(error, "the question", "model") from None
        return reply.response, reply.model
