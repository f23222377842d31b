import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntegrationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTEGRATION_STATUS_UNSPECIFIED: _ClassVar[IntegrationStatus]
    INTEGRATION_STATUS_ACTIVE: _ClassVar[IntegrationStatus]
    INTEGRATION_STATUS_ERROR: _ClassVar[IntegrationStatus]
    INTEGRATION_STATUS_DISABLED: _ClassVar[IntegrationStatus]
INTEGRATION_STATUS_UNSPECIFIED: IntegrationStatus
INTEGRATION_STATUS_ACTIVE: IntegrationStatus
INTEGRATION_STATUS_ERROR: IntegrationStatus
INTEGRATION_STATUS_DISABLED: IntegrationStatus

class Integration(_message.Message):
    __slots__ = ("id", "name", "type", "status", "created_at", "last_sync", "user_id", "config", "status_message", "webhook_path", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_PATH_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: str
    status: IntegrationStatus
    created_at: _timestamp_pb2.Timestamp
    last_sync: _timestamp_pb2.Timestamp
    user_id: str
    config: _struct_pb2.Struct
    status_message: str
    webhook_path: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., status: _Optional[_Union[IntegrationStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_sync: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status_message: _Optional[str] = ..., webhook_path: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GithubRepo(_message.Message):
    __slots__ = ("id", "name", "full_name", "private", "stars", "forks", "description", "html_url", "default_branch", "language", "pushed_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    STARS_FIELD_NUMBER: _ClassVar[int]
    FORKS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HTML_URL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_BRANCH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PUSHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    full_name: str
    private: bool
    stars: int
    forks: int
    description: str
    html_url: str
    default_branch: str
    language: str
    pushed_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., full_name: _Optional[str] = ..., private: _Optional[bool] = ..., stars: _Optional[int] = ..., forks: _Optional[int] = ..., description: _Optional[str] = ..., html_url: _Optional[str] = ..., default_branch: _Optional[str] = ..., language: _Optional[str] = ..., pushed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
