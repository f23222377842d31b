"""RAG use cases besides ingest: documents (get, list, delete), search and
ask. Every read is the caller's own (admins may get, list and delete anyone's
documents; search and ask always read the caller's own collection)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

from servers.platform.errors import NotFound
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import current_viewer
from servers.platform.uow import UnitOfWork
from servers.rag.domain import Answer, Document, DocumentDeleted, Hit, SearchQuery
from servers.rag.ingest import DocumentLookups, DocumentWrites
from servers.rag.retrieval import Retriever

DONT_KNOW = "I don't know: none of your documents answers this."
SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources you are given. "
    "Cite every source you use by its number in square brackets, like [1] or [2][3]. "
    "If the sources do not contain the answer, reply exactly: " + DONT_KNOW
)
_CITATION = re.compile(r"\[(\d{1,3})\]")


class DocumentReads(DocumentLookups, Protocol):
    async def page(
        self,
        user_id: str,
        page: PageRequest,
        *,
        sort: str = "createdAt",
        order: str = "desc",
        source_type: str = "",
        status: str = "",
    ) -> Page[Document]: ...


class Chat(Protocol):
    async def chat(self, system: str, message: str, model: str) -> tuple[str, str]: ...


class VectorDeletes(Protocol):
    async def ping(self) -> None: ...
    async def delete_document(self, user_id: str, document_id: str) -> None: ...


def build_prompt(question: str, hits: list[Hit]) -> str:
    sources = "\n\n".join(
        f"[{n}] {hit.document_title}" + (f", page {hit.page}" if hit.page else "") + f"\n{hit.text}"
        for n, hit in enumerate(hits, start=1)
    )
    return f"Sources:\n\n{sources}\n\nQuestion: {question}"


def cited(answer: str, hits: list[Hit]) -> tuple[Hit, ...]:
    """The retrieved chunks the answer cites by number, best first; numbers
    that name no retrieved chunk are ignored, and "don't know" cites nothing."""
    if DONT_KNOW.split(":")[0].lower() in answer.lower():
        return ()
    numbers = {int(n) for n in _CITATION.findall(answer)}
    return tuple(hit for n, hit in enumerate(hits, start=1) if n in numbers)


class RagUseCases:
    def __init__(
        self,
        uow: UnitOfWork[DocumentWrites],
        reads: DocumentReads,
        retriever: Retriever,
        chat: Chat,
        index: VectorDeletes,
        ask_min_score: float,
    ):
        self._uow = uow
        self._reads = reads
        self._retriever = retriever
        self._chat = chat
        self._index = index
        self._ask_min_score = ask_min_score

    async def get(self, document_id: str) -> Document:
        doc = await self._reads.get(document_id, current_viewer())
        if doc is None:
            raise NotFound(f"document {document_id!r} not found")
        return doc

    async def list_page(
        self, page: PageRequest, *, user_id: str, sort: str, order: str, source_type: str, status: str
    ) -> Page[Document]:
        target = current_viewer().target(user_id, what="documents") or current_viewer().user_id
        sort, order = sort or "createdAt", order or "desc"
        return await self._reads.page(
            target, page, sort=sort, order=order, source_type=source_type, status=status
        )

    async def delete(self, document_id: str) -> Document:
        """Rows first, in one transaction with the event; then the vectors. If
        the vector store is down nothing is deleted; a crash in between leaves
        vectors without rows, invisible and removed by the reconciler."""
        viewer = current_viewer()
        await self._index.ping()
        async with self._uow() as tx:
            doc = await tx.repo.lock(document_id, viewer)
            if doc is None:
                raise NotFound(f"document {document_id!r} not found")
            await tx.repo.delete(doc.id)
            tx.record(DocumentDeleted(doc, viewer.user_id))
        await self._index.delete_document(doc.user_id, doc.id)
        return doc

    async def search(self, query: SearchQuery) -> list[Hit]:
        return await self._retriever.search(current_viewer().user_id, query)

    async def ask(self, question: SearchQuery, model: str) -> Answer:
        """Retrieve, then answer from what passed the minimum score only; with
        nothing relevant, say so without asking a model."""
        min_score = self._ask_min_score if question.min_score is None else question.min_score
        hits = await self._retriever.search(current_viewer().user_id, replace(question, min_score=min_score))
        if not hits:
            return Answer(DONT_KNOW, (), "")
        text, answered_by = await self._chat.chat(SYSTEM_PROMPT, build_prompt(question.text, hits), model)
        return Answer(text, cited(text, hits), answered_by)
