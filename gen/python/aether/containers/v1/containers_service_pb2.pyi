import datetime

from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from aether.containers.v1 import container_pb2 as _container_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    state: str
    def __init__(self, all: _Optional[bool] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

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
    state: str
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

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
    state: str
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

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
    state: str
    message: str
    def __init__(self, success: _Optional[bool] = ..., id: _Optional[str] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RemoveContainerRequest(_message.Message):
    __slots__ = ("id", "force", "volumes")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    force: bool
    volumes: bool
    def __init__(self, id: _Optional[str] = ..., force: _Optional[bool] = ..., volumes: _Optional[bool] = ...) -> None: ...

class RemoveContainerResponse(_message.Message):
    __slots__ = ("success", "message", "id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class GetContainerLogsRequest(_message.Message):
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
    stream: str
    def __init__(self, id: _Optional[str] = ..., tail: _Optional[int] = ..., follow: _Optional[bool] = ..., timestamps: _Optional[bool] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream: _Optional[str] = ...) -> None: ...

class GetContainerLogsResponse(_message.Message):
    __slots__ = ("stream", "line", "timestamp")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    stream: str
    line: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, stream: _Optional[str] = ..., line: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetContainerStatsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetContainerStatsResponse(_message.Message):
    __slots__ = ("id", "name", "read_at", "cpu_percent", "online_cpus", "memory_usage_bytes", "memory_limit_bytes", "memory_percent", "network_rx_bytes", "network_tx_bytes", "block_read_bytes", "block_write_bytes", "pids")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    READ_AT_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ONLINE_CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    NETWORK_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    read_at: _timestamp_pb2.Timestamp
    cpu_percent: float
    online_cpus: int
    memory_usage_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., read_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cpu_percent: _Optional[float] = ..., online_cpus: _Optional[int] = ..., memory_usage_bytes: _Optional[int] = ..., memory_limit_bytes: _Optional[int] = ..., memory_percent: _Optional[float] = ..., network_rx_bytes: _Optional[int] = ..., network_tx_bytes: _Optional[int] = ..., block_read_bytes: _Optional[int] = ..., block_write_bytes: _Optional[int] = ..., pids: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("status", "layer_id", "current_bytes", "total_bytes", "done", "image")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAYER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    status: str
    layer_id: str
    current_bytes: int
    total_bytes: int
    done: bool
    image: _container_pb2.Image
    def __init__(self, status: _Optional[str] = ..., layer_id: _Optional[str] = ..., current_bytes: _Optional[int] = ..., total_bytes: _Optional[int] = ..., done: _Optional[bool] = ..., image: _Optional[_Union[_container_pb2.Image, _Mapping]] = ...) -> None: ...

class GetDaemonInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDaemonInfoResponse(_message.Message):
    __slots__ = ("name", "server_version", "api_version", "operating_system", "os_type", "architecture", "kernel_version", "ncpu", "mem_total_bytes", "containers", "containers_running", "containers_paused", "containers_stopped", "images", "storage_driver", "label_filter")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPERATING_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    KERNEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NCPU_FIELD_NUMBER: _ClassVar[int]
    MEM_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_PAUSED_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_STOPPED_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DRIVER_FIELD_NUMBER: _ClassVar[int]
    LABEL_FILTER_FIELD_NUMBER: _ClassVar[int]
    name: str
    server_version: str
    api_version: str
    operating_system: str
    os_type: str
    architecture: str
    kernel_version: str
    ncpu: int
    mem_total_bytes: int
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    storage_driver: str
    label_filter: str
    def __init__(self, name: _Optional[str] = ..., server_version: _Optional[str] = ..., api_version: _Optional[str] = ..., operating_system: _Optional[str] = ..., os_type: _Optional[str] = ..., architecture: _Optional[str] = ..., kernel_version: _Optional[str] = ..., ncpu: _Optional[int] = ..., mem_total_bytes: _Optional[int] = ..., containers: _Optional[int] = ..., containers_running: _Optional[int] = ..., containers_paused: _Optional[int] = ..., containers_stopped: _Optional[int] = ..., images: _Optional[int] = ..., storage_driver: _Optional[str] = ..., label_filter: _Optional[str] = ...) -> None: ...
