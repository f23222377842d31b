from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebhookReceived(_message.Message):
    __slots__ = ("integration_id", "user_id", "service", "event", "delivery_id", "processed", "actions_taken", "payload")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    user_id: str
    service: str
    event: str
    delivery_id: str
    processed: bool
    actions_taken: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    def __init__(self, integration_id: _Optional[str] = ..., user_id: _Optional[str] = ..., service: _Optional[str] = ..., event: _Optional[str] = ..., delivery_id: _Optional[str] = ..., processed: _Optional[bool] = ..., actions_taken: _Optional[_Iterable[str]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
