import datetime

from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordEventRequest(_message.Message):
    __slots__ = ("event_type", "user_id", "metadata", "timestamp", "request_id")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    user_id: str
    metadata: _struct_pb2.Struct
    timestamp: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, event_type: _Optional[str] = ..., user_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordEventResponse(_message.Message):
    __slots__ = ("success", "event_id", "event_type")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    event_id: str
    event_type: str
    def __init__(self, success: _Optional[bool] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("start_date", "end_date", "granularity", "metric", "user_id")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    start_date: _timestamp_pb2.Timestamp
    end_date: _timestamp_pb2.Timestamp
    granularity: str
    metric: str
    user_id: str
    def __init__(self, start_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., granularity: _Optional[str] = ..., metric: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("period", "metrics")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    period: Period
    metrics: _containers.RepeatedCompositeFieldContainer[UsageBucket]
    def __init__(self, period: _Optional[_Union[Period, _Mapping]] = ..., metrics: _Optional[_Iterable[_Union[UsageBucket, _Mapping]]] = ...) -> None: ...

class Period(_message.Message):
    __slots__ = ("start_date", "end_date", "granularity")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    start_date: _timestamp_pb2.Timestamp
    end_date: _timestamp_pb2.Timestamp
    granularity: str
    def __init__(self, start_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., granularity: _Optional[str] = ...) -> None: ...

class UsageBucket(_message.Message):
    __slots__ = ("bucket_start", "bucket_end", "task_created", "task_completed", "ai_requests", "code_reviews", "active_users")
    BUCKET_START_FIELD_NUMBER: _ClassVar[int]
    BUCKET_END_FIELD_NUMBER: _ClassVar[int]
    TASK_CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AI_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CODE_REVIEWS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_USERS_FIELD_NUMBER: _ClassVar[int]
    bucket_start: _timestamp_pb2.Timestamp
    bucket_end: _timestamp_pb2.Timestamp
    task_created: int
    task_completed: int
    ai_requests: int
    code_reviews: int
    active_users: int
    def __init__(self, bucket_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_created: _Optional[int] = ..., task_completed: _Optional[int] = ..., ai_requests: _Optional[int] = ..., code_reviews: _Optional[int] = ..., active_users: _Optional[int] = ...) -> None: ...

class GetErrorsRequest(_message.Message):
    __slots__ = ("start_date", "end_date", "severity", "service", "page", "limit")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start_date: _timestamp_pb2.Timestamp
    end_date: _timestamp_pb2.Timestamp
    severity: str
    service: str
    page: int
    limit: int
    def __init__(self, start_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[str] = ..., service: _Optional[str] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class GetErrorsResponse(_message.Message):
    __slots__ = ("summary", "errors", "pagination")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    summary: ErrorSummary
    errors: _containers.RepeatedCompositeFieldContainer[ErrorGroup]
    pagination: _pagination_pb2.Pagination
    def __init__(self, summary: _Optional[_Union[ErrorSummary, _Mapping]] = ..., errors: _Optional[_Iterable[_Union[ErrorGroup, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class ErrorSummary(_message.Message):
    __slots__ = ("total_errors", "by_severity", "by_service")
    class BySeverityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByServiceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BY_SERVICE_FIELD_NUMBER: _ClassVar[int]
    total_errors: int
    by_severity: _containers.ScalarMap[str, int]
    by_service: _containers.ScalarMap[str, int]
    def __init__(self, total_errors: _Optional[int] = ..., by_severity: _Optional[_Mapping[str, int]] = ..., by_service: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ErrorGroup(_message.Message):
    __slots__ = ("service", "severity", "message", "error_type", "count", "first_seen", "last_seen", "last_request_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    severity: str
    message: str
    error_type: str
    count: int
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    last_request_id: str
    def __init__(self, service: _Optional[str] = ..., severity: _Optional[str] = ..., message: _Optional[str] = ..., error_type: _Optional[str] = ..., count: _Optional[int] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_request_id: _Optional[str] = ...) -> None: ...

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "timestamp", "metrics", "services")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    status: str
    timestamp: _timestamp_pb2.Timestamp
    metrics: SystemMetrics
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    def __init__(self, status: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metrics: _Optional[_Union[SystemMetrics, _Mapping]] = ..., services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ...) -> None: ...

class SystemMetrics(_message.Message):
    __slots__ = ("cpu", "memory", "disk")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory: float
    disk: float
    def __init__(self, cpu: _Optional[float] = ..., memory: _Optional[float] = ..., disk: _Optional[float] = ...) -> None: ...

class ServiceHealth(_message.Message):
    __slots__ = ("name", "status", "latency_ms", "uptime_seconds", "last_check")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECK_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    latency_ms: float
    uptime_seconds: int
    last_check: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., latency_ms: _Optional[float] = ..., uptime_seconds: _Optional[int] = ..., last_check: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDashboardRequest(_message.Message):
    __slots__ = ("period", "top_users_limit")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TOP_USERS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    period: str
    top_users_limit: int
    def __init__(self, period: _Optional[str] = ..., top_users_limit: _Optional[int] = ...) -> None: ...

class GetDashboardResponse(_message.Message):
    __slots__ = ("summary", "trends", "top_users")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TRENDS_FIELD_NUMBER: _ClassVar[int]
    TOP_USERS_FIELD_NUMBER: _ClassVar[int]
    summary: DashboardSummary
    trends: DashboardTrends
    top_users: _containers.RepeatedCompositeFieldContainer[TopUser]
    def __init__(self, summary: _Optional[_Union[DashboardSummary, _Mapping]] = ..., trends: _Optional[_Union[DashboardTrends, _Mapping]] = ..., top_users: _Optional[_Iterable[_Union[TopUser, _Mapping]]] = ...) -> None: ...

class DashboardSummary(_message.Message):
    __slots__ = ("task_created", "task_completed", "ai_requests", "code_reviews", "active_users", "errors", "system_health")
    TASK_CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AI_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CODE_REVIEWS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_USERS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_HEALTH_FIELD_NUMBER: _ClassVar[int]
    task_created: int
    task_completed: int
    ai_requests: int
    code_reviews: int
    active_users: int
    errors: int
    system_health: str
    def __init__(self, task_created: _Optional[int] = ..., task_completed: _Optional[int] = ..., ai_requests: _Optional[int] = ..., code_reviews: _Optional[int] = ..., active_users: _Optional[int] = ..., errors: _Optional[int] = ..., system_health: _Optional[str] = ...) -> None: ...

class DashboardTrends(_message.Message):
    __slots__ = ("task_created", "task_completed", "ai_requests", "code_reviews", "active_users", "errors")
    TASK_CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AI_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CODE_REVIEWS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_USERS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    task_created: float
    task_completed: float
    ai_requests: float
    code_reviews: float
    active_users: float
    errors: float
    def __init__(self, task_created: _Optional[float] = ..., task_completed: _Optional[float] = ..., ai_requests: _Optional[float] = ..., code_reviews: _Optional[float] = ..., active_users: _Optional[float] = ..., errors: _Optional[float] = ...) -> None: ...

class TopUser(_message.Message):
    __slots__ = ("user_id", "event_count", "tasks_completed", "ai_requests")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASKS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AI_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    event_count: int
    tasks_completed: int
    ai_requests: int
    def __init__(self, user_id: _Optional[str] = ..., event_count: _Optional[int] = ..., tasks_completed: _Optional[int] = ..., ai_requests: _Optional[int] = ...) -> None: ...
