"""Domain <-> proto conversions for RAG, in one place, and `to_event`, the one
mapping of its domain events."""

from __future__ import annotations

from typing import Any

from aether.rag.v1 import document_pb2, events_pb2
from aether.rag.v1 import rag_service_pb2 as pb
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from servers.platform.context import request_id
from servers.platform.errors import FieldViolation, InvalidArgument, status_of
from servers.platform.pagination import pagination
from servers.platform.paging import Page
from servers.platform.timestamps import timestamp
from servers.platform.uow import OutgoingEvent
from servers.rag import batch, ingest
from servers.rag.domain import (
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TOP_K,
    DENSE,
    FAILED,
    HYBRID,
    LEXICAL,
    MARKDOWN,
    PDF,
    PROCESSING,
    READY,
    TEXT,
    URL,
    Answer,
    ChunkingPlan,
    Document,
    DocumentDeleted,
    DocumentIngested,
    Hit,
    RagEvent,
    SearchQuery,
    clean_metadata,
    parse_filters,
)

SOURCE_TYPES = {
    TEXT: document_pb2.SOURCE_TYPE_TEXT,
    MARKDOWN: document_pb2.SOURCE_TYPE_MARKDOWN,
    PDF: document_pb2.SOURCE_TYPE_PDF,
    URL: document_pb2.SOURCE_TYPE_URL,
}
STATUSES = {
    PROCESSING: document_pb2.DOCUMENT_STATUS_PROCESSING,
    READY: document_pb2.DOCUMENT_STATUS_READY,
    FAILED: document_pb2.DOCUMENT_STATUS_FAILED,
}
STAGES = {
    ingest.FETCHING: pb.INGEST_STAGE_FETCHING,
    ingest.EXTRACTING: pb.INGEST_STAGE_EXTRACTING,
    ingest.CHUNKING: pb.INGEST_STAGE_CHUNKING,
    ingest.EMBEDDING: pb.INGEST_STAGE_EMBEDDING,
    ingest.STORING: pb.INGEST_STAGE_STORING,
}
MODES = {pb.SEARCH_MODE_DENSE: DENSE, pb.SEARCH_MODE_LEXICAL: LEXICAL, pb.SEARCH_MODE_HYBRID: HYBRID}
_SOURCE_NAMES = {v: k for k, v in SOURCE_TYPES.items()}
_STATUS_NAMES = {v: k for k, v in STATUSES.items()}


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def _dict(message: Message, field: str) -> dict[str, Any]:
    return json_format.MessageToDict(getattr(message, field)) if message.HasField(field) else {}


def document_to_proto(doc: Document) -> document_pb2.Document:
    return document_pb2.Document(
        id=doc.id,
        user_id=doc.user_id,
        title=doc.title,
        source_type=SOURCE_TYPES[doc.source_type],
        source_url=doc.source_url,
        status=STATUSES[doc.status],
        status_message=doc.status_message,
        metadata=_struct(doc.metadata),
        chunk_count=doc.chunk_count,
        chunk_size=doc.chunk_size,
        chunk_overlap=doc.chunk_overlap,
        size_bytes=doc.size_bytes,
        content_sha256=doc.content_sha256,
        embedding_model=doc.embedding_model,
        created_at=timestamp(doc.created_at),
        updated_at=timestamp(doc.updated_at),
    )


def ingest_request(request: pb.IngestDocumentRequest) -> ingest.IngestRequest:
    kind = request.WhichOneof("source")
    if kind is None:  # also enforced by the proto's rules
        raise InvalidArgument("a source is required", [FieldViolation("text", "text, markdown, pdf or url")])
    if kind == "pdf":
        source = ingest.Source(PDF, data=request.pdf)
    else:
        source = ingest.Source(
            {"text": TEXT, "markdown": MARKDOWN, "url": URL}[kind], text=getattr(request, kind)
        )
    overlap = request.chunk_overlap if request.HasField("chunk_overlap") else DEFAULT_CHUNK_OVERLAP
    return ingest.IngestRequest(
        source=source,
        title=request.title,
        metadata=clean_metadata(_dict(request, "metadata")),
        plan=ChunkingPlan(request.chunk_size or DEFAULT_CHUNK_SIZE, overlap),
        request_id=request.request_id,
        replace_document_id=request.replace_document_id,
    )


def _progress(item: ingest.Progress) -> pb.IngestDocumentProgress:
    return pb.IngestDocumentProgress(
        document_id=item.document_id,
        stage=STAGES[item.stage],
        chunks_embedded=item.chunks_embedded,
        total_chunks=item.total_chunks,
    )


