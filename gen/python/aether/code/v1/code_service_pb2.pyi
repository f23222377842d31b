from aether.code.v1 import review_pb2 as _review_pb2
from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import output_pb2 as _output_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReviewRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ReviewCodeRequest(_message.Message):
    __slots__ = ("code", "language", "context", "request_id", "filename")
    CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    language: str
    context: str
    request_id: str
    filename: str
    def __init__(self, code: _Optional[str] = ..., language: _Optional[str] = ..., context: _Optional[str] = ..., request_id: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ReviewCodeResponse(_message.Message):
    __slots__ = ("issues", "suggestions", "score", "security_issues", "complexity", "review_id", "language", "analyzers", "partial", "ai")
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ISSUES_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    AI_FIELD_NUMBER: _ClassVar[int]
    issues: _containers.RepeatedCompositeFieldContainer[_review_pb2.Issue]
    suggestions: _containers.RepeatedScalarFieldContainer[str]
    score: int
    security_issues: _containers.RepeatedCompositeFieldContainer[_review_pb2.Issue]
    complexity: _review_pb2.Complexity
    review_id: str
    language: str
    analyzers: _containers.RepeatedCompositeFieldContainer[_review_pb2.AnalyzerRun]
    partial: bool
    ai: _review_pb2.AiReview
    def __init__(self, issues: _Optional[_Iterable[_Union[_review_pb2.Issue, _Mapping]]] = ..., suggestions: _Optional[_Iterable[str]] = ..., score: _Optional[int] = ..., security_issues: _Optional[_Iterable[_Union[_review_pb2.Issue, _Mapping]]] = ..., complexity: _Optional[_Union[_review_pb2.Complexity, _Mapping]] = ..., review_id: _Optional[str] = ..., language: _Optional[str] = ..., analyzers: _Optional[_Iterable[_Union[_review_pb2.AnalyzerRun, _Mapping]]] = ..., partial: _Optional[bool] = ..., ai: _Optional[_Union[_review_pb2.AiReview, _Mapping]] = ...) -> None: ...

class RefactorCodeRequest(_message.Message):
    __slots__ = ("code", "instruction", "language", "filename")
    CODE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    instruction: str
    language: str
    filename: str
    def __init__(self, code: _Optional[str] = ..., instruction: _Optional[str] = ..., language: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class RefactorCodeResponse(_message.Message):
    __slots__ = ("refactored_code", "changes", "explanation")
    REFACTORED_CODE_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    refactored_code: str
    changes: _containers.RepeatedScalarFieldContainer[str]
    explanation: str
    def __init__(self, refactored_code: _Optional[str] = ..., changes: _Optional[_Iterable[str]] = ..., explanation: _Optional[str] = ...) -> None: ...

class GenerateTestsRequest(_message.Message):
    __slots__ = ("code", "language", "framework", "filename")
    CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    language: str
    framework: str
    filename: str
    def __init__(self, code: _Optional[str] = ..., language: _Optional[str] = ..., framework: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class GenerateTestsResponse(_message.Message):
    __slots__ = ("tests", "test_count", "coverage_estimate", "framework")
    TESTS_FIELD_NUMBER: _ClassVar[int]
    TEST_COUNT_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    tests: str
    test_count: int
    coverage_estimate: float
    framework: str
    def __init__(self, tests: _Optional[str] = ..., test_count: _Optional[int] = ..., coverage_estimate: _Optional[float] = ..., framework: _Optional[str] = ...) -> None: ...

class RunTestsRequest(_message.Message):
    __slots__ = ("files", "runner", "test_paths", "keyword", "verbose", "fail_fast", "timeout_seconds")
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    TEST_PATHS_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_FIELD_NUMBER: _ClassVar[int]
    VERBOSE_FIELD_NUMBER: _ClassVar[int]
    FAIL_FAST_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    files: _containers.ScalarMap[str, str]
    runner: str
    test_paths: _containers.RepeatedScalarFieldContainer[str]
    keyword: str
    verbose: bool
    fail_fast: bool
    timeout_seconds: int
    def __init__(self, files: _Optional[_Mapping[str, str]] = ..., runner: _Optional[str] = ..., test_paths: _Optional[_Iterable[str]] = ..., keyword: _Optional[str] = ..., verbose: _Optional[bool] = ..., fail_fast: _Optional[bool] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class RunTestsResponse(_message.Message):
    __slots__ = ("chunk", "final")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    chunk: RunTestsChunk
    final: RunTestsFinal
    def __init__(self, chunk: _Optional[_Union[RunTestsChunk, _Mapping]] = ..., final: _Optional[_Union[RunTestsFinal, _Mapping]] = ...) -> None: ...

class RunTestsChunk(_message.Message):
    __slots__ = ("content", "stream")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    content: str
    stream: _output_pb2.OutputStream
    def __init__(self, content: _Optional[str] = ..., stream: _Optional[_Union[_output_pb2.OutputStream, str]] = ...) -> None: ...

class RunTestsFinal(_message.Message):
    __slots__ = ("success", "output", "duration_ms", "summary", "exit_code", "timed_out", "output_truncated", "limit_exceeded")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    success: bool
    output: str
    duration_ms: int
    summary: TestSummary
    exit_code: int
    timed_out: bool
    output_truncated: bool
    limit_exceeded: str
    def __init__(self, success: _Optional[bool] = ..., output: _Optional[str] = ..., duration_ms: _Optional[int] = ..., summary: _Optional[_Union[TestSummary, _Mapping]] = ..., exit_code: _Optional[int] = ..., timed_out: _Optional[bool] = ..., output_truncated: _Optional[bool] = ..., limit_exceeded: _Optional[str] = ...) -> None: ...

class TestSummary(_message.Message):
    __slots__ = ("passed", "failed", "skipped", "total", "errors")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    passed: int
    failed: int
    skipped: int
    total: int
    errors: int
    def __init__(self, passed: _Optional[int] = ..., failed: _Optional[int] = ..., skipped: _Optional[int] = ..., total: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class AnalyzeComplexityRequest(_message.Message):
    __slots__ = ("code", "language", "filename")
    CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    language: str
    filename: str
    def __init__(self, code: _Optional[str] = ..., language: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class AnalyzeComplexityResponse(_message.Message):
    __slots__ = ("cyclomatic_complexity", "cognitive_complexity", "maintainability_index", "lines_of_code", "complexity_level", "recommendations", "functions", "language")
    CYCLOMATIC_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    COGNITIVE_COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    MAINTAINABILITY_INDEX_FIELD_NUMBER: _ClassVar[int]
    LINES_OF_CODE_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    cyclomatic_complexity: int
    cognitive_complexity: int
    maintainability_index: float
    lines_of_code: int
    complexity_level: _review_pb2.ComplexityLevel
    recommendations: _containers.RepeatedScalarFieldContainer[str]
    functions: _containers.RepeatedCompositeFieldContainer[FunctionComplexity]
    language: str
    def __init__(self, cyclomatic_complexity: _Optional[int] = ..., cognitive_complexity: _Optional[int] = ..., maintainability_index: _Optional[float] = ..., lines_of_code: _Optional[int] = ..., complexity_level: _Optional[_Union[_review_pb2.ComplexityLevel, str]] = ..., recommendations: _Optional[_Iterable[str]] = ..., functions: _Optional[_Iterable[_Union[FunctionComplexity, _Mapping]]] = ..., language: _Optional[str] = ...) -> None: ...

class FunctionComplexity(_message.Message):
    __slots__ = ("name", "line", "cyclomatic", "cognitive", "lines_of_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    CYCLOMATIC_FIELD_NUMBER: _ClassVar[int]
    COGNITIVE_FIELD_NUMBER: _ClassVar[int]
    LINES_OF_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    line: int
    cyclomatic: int
    cognitive: int
    lines_of_code: int
    def __init__(self, name: _Optional[str] = ..., line: _Optional[int] = ..., cyclomatic: _Optional[int] = ..., cognitive: _Optional[int] = ..., lines_of_code: _Optional[int] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("page", "limit", "sort", "order", "language", "user_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    page: int
    limit: int
    sort: str
    order: str
    language: str
    user_id: str
    def __init__(self, page: _Optional[int] = ..., limit: _Optional[int] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., language: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews", "pagination")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[_review_pb2.Review]
    pagination: _pagination_pb2.Pagination
    def __init__(self, reviews: _Optional[_Iterable[_Union[_review_pb2.Review, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...
