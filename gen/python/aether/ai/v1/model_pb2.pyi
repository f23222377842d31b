from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Model(_message.Message):
    __slots__ = ("id", "name", "provider", "status", "capabilities", "max_tokens", "rate_limit", "local", "context_window", "dimensions", "input_cost_per_1k_tokens_usd", "output_cost_per_1k_tokens_usd", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    INPUT_COST_PER_1K_TOKENS_USD_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COST_PER_1K_TOKENS_USD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    provider: str
    status: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_tokens: int
    rate_limit: ModelRateLimit
    local: bool
    context_window: int
    dimensions: int
    input_cost_per_1k_tokens_usd: float
    output_cost_per_1k_tokens_usd: float
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., provider: _Optional[str] = ..., status: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_tokens: _Optional[int] = ..., rate_limit: _Optional[_Union[ModelRateLimit, _Mapping]] = ..., local: _Optional[bool] = ..., context_window: _Optional[int] = ..., dimensions: _Optional[int] = ..., input_cost_per_1k_tokens_usd: _Optional[float] = ..., output_cost_per_1k_tokens_usd: _Optional[float] = ..., description: _Optional[str] = ...) -> None: ...

class ModelRateLimit(_message.Message):
    __slots__ = ("requests_per_minute", "tokens_per_minute")
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("input", "output", "total")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    input: int
    output: int
    total: int
    def __init__(self, input: _Optional[int] = ..., output: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...