def progress_to_proto(item: ingest.Progress | Document) -> pb.IngestDocumentResponse:
    if isinstance(item, Document):
        return pb.IngestDocumentResponse(final=pb.IngestDocumentFinal(document=document_to_proto(item)))
    return pb.IngestDocumentResponse(progress=_progress(item))


def batch_requests(request: pb.BatchIngestDocumentsRequest) -> list[ingest.IngestRequest]:
    """Every document of the batch, or INVALID_ARGUMENT naming each bad one
    (`documents[2].metadata.x`) before any is ingested."""
    out: list[ingest.IngestRequest] = []
    violations: list[FieldViolation] = []
    for index, document in enumerate(request.documents):
        try:
            out.append(ingest_request(document))
        except InvalidArgument as error:
            where = f"documents[{index}]"
            violations += [
                FieldViolation(f"{where}.{v.field}" if v.field else where, v.description)
                for v in error.violations
            ] or [FieldViolation(where, error.message)]
    if violations:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        raise InvalidArgument(f"invalid request: {summary}", violations)
    return out


def batch_event_to_proto(event: batch.Item | batch.Done) -> pb.BatchIngestDocumentsResponse:
    if isinstance(event, batch.Done):
        final = pb.BatchIngestDocumentsFinal(succeeded=event.succeeded, failed=event.failed)
        return pb.BatchIngestDocumentsResponse(final=final)
    match event.event:
        case Document() as doc:
            item = pb.BatchIngestItem(index=event.index, document=document_to_proto(doc))
        case Exception() as error:
            item = pb.BatchIngestItem(index=event.index, error=status_of(error, request_id()))
        case ingest.Progress() as progress:
            item = pb.BatchIngestItem(index=event.index, progress=_progress(progress))
    return pb.BatchIngestDocumentsResponse(item=item)


def search_query(
    request: pb.SearchDocumentsRequest | pb.AskQuestionRequest, text: str, mode: int = 0
) -> SearchQuery:
    return SearchQuery(
        text=text,
        top_k=request.top_k or DEFAULT_TOP_K,
        # Hybrid unless asked: it beats dense and lexical on benchmarks/rag_eval.py (docs/rag.md).
        mode=MODES.get(mode, HYBRID),  # type: ignore[call-overload]
        conditions=parse_filters(_dict(request, "filters")),
        document_ids=tuple(request.document_ids),
        min_score=request.min_score if request.HasField("min_score") else None,
    )


def hit_to_proto(hit: Hit) -> pb.SearchHit:
    return pb.SearchHit(
        document_id=hit.document_id,
        chunk=hit.text,
        score=hit.score,
        metadata=_struct(hit.metadata),
        chunk_index=hit.chunk_index,
        document_title=hit.document_title,
        chunk_id=hit.chunk_id,
        page=hit.page,
    )


def answer_to_proto(answer: Answer) -> pb.AskQuestionResponse:
    return pb.AskQuestionResponse(
        answer=answer.text,
        model=answer.model,
        citations=[
            pb.Citation(
                document_id=h.document_id,
                chunk=h.text,
                score=h.score,
                document_title=h.document_title,
                chunk_index=h.chunk_index,
                chunk_id=h.chunk_id,
                page=h.page,
            )
            for h in answer.citations
        ],
    )


def page_to_proto(page: Page[Document]) -> pb.ListDocumentsResponse:
    return pb.ListDocumentsResponse(
        documents=[document_to_proto(d) for d in page.items], pagination=pagination(page)
    )


def source_name(value: int) -> str:
    return _SOURCE_NAMES.get(value, "")  # type: ignore[call-overload]


def status_name(value: int) -> str:
    return _STATUS_NAMES.get(value, "")  # type: ignore[call-overload]


def to_event(event: RagEvent) -> OutgoingEvent:
    """The one mapping of RAG's domain events to their protos."""
    payload: Message
    match event:
        case DocumentIngested(document=doc, replaced=replaced):
            kind = "ingested"
            payload = events_pb2.DocumentIngested(document=document_to_proto(doc), replaced=replaced)
        case DocumentDeleted(document=doc, deleted_by=by):
            kind = "deleted"
            payload = events_pb2.DocumentDeleted(document=document_to_proto(doc), deleted_by=by)
    return OutgoingEvent(f"rag.document.{kind}", doc.id, payload)
