from aether.tasks.v1 import task_pb2 as _task_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskCreated(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class TaskUpdated(_message.Message):
    __slots__ = ("task", "changes")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    changes: _containers.RepeatedCompositeFieldContainer[_task_pb2.HistoryEntry]
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[_task_pb2.HistoryEntry, _Mapping]]] = ...) -> None: ...

class TaskCompleted(_message.Message):
    __slots__ = ("task", "completion_time_hours")
    TASK_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TIME_HOURS_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    completion_time_hours: float
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., completion_time_hours: _Optional[float] = ...) -> None: ...

class TaskDeleted(_message.Message):
    __slots__ = ("task", "deleted_by")
    TASK_FIELD_NUMBER: _ClassVar[int]
    DELETED_BY_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    deleted_by: str
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., deleted_by: _Optional[str] = ...) -> None: ...

class TaskDueSoon(_message.Message):
    __slots__ = ("task", "due_in_seconds")
    TASK_FIELD_NUMBER: _ClassVar[int]
    DUE_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    due_in_seconds: int
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., due_in_seconds: _Optional[int] = ...) -> None: ...

class TaskOverdue(_message.Message):
    __slots__ = ("task", "overdue_by_seconds")
    TASK_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_BY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    overdue_by_seconds: int
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., overdue_by_seconds: _Optional[int] = ...) -> None: ...
