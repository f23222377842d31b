from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from aether.rag.v1 import document_pb2 as _document_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STAGE_UNSPECIFIED: _ClassVar[IngestStage]
    INGEST_STAGE_FETCHING: _ClassVar[IngestStage]
    INGEST_STAGE_EXTRACTING: _ClassVar[IngestStage]
    INGEST_STAGE_CHUNKING: _ClassVar[IngestStage]
    INGEST_STAGE_EMBEDDING: _ClassVar[IngestStage]
    INGEST_STAGE_STORING: _ClassVar[IngestStage]

class SearchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_MODE_UNSPECIFIED: _ClassVar[SearchMode]
    SEARCH_MODE_DENSE: _ClassVar[SearchMode]
    SEARCH_MODE_LEXICAL: _ClassVar[SearchMode]
    SEARCH_MODE_HYBRID: _ClassVar[SearchMode]
INGEST_STAGE_UNSPECIFIED: IngestStage
INGEST_STAGE_FETCHING: IngestStage
INGEST_STAGE_EXTRACTING: IngestStage
INGEST_STAGE_CHUNKING: IngestStage
INGEST_STAGE_EMBEDDING: IngestStage
INGEST_STAGE_STORING: IngestStage
SEARCH_MODE_UNSPECIFIED: SearchMode
SEARCH_MODE_DENSE: SearchMode
SEARCH_MODE_LEXICAL: SearchMode
SEARCH_MODE_HYBRID: SearchMode

class IngestDocumentRequest(_message.Message):
    __slots__ = ("text", "markdown", "pdf", "url", "title", "metadata", "chunk_size", "chunk_overlap", "request_id", "replace_document_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    PDF_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACE_DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    markdown: str
    pdf: bytes
    url: str
    title: str
    metadata: _struct_pb2.Struct
    chunk_size: int
    chunk_overlap: int
    request_id: str
    replace_document_id: str
    def __init__(self, text: _Optional[str] = ..., markdown: _Optional[str] = ..., pdf: _Optional[bytes] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunk_size: _Optional[int] = ..., chunk_overlap: _Optional[int] = ..., request_id: _Optional[str] = ..., replace_document_id: _Optional[str] = ...) -> None: ...

class IngestDocumentResponse(_message.Message):
    __slots__ = ("progress", "final")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    progress: IngestDocumentProgress
    final: IngestDocumentFinal
    def __init__(self, progress: _Optional[_Union[IngestDocumentProgress, _Mapping]] = ..., final: _Optional[_Union[IngestDocumentFinal, _Mapping]] = ...) -> None: ...

class IngestDocumentProgress(_message.Message):
    __slots__ = ("document_id", "stage", "chunks_embedded", "total_chunks")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    stage: IngestStage
    chunks_embedded: int
    total_chunks: int
    def __init__(self, document_id: _Optional[str] = ..., stage: _Optional[_Union[IngestStage, str]] = ..., chunks_embedded: _Optional[int] = ..., total_chunks: _Optional[int] = ...) -> None: ...

class IngestDocumentFinal(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: _document_pb2.Document
    def __init__(self, document: _Optional[_Union[_document_pb2.Document, _Mapping]] = ...) -> None: ...

class BatchIngestDocumentsRequest(_message.Message):
    __slots__ = ("documents",)
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[IngestDocumentRequest]
    def __init__(self, documents: _Optional[_Iterable[_Union[IngestDocumentRequest, _Mapping]]] = ...) -> None: ...

class BatchIngestDocumentsResponse(_message.Message):
    __slots__ = ("item", "final")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    item: BatchIngestItem
    final: BatchIngestDocumentsFinal
    def __init__(self, item: _Optional[_Union[BatchIngestItem, _Mapping]] = ..., final: _Optional[_Union[BatchIngestDocumentsFinal, _Mapping]] = ...) -> None: ...

class BatchIngestItem(_message.Message):
    __slots__ = ("index", "progress", "document", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    progress: IngestDocumentProgress
    document: _document_pb2.Document
    error: _status_pb2.Status
    def __init__(self, index: _Optional[int] = ..., progress: _Optional[_Union[IngestDocumentProgress, _Mapping]] = ..., document: _Optional[_Union[_document_pb2.Document, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class BatchIngestDocumentsFinal(_message.Message):
    __slots__ = ("succeeded", "failed")
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    succeeded: int
    failed: int
    def __init__(self, succeeded: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...

class SearchDocumentsRequest(_message.Message):
    __slots__ = ("query", "top_k", "filters", "document_ids", "min_score", "mode")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    query: str
    top_k: int
    filters: _struct_pb2.Struct
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    min_score: float
    mode: SearchMode
    def __init__(self, query: _Optional[str] = ..., top_k: _Optional[int] = ..., filters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., document_ids: _Optional[_Iterable[str]] = ..., min_score: _Optional[float] = ..., mode: _Optional[_Union[SearchMode, str]] = ...) -> None: ...

class SearchDocumentsResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("document_id", "chunk", "score", "metadata", "chunk_index", "document_title", "chunk_id", "page")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TITLE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    chunk: str
    score: float
    metadata: _struct_pb2.Struct
    chunk_index: int
    document_title: str
    chunk_id: str
    page: int
    def __init__(self, document_id: _Optional[str] = ..., chunk: _Optional[str] = ..., score: _Optional[float] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunk_index: _Optional[int] = ..., document_title: _Optional[str] = ..., chunk_id: _Optional[str] = ..., page: _Optional[int] = ...) -> None: ...

class ListDocumentsRequest(_message.Message):
    __slots__ = ("page", "limit", "sort", "order", "source_type", "status", "user_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    page: int
    limit: int
    sort: str
    order: str
    source_type: _document_pb2.SourceType
    status: _document_pb2.DocumentStatus
    user_id: str
    def __init__(self, page: _Optional[int] = ..., limit: _Optional[int] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., source_type: _Optional[_Union[_document_pb2.SourceType, str]] = ..., status: _Optional[_Union[_document_pb2.DocumentStatus, str]] = ..., user_id: _Optional[str] = ...) -> None: ...

class ListDocumentsResponse(_message.Message):
    __slots__ = ("documents", "pagination")
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[_document_pb2.Document]
    pagination: _pagination_pb2.Pagination
    def __init__(self, documents: _Optional[_Iterable[_Union[_document_pb2.Document, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class GetDocumentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteDocumentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteDocumentResponse(_message.Message):
    __slots__ = ("success", "message", "id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class AskQuestionRequest(_message.Message):
    __slots__ = ("question", "top_k", "model", "filters", "document_ids", "min_score")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    question: str
    top_k: int
    model: str
    filters: _struct_pb2.Struct
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    min_score: float
    def __init__(self, question: _Optional[str] = ..., top_k: _Optional[int] = ..., model: _Optional[str] = ..., filters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., document_ids: _Optional[_Iterable[str]] = ..., min_score: _Optional[float] = ...) -> None: ...

class AskQuestionResponse(_message.Message):
    __slots__ = ("answer", "citations", "model")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    answer: str
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    model: str
    def __init__(self, answer: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., model: _Optional[str] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("document_id", "chunk", "score", "document_title", "chunk_index", "chunk_id", "page")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TITLE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    chunk: str
    score: float
    document_title: str
    chunk_index: int
    chunk_id: str
    page: int
    def __init__(self, document_id: _Optional[str] = ..., chunk: _Optional[str] = ..., score: _Optional[float] = ..., document_title: _Optional[str] = ..., chunk_index: _Optional[int] = ..., chunk_id: _Optional[str] = ..., page: _Optional[int] = ...) -> None: ...
