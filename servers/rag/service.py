"""gRPC transport for RagService: decode, call the use case, encode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from aether.rag.v1 import document_pb2, rag_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2 as pb

from servers.platform.paging import PageRequest
from servers.rag import mapping
from servers.rag.batch import ingest_batch
from servers.rag.ingest import Ingestion
from servers.rag.usecases import RagUseCases


class RagServicer(rag_service_pb2_grpc.RagServiceServicer):
    def __init__(self, usecases: RagUseCases, ingestion: Ingestion):
        self._uc = usecases
        self._ingestion = ingestion

    async def IngestDocument(
        self, request: pb.IngestDocumentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.IngestDocumentResponse]:
        async for item in self._ingestion.run(mapping.ingest_request(request)):
            yield mapping.progress_to_proto(item)

    async def BatchIngestDocuments(
        self, request: pb.BatchIngestDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.BatchIngestDocumentsResponse]:
        requests = mapping.batch_requests(request)  # every document checked before any is ingested
        async for event in ingest_batch(self._ingestion, requests):
            yield mapping.batch_event_to_proto(event)

    async def SearchDocuments(
        self, request: pb.SearchDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchDocumentsResponse:
        hits = await self._uc.search(mapping.search_query(request, request.query, request.mode))
        return pb.SearchDocumentsResponse(hits=[mapping.hit_to_proto(h) for h in hits])

    async def ListDocuments(
        self, request: pb.ListDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDocumentsResponse:
        page = await self._uc.list_page(
            PageRequest.of(request.page, request.limit),
            user_id=request.user_id,
            sort=request.sort,
            order=request.order,
            source_type=mapping.source_name(request.source_type),
            status=mapping.status_name(request.status),
        )
        return mapping.page_to_proto(page)

    async def GetDocument(
        self, request: pb.GetDocumentRequest, context: grpc.aio.ServicerContext
    ) -> document_pb2.Document:
        return mapping.document_to_proto(await self._uc.get(request.id))

    async def DeleteDocument(
        self, request: pb.DeleteDocumentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteDocumentResponse:
        doc = await self._uc.delete(request.id)
        return pb.DeleteDocumentResponse(success=True, message="Document deleted", id=doc.id)

    async def AskQuestion(
        self, request: pb.AskQuestionRequest, context: grpc.aio.ServicerContext
    ) -> pb.AskQuestionResponse:
        answer = await self._uc.ask(mapping.search_query(request, request.question), request.model)
        return mapping.answer_to_proto(answer)
