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

class ComplexityLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLEXITY_LEVEL_UNSPECIFIED: _ClassVar[ComplexityLevel]
    COMPLEXITY_LEVEL_LOW: _ClassVar[ComplexityLevel]
    COMPLEXITY_LEVEL_MEDIUM: _ClassVar[ComplexityLevel]
    COMPLEXITY_LEVEL_HIGH: _ClassVar[ComplexityLevel]
    COMPLEXITY_LEVEL_VERY_HIGH: _ClassVar[ComplexityLevel]
COMPLEXITY_LEVEL_UNSPECIFIED: ComplexityLevel
COMPLEXITY_LEVEL_LOW: ComplexityLevel
COMPLEXITY_LEVEL_MEDIUM: ComplexityLevel
COMPLEXITY_LEVEL_HIGH: ComplexityLevel
COMPLEXITY_LEVEL_VERY_HIGH: ComplexityLevel

class Issue(_message.Message):
    __slots__ = ("severity", "line", "column", "message", "rule", "suggestion")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    severity: str
    line: int
    column: int
    message: str
    rule: str
    suggestion: str
    def __init__(self, severity: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., message: _Optional[str] = ..., rule: _Optional[str] = ..., suggestion: _Optional[str] = ...) -> None: ...

class Complexity(_message.Message):
    __slots__ = ("cyclomatic", "cognitive")
    CYCLOMATIC_FIELD_NUMBER: _ClassVar[int]
    COGNITIVE_FIELD_NUMBER: _ClassVar[int]
    cyclomatic: int
    cognitive: int
    def __init__(self, cyclomatic: _Optional[int] = ..., cognitive: _Optional[int] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("id", "user_id", "language", "score", "issues", "suggestions", "security_issues", "complexity", "lines_of_code", "code_sha256", "created_at", "partial", "analyzers", "ai")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ISSUES_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    LINES_OF_CODE_FIELD_NUMBER: _ClassVar[int]
    CODE_SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    AI_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    language: str
    score: int
    issues: _containers.RepeatedCompositeFieldContainer[Issue]
    suggestions: _containers.RepeatedScalarFieldContainer[str]
    security_issues: _containers.RepeatedCompositeFieldContainer[Issue]
    complexity: Complexity
    lines_of_code: int
    code_sha256: str
    created_at: _timestamp_pb2.Timestamp
    partial: bool
    analyzers: _containers.RepeatedCompositeFieldContainer[AnalyzerRun]
    ai: AiReview
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., language: _Optional[str] = ..., score: _Optional[int] = ..., issues: _Optional[_Iterable[_Union[Issue, _Mapping]]] = ..., suggestions: _Optional[_Iterable[str]] = ..., security_issues: _Optional[_Iterable[_Union[Issue, _Mapping]]] = ..., complexity: _Optional[_Union[Complexity, _Mapping]] = ..., lines_of_code: _Optional[int] = ..., code_sha256: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partial: _Optional[bool] = ..., analyzers: _Optional[_Iterable[_Union[AnalyzerRun, _Mapping]]] = ..., ai: _Optional[_Union[AiReview, _Mapping]] = ...) -> None: ...

class AnalyzerRun(_message.Message):
    __slots__ = ("name", "status", "findings", "detail", "duration_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    findings: int
    detail: str
    duration_ms: int
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., findings: _Optional[int] = ..., detail: _Optional[str] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class AiReview(_message.Message):
    __slots__ = ("status", "model", "detail", "findings")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    status: str
    model: str
    detail: str
    findings: int
    def __init__(self, status: _Optional[str] = ..., model: _Optional[str] = ..., detail: _Optional[str] = ..., findings: _Optional[int] = ...) -> None: ...
