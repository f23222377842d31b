import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContainerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTAINER_STATE_UNSPECIFIED: _ClassVar[ContainerState]
    CONTAINER_STATE_CREATED: _ClassVar[ContainerState]
    CONTAINER_STATE_RUNNING: _ClassVar[ContainerState]
    CONTAINER_STATE_PAUSED: _ClassVar[ContainerState]
    CONTAINER_STATE_RESTARTING: _ClassVar[ContainerState]
    CONTAINER_STATE_REMOVING: _ClassVar[ContainerState]
    CONTAINER_STATE_EXITED: _ClassVar[ContainerState]
    CONTAINER_STATE_DEAD: _ClassVar[ContainerState]

class ContainerHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTAINER_HEALTH_UNSPECIFIED: _ClassVar[ContainerHealth]
    CONTAINER_HEALTH_NONE: _ClassVar[ContainerHealth]
    CONTAINER_HEALTH_STARTING: _ClassVar[ContainerHealth]
    CONTAINER_HEALTH_HEALTHY: _ClassVar[ContainerHealth]
    CONTAINER_HEALTH_UNHEALTHY: _ClassVar[ContainerHealth]

class RestartPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_POLICY_UNSPECIFIED: _ClassVar[RestartPolicy]
    RESTART_POLICY_NO: _ClassVar[RestartPolicy]
    RESTART_POLICY_ALWAYS: _ClassVar[RestartPolicy]
    RESTART_POLICY_UNLESS_STOPPED: _ClassVar[RestartPolicy]
    RESTART_POLICY_ON_FAILURE: _ClassVar[RestartPolicy]

class PortProtocol(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PORT_PROTOCOL_UNSPECIFIED: _ClassVar[PortProtocol]
    PORT_PROTOCOL_TCP: _ClassVar[PortProtocol]
    PORT_PROTOCOL_UDP: _ClassVar[PortProtocol]
    PORT_PROTOCOL_SCTP: _ClassVar[PortProtocol]

class MountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MOUNT_TYPE_UNSPECIFIED: _ClassVar[MountType]
    MOUNT_TYPE_VOLUME: _ClassVar[MountType]
    MOUNT_TYPE_BIND: _ClassVar[MountType]
    MOUNT_TYPE_TMPFS: _ClassVar[MountType]
    MOUNT_TYPE_NPIPE: _ClassVar[MountType]
    MOUNT_TYPE_CLUSTER: _ClassVar[MountType]
    MOUNT_TYPE_IMAGE: _ClassVar[MountType]
CONTAINER_STATE_UNSPECIFIED: ContainerState
CONTAINER_STATE_CREATED: ContainerState
CONTAINER_STATE_RUNNING: ContainerState
CONTAINER_STATE_PAUSED: ContainerState
CONTAINER_STATE_RESTARTING: ContainerState
CONTAINER_STATE_REMOVING: ContainerState
CONTAINER_STATE_EXITED: ContainerState
CONTAINER_STATE_DEAD: ContainerState
CONTAINER_HEALTH_UNSPECIFIED: ContainerHealth
CONTAINER_HEALTH_NONE: ContainerHealth
CONTAINER_HEALTH_STARTING: ContainerHealth
CONTAINER_HEALTH_HEALTHY: ContainerHealth
CONTAINER_HEALTH_UNHEALTHY: ContainerHealth
RESTART_POLICY_UNSPECIFIED: RestartPolicy
RESTART_POLICY_NO: RestartPolicy
RESTART_POLICY_ALWAYS: RestartPolicy
RESTART_POLICY_UNLESS_STOPPED: RestartPolicy
RESTART_POLICY_ON_FAILURE: RestartPolicy
PORT_PROTOCOL_UNSPECIFIED: PortProtocol
PORT_PROTOCOL_TCP: PortProtocol
PORT_PROTOCOL_UDP: PortProtocol
PORT_PROTOCOL_SCTP: PortProtocol
MOUNT_TYPE_UNSPECIFIED: MountType
MOUNT_TYPE_VOLUME: MountType
MOUNT_TYPE_BIND: MountType
MOUNT_TYPE_TMPFS: MountType
MOUNT_TYPE_NPIPE: MountType
MOUNT_TYPE_CLUSTER: MountType
MOUNT_TYPE_IMAGE: MountType

class Container(_message.Message):
    __slots__ = ("id", "name", "image", "image_id", "command", "state", "status", "created_at", "ports", "labels", "started_at", "finished_at", "exit_code", "restart_count", "health", "mounts", "networks", "restart_policy", "platform")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    RESTART_POLICY_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image: str
    image_id: str
    command: str
    state: ContainerState
    status: str
    created_at: _timestamp_pb2.Timestamp
    ports: _containers.RepeatedCompositeFieldContainer[Port]
    labels: _containers.ScalarMap[str, str]
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    exit_code: int
    restart_count: int
    health: ContainerHealth
    mounts: _containers.RepeatedCompositeFieldContainer[Mount]
    networks: _containers.RepeatedCompositeFieldContainer[ContainerNetwork]
    restart_policy: RestartPolicy
    platform: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., image_id: _Optional[str] = ..., command: _Optional[str] = ..., state: _Optional[_Union[ContainerState, str]] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ports: _Optional[_Iterable[_Union[Port, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exit_code: _Optional[int] = ..., restart_count: _Optional[int] = ..., health: _Optional[_Union[ContainerHealth, str]] = ..., mounts: _Optional[_Iterable[_Union[Mount, _Mapping]]] = ..., networks: _Optional[_Iterable[_Union[ContainerNetwork, _Mapping]]] = ..., restart_policy: _Optional[_Union[RestartPolicy, str]] = ..., platform: _Optional[str] = ...) -> None: ...

class Port(_message.Message):
    __slots__ = ("private_port", "public_port", "protocol", "ip")
    PRIVATE_PORT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    private_port: int
    public_port: int
    protocol: PortProtocol
    ip: str
    def __init__(self, private_port: _Optional[int] = ..., public_port: _Optional[int] = ..., protocol: _Optional[_Union[PortProtocol, str]] = ..., ip: _Optional[str] = ...) -> None: ...

class Mount(_message.Message):
    __slots__ = ("type", "source", "destination", "read_only")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    type: MountType
    source: str
    destination: str
    read_only: bool
    def __init__(self, type: _Optional[_Union[MountType, str]] = ..., source: _Optional[str] = ..., destination: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class ContainerNetwork(_message.Message):
    __slots__ = ("name", "ip_address", "gateway", "mac_address")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    ip_address: str
    gateway: str
    mac_address: str
    def __init__(self, name: _Optional[str] = ..., ip_address: _Optional[str] = ..., gateway: _Optional[str] = ..., mac_address: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("id", "repo_tags", "repo_digests", "size_bytes", "created_at", "containers", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REPO_TAGS_FIELD_NUMBER: _ClassVar[int]
    REPO_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    repo_tags: _containers.RepeatedScalarFieldContainer[str]
    repo_digests: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    created_at: _timestamp_pb2.Timestamp
    containers: int
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., repo_tags: _Optional[_Iterable[str]] = ..., repo_digests: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., containers: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ContainerStats(_message.Message):
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

class DaemonInfo(_message.Message):
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
