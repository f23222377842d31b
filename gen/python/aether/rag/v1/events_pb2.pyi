from aether.rag.v1 import document_pb2 as _document_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DocumentIngested(_message.Message):
    __slots__ = ("document", "replaced")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    document: _document_pb2.Document
    replaced: bool
    def __init__(self, document: _Optional[_Union[_document_pb2.Document, _Mapping]] = ..., replaced: _Optional[bool] = ...) -> None: ...

class DocumentDeleted(_message.Message):
    __slots__ = ("document", "deleted_by")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    DELETED_BY_FIELD_NUMBER: _ClassVar[int]
    document: _document_pb2.Document
    deleted_by: str
    def __init__(self, document: _Optional[_Union[_document_pb2.Document, _Mapping]] = ..., deleted_by: _Optional[str] = ...) -> None: ...
