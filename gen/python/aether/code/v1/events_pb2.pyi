from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CodeReviewCompleted(_message.Message):
    __slots__ = ("review_id", "user_id", "language", "score", "issue_count", "security_issue_count", "lines_of_code")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ISSUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ISSUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LINES_OF_CODE_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    user_id: str
    language: str
    score: int
    issue_count: int
    security_issue_count: int
    lines_of_code: int
    def __init__(self, review_id: _Optional[str] = ..., user_id: _Optional[str] = ..., language: _Optional[str] = ..., score: _Optional[int] = ..., issue_count: _Optional[int] = ..., security_issue_count: _Optional[int] = ..., lines_of_code: _Optional[int] = ...) -> None: ...
