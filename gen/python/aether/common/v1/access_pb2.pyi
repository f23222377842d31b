from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor
RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
rate_limit: _descriptor.FieldDescriptor
MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
max_request_bytes: _descriptor.FieldDescriptor

class Access(_message.Message):
    __slots__ = ("public", "permissions")
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    public: bool
    permissions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, public: _Optional[bool] = ..., permissions: _Optional[_Iterable[str]] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("requests", "per_seconds", "server_headers")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SERVER_HEADERS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    per_seconds: int
    server_headers: bool
    def __init__(self, requests: _Optional[int] = ..., per_seconds: _Optional[int] = ..., server_headers: _Optional[bool] = ...) -> None: ...
