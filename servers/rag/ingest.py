"""Ingest: fetch, extract, chunk, embed, store, as a stream of progress.

Storing is three steps, so PostgreSQL and Chroma never disagree for long:
1. one transaction writes the chunk rows of a new generation (and, for a new
   document, its row in `processing`); nothing of it is searchable yet;
2. the vectors go to the user's Chroma collection;
3. one transaction publishes the generation (the document is `ready`, older
   generations' rows are gone) and records `rag.document.ingested`.
A crash after 1 or 2 leaves unpublished rows and vectors that the reconciler
removes (servers/rag/reconciler.py); a search never sees them, because
visibility is decided by PostgreSQL. A failure or a cancelled call undoes
steps 1 and 2 itself."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from servers.platform.errors import Conflict, NotFound
from servers.platform.scoping import Viewer, current_viewer
from servers.platform.uow import UnitOfWork
from servers.rag import extract
from servers.rag.domain import (
    MARKDOWN,
    PDF,
    PROCESSING,
    READY,
    URL,
    Chunk,
    ChunkingPlan,
    Document,
    DocumentIngested,
    Extracted,
    Scalar,
    derive_title,
)
from servers.rag.fetch import Fetched
from servers.rag.retrieval import Embedder
from servers.rag.store import chunk_id
from servers.rag.vectors import VectorRecord

# Chunks per CreateEmbeddings call (the gateway takes up to 256).
EMBED_BATCH = 64

# The stages a progress message reports, in order.
FETCHING, EXTRACTING, CHUNKING = "fetching", "extracting", "chunking"
EMBEDDING, STORING = "embedding", "storing"


@dataclass(frozen=True)
class Source:
    kind: str  # text, markdown, pdf or url
    text: str = ""
    data: bytes = b""


@dataclass(frozen=True)
class IngestRequest:
    source: Source
    title: str = ""
    metadata: dict[str, Scalar] = field(default_factory=dict)
    plan: ChunkingPlan = field(default_factory=ChunkingPlan)
    request_id: str = ""
    replace_document_id: str = ""


@dataclass(frozen=True)
class Progress:
    document_id: str
    stage: str
    chunks_embedded: int = 0
    total_chunks: int = 0


class DocumentWrites(Protocol):
    async def next_generation(self) -> int: ...
    async def insert(self, doc: Document, request_id: str) -> Document | None: ...
    async def insert_chunks(
        self, document_id: str, user_id: str, generation: int, chunks: Sequence[Chunk]
    ) -> None: ...
    async def lock(self, document_id: str, viewer: Viewer) -> Document | None: ...
    async def publish(self, doc: Document) -> Document: ...
    async def fail(self, document_id: str, message: str) -> None: ...
    async def drop_generation(self, document_id: str, generation: int) -> None: ...
    async def delete(self, document_id: str) -> None: ...


class DocumentLookups(Protocol):
    async def get(self, document_id: str, viewer: Viewer) -> Document | None: ...
    async def by_request_id(self, user_id: str, request_id: str) -> Document | None: ...
    async def by_content(self, user_id: str, sha256: str) -> Document | None: ...


class Fetcher(Protocol):
    async def fetch(self, url: str) -> Fetched: ...


class ChunkSplitter(Protocol):
    def split(self, extracted: Extracted, plan: ChunkingPlan) -> list[Chunk]: ...


class VectorWrites(Protocol):
    async def upsert(self, user_id: str, records: Sequence[VectorRecord]) -> None: ...
    async def delete_document(
        self,
        user_id: str,
        document_id: str,
        *,
        generation: int | None = None,
        keep_generation: int | None = None,
    ) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _extract(source: Source, fetched: Fetched | None) -> Extracted:
    if fetched is not None:
        if fetched.kind == "pdf":
            return await asyncio.to_thread(extract.pdf, fetched.body)
        text = fetched.body.decode(fetched.charset, errors="replace")
        parse = {"html": extract.html, "markdown": extract.markdown}.get(fetched.kind)
        return parse(text) if parse else extract.plain(text, "url")
    if source.kind == PDF:
        return await asyncio.to_thread(extract.pdf, source.data)
    if source.kind == MARKDOWN:
        return extract.markdown(source.text)
    return extract.plain(source.text)


class Ingestion:
    def __init__(
        self,
        uow: UnitOfWork[DocumentWrites],
        lookups: DocumentLookups,
        fetcher: Fetcher,
        chunker: ChunkSplitter,
        embedder: Embedder,
        index: VectorWrites,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self._uow = uow
        self._lookups = lookups
        self._fetcher = fetcher
        self._chunker = chunker
        self._embedder = embedder
        self._index = index
        self._clock = clock

    async def run(self, request: IngestRequest) -> AsyncIterator[Progress | Document]:
        viewer = current_viewer()
        if request.request_id:
            earlier = await self._lookups.by_request_id(viewer.user_id, request.request_id)
            if earlier is not None:
                yield earlier
                return
        target = None
        if request.replace_document_id:
            target = await self._lookups.get(request.replace_document_id, viewer)
            if target is None or target.user_id != viewer.user_id:
                raise NotFound(f"document {request.replace_document_id!r} not found")
        doc_id = target.id if target else str(uuid.uuid4())

        fetched = None
        if request.source.kind == URL:
            yield Progress(doc_id, FETCHING)
            fetched = await self._fetcher.fetch(request.source.text)
        raw = fetched.body if fetched else request.source.data or request.source.text.encode()
        sha = hashlib.sha256(raw).hexdigest()
        same = target if target and target.content_sha256 == sha else None
        same = same or await self._lookups.by_content(viewer.user_id, sha)
        if same is not None and (target is None or same.id == target.id):
            yield same  # the same content again adds no chunks
            return
        yield Progress(doc_id, EXTRACTING)
        extracted = await _extract(request.source, fetched)

        yield Progress(doc_id, CHUNKING)
        chunks = await asyncio.to_thread(self._chunker.split, extracted, request.plan)
        yield Progress(doc_id, CHUNKING, 0, len(chunks))
        vectors: list[list[float]] = []
        model = ""
        for start in range(0, len(chunks), EMBED_BATCH):
            batch, model = await self._embedder.embed([c.text for c in chunks[start : start + EMBED_BATCH]])
            vectors.extend(batch)
            yield Progress(doc_id, EMBEDDING, len(vectors), len(chunks))

        yield Progress(doc_id, STORING, len(vectors), len(chunks))
        now = self._clock()
        doc = Document(
            id=doc_id,
            user_id=viewer.user_id,
            title=derive_title(request.title, extracted),
            source_type=request.source.kind,
            source_url=fetched.url if fetched else "",
            status=PROCESSING,
            status_message="",
            metadata=request.metadata,
            chunk_count=len(chunks),
            chunk_size=request.plan.size,
            chunk_overlap=request.plan.overlap,
            size_bytes=extracted.size_bytes,
            content_sha256=sha,
            embedding_model=model,
            generation=0,
            created_at=target.created_at if target else now,
            updated_at=now,
        )
        yield await self._store(doc, chunks, vectors, request.request_id, replacing=target is not None)

    async def _store(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: list[list[float]],
        request_id: str,
        *,
        replacing: bool,
    ) -> Document:
        async with self._uow() as tx:  # step 1: rows of an unpublished generation
            doc = replace(doc, generation=await tx.repo.next_generation())
            if not replacing:
                inserted = await tx.repo.insert(doc, request_id)
                if inserted is None:
                    raise Conflict("an ingest with this request id is in progress or done; retry")
            await tx.repo.insert_chunks(doc.id, doc.user_id, doc.generation, chunks)
        try:
            records = [
                VectorRecord(
                    chunk_id(doc.id, doc.generation, c.index),
                    v,
                    doc.id,
                    doc.generation,
                    c.index,
                    c.page,
                    doc.metadata,
                )
                for c, v in zip(chunks, vectors, strict=True)
            ]
            await self._index.upsert(doc.user_id, records)  # step 2
            async with self._uow() as tx:  # step 3: publish
                current = await tx.repo.lock(doc.id, current_viewer())
                if current is None or (replacing and current.status != READY):
                    raise Conflict(f"document {doc.id} was deleted or changed during the ingest")
                published = await tx.repo.publish(replace(doc, status=READY))
                tx.record(DocumentIngested(published, replaced=replacing))
        except BaseException as error:
            await asyncio.shield(self._undo(doc, replacing, error))
            raise
        if replacing:  # the old generation's vectors; the reconciler retries if this fails
            with contextlib.suppress(Exception):
                await self._index.delete_document(doc.user_id, doc.id, keep_generation=doc.generation)
        return published

    async def _undo(self, doc: Document, replacing: bool, error: BaseException) -> None:
        """Remove what steps 1 and 2 wrote; a first ingest stays as a failed
        document saying why (a cancelled one is removed)."""
        try:
            async with self._uow() as tx:
                if replacing:
                    await tx.repo.drop_generation(doc.id, doc.generation)
                elif isinstance(error, asyncio.CancelledError):
                    await tx.repo.delete(doc.id)
                else:
                    await tx.repo.fail(doc.id, f"storing failed: {error}"[:500])
            await self._index.delete_document(
                doc.user_id, doc.id, generation=doc.generation if replacing else None
            )
        except Exception:  # noqa: S110 -- the reconciler finishes what this could not
            pass
