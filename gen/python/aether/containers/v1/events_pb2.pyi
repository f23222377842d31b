from aether.containers.v1 import container_pb2 as _container_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContainerLifecycleChanged(_message.Message):
    __slots__ = ("id", "name", "image", "state", "timeout_seconds", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image: str
    state: _container_pb2.ContainerState
    timeout_seconds: int
    force: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., state: _Optional[_Union[_container_pb2.ContainerState, str]] = ..., timeout_seconds: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class ImagePulled(_message.Message):
    __slots__ = ("reference", "image", "status")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    reference: str
    image: _container_pb2.Image
    status: str
    def __init__(self, reference: _Optional[str] = ..., image: _Optional[_Union[_container_pb2.Image, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...
