import datetime

from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import output_pb2 as _output_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from aether.containers.v1 import container_pb2 as _container_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogsEndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOGS_END_REASON_UNSPECIFIED: _ClassVar[LogsEndReason]
    LOGS_END_REASON_ALL_SENT: _ClassVar[LogsEndReason]
    LOGS_END_REASON_CONTAINER_STOPPED: _ClassVar[LogsEndReason]
    LOGS_END_REASON_MAX_DURATION: _ClassVar[LogsEndReason]

class StatsEndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATS_END_REASON_UNSPECIFIED: _ClassVar[StatsEndReason]
    STATS_END_REASON_CONTAINER_STOPPED: _ClassVar[StatsEndReason]
    STATS_END_REASON_MAX_DURATION: _ClassVar[StatsEndReason]
LOGS_END_REASON_UNSPECIFIED: LogsEndReason
LOGS_END_REASON_ALL_SENT: LogsEndReason
LOGS_END_REASON_CONTAINER_STOPPED: LogsEndReason
LOGS_END_REASON_MAX_DURATION: LogsEndReason
STATS_END_REASON_UNSPECIFIED: StatsEndReason
STATS_END_REASON_CONTAINER_STOPPED: StatsEndReason
STATS_END_REASON_MAX_DURATION: StatsEndReason

class ListContainersRequest(_message.Message):
    __slots__ = ("all", "page", "limit", "sort", "order", "name", "state")
    ALL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    all: bool
    page: int
    limit: int
    sort: str
    order: str
    name: str
    state: _container_pb2.ContainerState
    def __init__(self, all: _Optional[bool] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[_container_pb2.ContainerState, str]] = ...) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("containers", "pagination")
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[_container_pb2.Container]
    pagination: _pagination_pb2.Pagination
    def __init__(self, containers: _Optional[_Iterable[_Union[_container_pb2.Container, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class GetContainerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StartContainerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StartContainerResponse(_message.Message):
    __slots__ = ("success", "id", "state", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    id: str
    state: _container_pb2.ContainerState
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[_Union[_container_pb2.ContainerState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class StopContainerRequest(_message.Message):
    __slots__ = ("id", "timeout_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    timeout_seconds: int
    def __init__(self, id: _Optional[str] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class StopContainerResponse(_message.Message):
    __slots__ = ("success", "id", "state", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    id: str
    state: _container_pb2.ContainerState
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[_Union[_container_pb2.ContainerState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class RestartContainerRequest(_message.Message):
    __slots__ = ("id", "timeout_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    timeout_seconds: int
    def __init__(self, id: _Optional[str] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class RestartContainerResponse(_message.Message):
    __slots__ = ("success", "id", "state", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    id: str
    state: _container_pb2.ContainerState
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[_Union[_container_pb2.ContainerState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class DeleteContainerRequest(_message.Message):
    __slots__ = ("id", "force", "volumes")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    force: bool
    volumes: bool
    def __init__(self, id: _Optional[str] = ..., force: _Optional[bool] = ..., volumes: _Optional[bool] = ...) -> None: ...

class DeleteContainerResponse(_message.Message):
    __slots__ = ("success", "message", "id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class StreamContainerLogsRequest(_message.Message):
    __slots__ = ("id", "tail", "follow", "timestamps", "since", "until", "stream")
    ID_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    id: str
    tail: int
    follow: bool
    timestamps: bool
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    stream: _output_pb2.OutputStream
    def __init__(self, id: _Optional[str] = ..., tail: _Optional[int] = ..., follow: _Optional[bool] = ..., timestamps: _Optional[bool] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream: _Optional[_Union[_output_pb2.OutputStream, str]] = ...) -> None: ...

class StreamContainerLogsResponse(_message.Message):
    __slots__ = ("line", "final")
    LINE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    line: ContainerLogLine
    final: StreamContainerLogsFinal
    def __init__(self, line: _Optional[_Union[ContainerLogLine, _Mapping]] = ..., final: _Optional[_Union[StreamContainerLogsFinal, _Mapping]] = ...) -> None: ...

class ContainerLogLine(_message.Message):
    __slots__ = ("stream", "text", "timestamp")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    stream: _output_pb2.OutputStream
    text: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, stream: _Optional[_Union[_output_pb2.OutputStream, str]] = ..., text: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamContainerLogsFinal(_message.Message):
    __slots__ = ("reason", "lines")
    REASON_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    reason: LogsEndReason
    lines: int
    def __init__(self, reason: _Optional[_Union[LogsEndReason, str]] = ..., lines: _Optional[int] = ...) -> None: ...

class GetContainerStatsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StreamContainerStatsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StreamContainerStatsResponse(_message.Message):
    __slots__ = ("sample", "final")
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    sample: _container_pb2.ContainerStats
    final: StreamContainerStatsFinal
    def __init__(self, sample: _Optional[_Union[_container_pb2.ContainerStats, _Mapping]] = ..., final: _Optional[_Union[StreamContainerStatsFinal, _Mapping]] = ...) -> None: ...

class StreamContainerStatsFinal(_message.Message):
    __slots__ = ("reason", "samples")
    REASON_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    reason: StatsEndReason
    samples: int
    def __init__(self, reason: _Optional[_Union[StatsEndReason, str]] = ..., samples: _Optional[int] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ("all", "page", "limit", "reference")
    ALL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    all: bool
    page: int
    limit: int
    reference: str
    def __init__(self, all: _Optional[bool] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ..., reference: _Optional[str] = ...) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("images", "pagination")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[_container_pb2.Image]
    pagination: _pagination_pb2.Pagination
    def __init__(self, images: _Optional[_Iterable[_Union[_container_pb2.Image, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class PullImageRequest(_message.Message):
    __slots__ = ("image", "tag", "digest", "platform")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    image: str
    tag: str
    digest: str
    platform: str
    def __init__(self, image: _Optional[str] = ..., tag: _Optional[str] = ..., digest: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class PullImageResponse(_message.Message):
    __slots__ = ("progress", "final")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    progress: PullImageProgress
    final: PullImageFinal
    def __init__(self, progress: _Optional[_Union[PullImageProgress, _Mapping]] = ..., final: _Optional[_Union[PullImageFinal, _Mapping]] = ...) -> None: ...

class PullImageProgress(_message.Message):
    __slots__ = ("status", "layer_id", "current_bytes", "total_bytes")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    status: str
    layer_id: str
    current_bytes: int
    total_bytes: int
    def __init__(self, status: _Optional[str] = ..., layer_id: _Optional[str] = ..., current_bytes: _Optional[int] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class PullImageFinal(_message.Message):
    __slots__ = ("image", "status")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    image: _container_pb2.Image
    status: str
    def __init__(self, image: _Optional[_Union[_container_pb2.Image, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class GetDaemonInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingDaemonRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingDaemonResponse(_message.Message):
    __slots__ = ("ok", "api_version")
    OK_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    api_version: str
    def __init__(self, ok: _Optional[bool] = ..., api_version: _Optional[str] = ...) -> None: ...
