"""The ingest use case with in-memory fakes: the events it records, and what
it undoes when the vector store fails or the call is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from servers.platform.errors import Unavailable
from servers.platform.uow import InMemoryUnitOfWork
from servers.rag.chunking import Chunker, load_tokenizer
from servers.rag.domain import FAILED, READY, TEXT, Chunk, Document, DocumentIngested
from servers.rag.ingest import Ingestion, IngestRequest, Progress, Source
from servers.rag.vectors import VectorRecord
from tests.helpers import acting_as

TEXT_BODY = " ".join(f"Sentence {i} is about rivers and deltas." for i in range(40))


class Repo:
    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.rows: dict[str, list[tuple[int, Chunk]]] = {}
        self.generations = 0

    async def next_generation(self) -> int:
        self.generations += 1
        return self.generations

    async def insert(self, doc: Document, request_id: str) -> Document | None:
        self.docs[doc.id] = doc
        return doc

    async def insert_chunks(
        self, document_id: str, user_id: str, generation: int, chunks: Sequence[Chunk]
    ) -> None:
        self.rows.setdefault(document_id, []).extend((generation, c) for c in chunks)

    async def lock(self, document_id: str, viewer: Any) -> Document | None:
        return self.docs.get(document_id)

    async def publish(self, doc: Document) -> Document:
        self.docs[doc.id] = doc
        self.rows[doc.id] = [(g, c) for g, c in self.rows[doc.id] if g == doc.generation]
        return doc

    async def fail(self, document_id: str, message: str) -> None:
        self.docs[document_id] = replace(self.docs[document_id], status=FAILED, status_message=message)
        self.rows.pop(document_id, None)

    async def drop_generation(self, document_id: str, generation: int) -> None:
        self.rows[document_id] = [(g, c) for g, c in self.rows[document_id] if g != generation]

    async def delete(self, document_id: str) -> None:
        self.docs.pop(document_id, None)
        self.rows.pop(document_id, None)


class Lookups:
    def __init__(self, repo: Repo):
        self.repo = repo

    async def get(self, document_id: str, viewer: Any) -> Document | None:
        return self.repo.docs.get(document_id)

    async def by_request_id(self, user_id: str, request_id: str) -> Document | None:
        return None

    async def by_content(self, user_id: str, sha256: str) -> Document | None:
        return next(
            (d for d in self.repo.docs.values() if d.content_sha256 == sha256 and d.status == READY), None
        )


class Embedder:
    async def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], str]:
        return [[1.0, 0.0] for _ in texts], "fake-model"


class Index:
    def __init__(self, fail: BaseException | None = None):
        self.vectors: dict[str, VectorRecord] = {}
        self.fail = fail

    async def upsert(self, user_id: str, records: Sequence[VectorRecord]) -> None:
        self.vectors.update({r.id: r for r in records})
        if self.fail is not None:
            raise self.fail

    async def delete_document(
        self,
        user_id: str,
        document_id: str,
        *,
        generation: int | None = None,
        keep_generation: int | None = None,
    ) -> None:
        for key, r in list(self.vectors.items()):
            if (
                r.document_id == document_id
                and generation in (None, r.generation)
                and r.generation != keep_generation
            ):
                del self.vectors[key]


def ingestion(repo: Repo, index: Index) -> tuple[Ingestion, InMemoryUnitOfWork[Repo]]:
    uow = InMemoryUnitOfWork(repo)
    return Ingestion(uow, Lookups(repo), None, Chunker(load_tokenizer()), Embedder(), index), uow  # type: ignore[arg-type]


async def run(use: Ingestion, request: IngestRequest) -> list[Progress | Document]:
    with acting_as("u1"):
        return [item async for item in use.run(request)]


async def test_an_ingest_records_one_event_and_a_replace_another() -> None:
    repo, index = Repo(), Index()
    use, uow = ingestion(repo, index)
    out = await run(use, IngestRequest(Source(TEXT, text=TEXT_BODY)))
    doc = out[-1]
    assert isinstance(doc, Document) and doc.status == READY and doc.chunk_count == len(index.vectors)
    assert uow.committed == [DocumentIngested(doc, replaced=False)]
    out = await run(use, IngestRequest(Source(TEXT, text="Only this now."), replace_document_id=doc.id))
    new = out[-1]
    assert isinstance(new, Document) and new.id == doc.id and new.generation != doc.generation
    assert {r.generation for r in index.vectors.values()} == {new.generation}  # old vectors gone
    assert uow.committed[-1] == DocumentIngested(new, replaced=True)


async def test_a_vector_store_failure_leaves_a_failed_document_and_no_vectors() -> None:
    repo, index = Repo(), Index(fail=Unavailable("chroma is down"))
    use, uow = ingestion(repo, index)
    with pytest.raises(Unavailable):
        await run(use, IngestRequest(Source(TEXT, text=TEXT_BODY)))
    (doc,) = repo.docs.values()
    assert doc.status == FAILED and "storing failed" in doc.status_message
    assert index.vectors == {} and repo.rows == {} and uow.committed == []


async def test_a_cancelled_ingest_removes_what_it_stored() -> None:
    repo, index = Repo(), Index(fail=asyncio.CancelledError())
    use, uow = ingestion(repo, index)
    with pytest.raises(asyncio.CancelledError):
        await run(use, IngestRequest(Source(TEXT, text=TEXT_BODY)))
    assert repo.docs == {} and index.vectors == {} and uow.committed == []


async def test_a_failed_replace_keeps_the_published_version() -> None:
    repo, index = Repo(), Index()
    use, _ = ingestion(repo, index)
    doc = (await run(use, IngestRequest(Source(TEXT, text=TEXT_BODY))))[-1]
    assert isinstance(doc, Document)
    index.fail = Unavailable("chroma is down")
    with pytest.raises(Unavailable):
        await run(use, IngestRequest(Source(TEXT, text="New text."), replace_document_id=doc.id))
    assert repo.docs[doc.id] == doc and {g for g, _ in repo.rows[doc.id]} == {doc.generation}
    assert {r.generation for r in index.vectors.values()} == {doc.generation}
