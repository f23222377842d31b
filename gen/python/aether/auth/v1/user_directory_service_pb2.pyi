from aether.common.v1 import access_pb2 as _access_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class FindUsersRequest(_message.Message):
    __slots__ = ("user_ids",)
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FindUsersResponse(_message.Message):
    __slots__ = ("active_user_ids",)
    ACTIVE_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    active_user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, active_user_ids: _Optional[_Iterable[str]] = ...) -> None: ...
