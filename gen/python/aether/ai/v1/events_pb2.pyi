from aether.ai.v1 import model_pb2 as _model_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AiRequestReceived(_message.Message):
    __slots__ = ("request_id", "user_id", "operation", "model", "input_chars", "context_messages", "texts")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_CHARS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    operation: str
    model: str
    input_chars: int
    context_messages: int
    texts: int
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., operation: _Optional[str] = ..., model: _Optional[str] = ..., input_chars: _Optional[int] = ..., context_messages: _Optional[int] = ..., texts: _Optional[int] = ...) -> None: ...

class AiResponseGenerated(_message.Message):
    __slots__ = ("request_id", "user_id", "operation", "model", "provider", "fallback_from", "tokens", "latency_ms", "cached", "success", "error_code", "error_message", "cost_usd", "streamed", "cancelled")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FROM_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    STREAMED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    operation: str
    model: str
    provider: str
    fallback_from: str
    tokens: _model_pb2.TokenUsage
    latency_ms: int
    cached: bool
    success: bool
    error_code: str
    error_message: str
    cost_usd: float
    streamed: bool
    cancelled: bool
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., operation: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., fallback_from: _Optional[str] = ..., tokens: _Optional[_Union[_model_pb2.TokenUsage, _Mapping]] = ..., latency_ms: _Optional[int] = ..., cached: _Optional[bool] = ..., success: _Optional[bool] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., cost_usd: _Optional[float] = ..., streamed: _Optional[bool] = ..., cancelled: _Optional[bool] = ...) -> None: ...
