"""RagService over native gRPC against the shared in-process server (real
PostgreSQL, embedded Chroma, the AI gateway's local all-MiniLM-L6-v2 and the
fake chat provider): every RPC, isolation between users, PDF pages, dedupe,
atomic re-ingest, bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from aether.rag.v1 import document_pb2, rag_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2 as pb
from google.protobuf import struct_pb2

from servers.rag import queries
from tests.fakes.ai_providers import FakeProviders
from tests.helpers import bearer, outbox_events, rich_error
from tests.rag.pdfs import pdf_with_pages

VOLCANO = (
    "Volcanoes form where magma rises through the crust. Lava flows, ash clouds and "
    "pyroclastic surges are the main hazards near an erupting volcano."
)
GLACIER = (
    "Glaciers are rivers of ice that move slowly downhill under their own weight. "
    "They carve valleys and leave moraines when they retreat."
)
BREAD = "Sourdough bread rises because wild yeast and bacteria ferment the flour and water."


def struct(**values: Any) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


class Caller:
    """A user (random id, real role permissions) with the RagService stub bound to them."""

    def __init__(self, stub: rag_service_pb2_grpc.RagServiceStub, user_id: str, token: str):
        self.stub, self.id, self.md = stub, user_id, bearer(token)

    async def stream(self, **fields: Any) -> list[pb.IngestDocumentResponse]:
        call = self.stub.IngestDocument(pb.IngestDocumentRequest(**fields), metadata=self.md)
        return [message async for message in call]

    async def ingest(self, **fields: Any) -> document_pb2.Document:
        messages = await self.stream(**fields)
        assert messages[-1].HasField("final"), messages
        return messages[-1].final.document

    async def search(self, query: str, **fields: Any) -> list[pb.SearchHit]:
        reply = await self.stub.SearchDocuments(
            pb.SearchDocumentsRequest(query=query, **fields), metadata=self.md
        )
        return list(reply.hits)

    async def call(self, method: str, request: object) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.md)


MakeCaller = Callable[..., Awaitable[Caller]]


@pytest.fixture(scope="module")
async def stub(app_server: tuple[str, list[str]]) -> AsyncIterator[rag_service_pb2_grpc.RagServiceStub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield rag_service_pb2_grpc.RagServiceStub(channel)


@pytest.fixture
def caller(stub: rag_service_pb2_grpc.RagServiceStub, forge_token) -> MakeCaller:
    async def make(*, role: str = "user") -> Caller:
        user_id = str(uuid.uuid4())
        return Caller(stub, user_id, await forge_token(user_id, roles=(role,)))

    return make


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
def fake_reply(fake_ai: FakeProviders):
    """Sets the fake chat provider's fixed reply for one test."""

    def set_reply(text: str) -> None:
        fake_ai.reply = text

    yield set_reply
    fake_ai.reply = None


async def test_ingest_streams_each_stage_then_the_document(caller: MakeCaller, pool: asyncpg.Pool) -> None:
    alice = await caller()
    text = " ".join([VOLCANO, GLACIER, BREAD] * 6)
    messages = await alice.stream(
        text=text, title="Earth", chunk_size=48, chunk_overlap=8, metadata=struct(kind="notes")
    )
    progress = [m.progress for m in messages[:-1]]
    assert all(p.document_id == progress[0].document_id for p in progress)
    stages = [p.stage for p in progress]
    assert stages[0] == pb.INGEST_STAGE_EXTRACTING and stages[-1] == pb.INGEST_STAGE_STORING
    assert stages == sorted(stages)
    embedding = [p for p in progress if p.stage == pb.INGEST_STAGE_EMBEDDING]
    total = embedding[-1].total_chunks
    assert total > 3 and embedding[-1].chunks_embedded == total
    doc = messages[-1].final.document
    assert doc.id == progress[0].document_id and doc.user_id == alice.id
    assert doc.status == document_pb2.DOCUMENT_STATUS_READY and doc.chunk_count == total
    assert (doc.chunk_size, doc.chunk_overlap, doc.title) == (48, 8, "Earth")
    assert doc.embedding_model == "all-MiniLM-L6-v2" and len(doc.content_sha256) == 64
    assert doc.source_type == document_pb2.SOURCE_TYPE_TEXT and doc.metadata["kind"] == "notes"
    assert await outbox_events(pool, doc.id) == ["rag.document.ingested"]
    assert (await alice.call("GetDocument", pb.GetDocumentRequest(id=doc.id))) == doc


async def test_search_modes_filters_and_min_score(caller: MakeCaller) -> None:
    alice = await caller()
    volcano = await alice.ingest(text=VOLCANO, title="Volcanoes", metadata=struct(topic="geology", year=2020))
    glacier = await alice.ingest(text=GLACIER, title="Glaciers", metadata=struct(topic="geology", year=2024))
    bread = await alice.ingest(text=BREAD, title="Bread", metadata=struct(topic="cooking", year=2024))
    for mode in (
        pb.SEARCH_MODE_DENSE,
        pb.SEARCH_MODE_LEXICAL,
        pb.SEARCH_MODE_HYBRID,
        pb.SEARCH_MODE_UNSPECIFIED,
    ):
        hits = await alice.search("lava from an erupting volcano", mode=mode, top_k=3)
        assert hits[0].document_id == volcano.id, (mode, hits)
        assert hits[0].document_title == "Volcanoes" and hits[0].chunk_id.startswith(volcano.id)
        assert 0 < hits[0].score <= 1 and hits[0].metadata["topic"] == "geology"
    ice = await alice.search("moving ice carving valleys", filters=struct(topic=["cooking", "geology"]))
    assert ice[0].document_id == glacier.id
    recent = await alice.search("volcano lava", filters=struct(year={"$gte": 2021}), top_k=5)
    assert volcano.id not in {h.document_id for h in recent} and recent
    cooking = await alice.search("volcano", filters=struct(topic="cooking"), mode=pb.SEARCH_MODE_LEXICAL)
    assert cooking == []
    only = await alice.search("anything at all", document_ids=[bread.id], top_k=5)
    assert {h.document_id for h in only} == {bread.id}
    strict = await alice.search("lava from an erupting volcano", min_score=0.99)
    assert strict == []


async def test_markdown_sections_and_pdf_pages(caller: MakeCaller) -> None:
    alice = await caller()
    md = await alice.ingest(markdown=f"# Earth\n\n## Fire\n\n{VOLCANO}\n\n## Ice\n\n{GLACIER}\n")
    assert md.title == "Earth" and md.source_type == document_pb2.SOURCE_TYPE_MARKDOWN
    pdf = await alice.ingest(pdf=pdf_with_pages([BREAD, VOLCANO, GLACIER], title="Field guide"))
    assert pdf.title == "Field guide" and pdf.source_type == document_pb2.SOURCE_TYPE_PDF
    assert pdf.chunk_count == 3
    hits = await alice.search("glaciers carve valleys", document_ids=[pdf.id], top_k=1)
    assert hits[0].page == 3
    hits = await alice.search("sourdough yeast", document_ids=[pdf.id], top_k=1, mode=pb.SEARCH_MODE_LEXICAL)
    assert hits[0].page == 1


async def test_the_same_content_twice_adds_no_chunks_and_request_ids_retry(
    caller: MakeCaller, pool: asyncpg.Pool
) -> None:
    alice = await caller()
    first = await alice.ingest(text=GLACIER)
    again = await alice.stream(text=GLACIER, title="Another title")
    assert len(again) == 1 and again[0].final.document.id == first.id
    chunks = await pool.fetchval("SELECT count(*) FROM rag.chunks WHERE user_id = $1", alice.id)
    assert chunks == first.chunk_count
    keyed = await alice.ingest(text=VOLCANO, request_id="ingest-1")
    retried = await alice.stream(text=BREAD, request_id="ingest-1")
    assert len(retried) == 1 and retried[0].final.document.id == keyed.id
    listing = await alice.call("ListDocuments", pb.ListDocumentsRequest())
    assert listing.pagination.total == 2


async def test_reingest_swaps_chunks_atomically(caller: MakeCaller, pool: asyncpg.Pool) -> None:
    alice = await caller()
    old_text = " ".join([VOLCANO] * 8)
    doc = await alice.ingest(text=old_text, chunk_size=40, chunk_overlap=0)
    seen: list[set[str]] = []
    done = asyncio.Event()

    async def keep_searching() -> None:
        while not done.is_set():
            hits = await alice.search(
                "volcano glacier", document_ids=[doc.id], top_k=50, mode=pb.SEARCH_MODE_LEXICAL
            )
            seen.append({h.chunk_id.split(":")[1] for h in hits})

    searcher = asyncio.create_task(keep_searching())
    new = await alice.ingest(
        text=" ".join([GLACIER] * 8), replace_document_id=doc.id, chunk_size=40, chunk_overlap=0
    )
    done.set()
    await searcher
    assert new.id == doc.id and new.content_sha256 != doc.content_sha256
    assert all(len(generations) == 1 for generations in seen), seen  # never both, never neither
    hits = await alice.search("volcano glacier", document_ids=[doc.id], top_k=50)
    assert hits and not any("olcano" in h.chunk for h in hits)
    rows = await pool.fetch("SELECT DISTINCT generation FROM rag.chunks WHERE document_id = $1::uuid", doc.id)
    assert len(rows) == 1
    assert await outbox_events(pool, doc.id) == ["rag.document.ingested", "rag.document.ingested"]


async def lexical_statistics(pool: asyncpg.Pool, user_id: str) -> tuple[Any, ...]:
    """(kept, recounted from the chunk rows): the BM25 statistics the triggers keep
    for this user, and the same computed afresh."""
    kept = (
        await pool.fetchrow("SELECT chunks, terms FROM rag.lexical_totals WHERE user_id = $1", user_id),
        await pool.fetch("SELECT lexeme, chunks FROM rag.lexicon WHERE user_id = $1 ORDER BY 1", user_id),
    )
    recounted = (
        await pool.fetchrow(
            """SELECT count(*) AS chunks, sum(term_count) AS terms FROM rag.chunks
               WHERE user_id = $1 HAVING count(*) > 0""",
            user_id,
        ),
        await pool.fetch(
            """SELECT lexeme, count(*) AS chunks FROM rag.chunks, unnest(tsvector_to_array(tsv)) AS lexeme
               WHERE user_id = $1 GROUP BY 1 ORDER BY 1""",
            user_id,
        ),
    )
    return kept, recounted


async def test_lexical_statistics_follow_ingest_reingest_and_delete(
    caller: MakeCaller, pool: asyncpg.Pool
) -> None:
    alice = await caller()
    doc = await alice.ingest(text=" ".join([VOLCANO] * 4), chunk_size=40, chunk_overlap=0)
    await alice.ingest(text=BREAD)
    kept, recounted = await lexical_statistics(pool, alice.id)
    assert kept == recounted and dict(kept[1])["volcano"] == doc.chunk_count
    await alice.ingest(text=GLACIER, replace_document_id=doc.id)
    kept, recounted = await lexical_statistics(pool, alice.id)
    assert kept == recounted and "volcano" not in dict(kept[1]) and kept[0]["chunks"] == 2
    hits = await alice.search("glacier valleys", mode=pb.SEARCH_MODE_LEXICAL)
    assert [h.document_id for h in hits] == [doc.id]
    for document in (await alice.call("ListDocuments", pb.ListDocumentsRequest())).documents:
        await alice.call("DeleteDocument", pb.DeleteDocumentRequest(id=document.id))
    assert await lexical_statistics(pool, alice.id) == ((None, []), (None, []))


async def test_lexical_candidates_come_from_the_rarer_terms(
    caller: MakeCaller, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await caller()
    texts = ["volcano lava", "volcano", "lava", "volcano lava ice", "glacier ice"]
    ids = [(await alice.ingest(text=text)).id for text in texts]
    monkeypatch.setattr(queries, "CANDIDATES", 2)

    async def lexical(query: str) -> list[str]:
        return [h.document_id for h in await alice.search(query, mode=pb.SEARCH_MODE_LEXICAL, top_k=10)]

    # "ice" (2 chunks) selects the candidates, "volcano" (3 more) only scores them.
    assert await lexical("ice volcano") == [ids[3], ids[4]]
    # Every term in more chunks than that: candidates need them all.
    assert set(await lexical("volcano lava")) == {ids[0], ids[3]}
    monkeypatch.undo()
    assert set(await lexical("volcano lava")) == set(ids[:4])


async def test_users_never_see_each_others_documents(caller: MakeCaller, forge_token, stub) -> None:
    alice, bob = await caller(), await caller()
    doc = await alice.ingest(text=VOLCANO, title="Alice's volcano notes")
    await bob.ingest(text=BREAD)
    for method, request in (
        ("GetDocument", pb.GetDocumentRequest(id=doc.id)),
        ("DeleteDocument", pb.DeleteDocumentRequest(id=doc.id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await bob.call(method, request)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listing = await bob.call("ListDocuments", pb.ListDocumentsRequest())
    assert doc.id not in {d.id for d in listing.documents}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await bob.call("ListDocuments", pb.ListDocumentsRequest(user_id=alice.id))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for mode in (pb.SEARCH_MODE_DENSE, pb.SEARCH_MODE_LEXICAL, pb.SEARCH_MODE_HYBRID):
        hits = await bob.search("volcano lava magma", mode=mode, top_k=50)
        assert doc.id not in {h.document_id for h in hits}
        hits = await bob.search("volcano lava magma", mode=mode, document_ids=[doc.id])
        assert hits == []
    answer = await bob.call(
        "AskQuestion", pb.AskQuestionRequest(question="What do volcanoes do?", document_ids=[doc.id])
    )
    assert not answer.citations
    admin_id = str(uuid.uuid4())
    admin = Caller(stub, admin_id, await forge_token(admin_id, roles=("admin",)))
    assert (await admin.call("GetDocument", pb.GetDocumentRequest(id=doc.id))).id == doc.id
    listed = await admin.call("ListDocuments", pb.ListDocumentsRequest(user_id=alice.id))
    assert [d.id for d in listed.documents] == [doc.id]


async def test_list_is_paginated_sorted_and_filtered(caller: MakeCaller) -> None:
    alice = await caller()
    docs = [await alice.ingest(text=f"{BREAD} Variation number {i}.", title=f"t{i}") for i in range(3)]
    pdf = await alice.ingest(pdf=pdf_with_pages([GLACIER]))
    page = await alice.call("ListDocuments", pb.ListDocumentsRequest(limit=2, page=1))
    assert [d.id for d in page.documents] == [pdf.id, docs[2].id]
    assert (page.pagination.total, page.pagination.total_pages, page.pagination.has_next) == (4, 2, True)
    by_title = await alice.call("ListDocuments", pb.ListDocumentsRequest(sort="title", order="asc", limit=10))
    titles = [d.title for d in by_title.documents]
    assert titles == sorted(titles) and titles[-3:] == ["t0", "t1", "t2"]
    pdfs = await alice.call(
        "ListDocuments", pb.ListDocumentsRequest(source_type=document_pb2.SOURCE_TYPE_PDF)
    )
    assert [d.id for d in pdfs.documents] == [pdf.id]


async def test_delete_removes_the_document_and_its_chunks(caller: MakeCaller, pool: asyncpg.Pool) -> None:
    alice = await caller()
    doc = await alice.ingest(text=VOLCANO)
    reply = await alice.call("DeleteDocument", pb.DeleteDocumentRequest(id=doc.id))
    assert (reply.success, reply.id) == (True, doc.id)
    assert await alice.search("volcano lava", top_k=10) == []
    assert await pool.fetchval("SELECT count(*) FROM rag.chunks WHERE document_id = $1::uuid", doc.id) == 0
    assert await outbox_events(pool, doc.id) == ["rag.document.ingested", "rag.document.deleted"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alice.call("GetDocument", pb.GetDocumentRequest(id=doc.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_ask_answers_with_citations_of_retrieved_chunks_only(caller: MakeCaller, fake_reply) -> None:
    alice = await caller()
    volcano = await alice.ingest(text=VOLCANO, title="Volcanoes")
    await alice.ingest(text=BREAD, title="Bread")
    fake_reply("Lava and ash are the hazards [1]; see also [7].")
    answer = await alice.call(
        "AskQuestion", pb.AskQuestionRequest(question="What are the hazards of a volcano?", top_k=2)
    )
    assert answer.answer.startswith("Lava and ash") and answer.model
    assert [c.document_id for c in answer.citations] == [volcano.id]  # [7] named no retrieved chunk
    assert (
        answer.citations[0].chunk_id.startswith(volcano.id)
        and answer.citations[0].document_title == "Volcanoes"
    )


async def test_ask_says_it_does_not_know_when_nothing_is_relevant(
    caller: MakeCaller, fake_ai: FakeProviders
) -> None:
    alice = await caller()
    await alice.ingest(text=BREAD)
    before = len(fake_ai.requests("groq"))
    answer = await alice.call(
        "AskQuestion", pb.AskQuestionRequest(question="Who won the 1998 football world cup?", min_score=0.9)
    )
    assert answer.answer.startswith("I don't know") and not answer.citations and answer.model == ""
    assert len(fake_ai.requests("groq")) == before  # no model was asked to guess


async def test_ask_end_to_end_with_the_fake_provider(caller: MakeCaller) -> None:
    alice = await caller()
    await alice.ingest(text=GLACIER, title="Glaciers")
    answer = await alice.call("AskQuestion", pb.AskQuestionRequest(question="How do glaciers move?"))
    # The fake echoes the prompt: it holds the retrieved source, numbered, and the question.
    assert "[1] Glaciers" in answer.answer and "How do glaciers move?" in answer.answer
    assert answer.citations and answer.citations[0].document_title == "Glaciers"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "source"),
        ({"text": "x", "chunk_size": 300}, "chunkSize"),
        ({"text": "x", "chunk_size": 64, "chunk_overlap": 64}, ""),
        ({"text": "x", "metadata": struct(nested={"a": 1})}, "metadata.nested"),
        ({"pdf": b"%PDF-broken"}, "pdf"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"text": "   "}, "text"),
    ],
)
async def test_bad_ingest_input_is_invalid_argument(
    caller: MakeCaller, fields: dict[str, Any], field: str
) -> None:
    alice = await caller()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alice.stream(**fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    if field:
        assert any(field in f for f in rich_error(err.value).field_violations), rich_error(err.value)


async def test_bad_search_input_is_invalid_argument(caller: MakeCaller) -> None:
    alice = await caller()
    for fields in (
        {"filters": struct(year={"$gt": "x"})},
        {"filters": struct(a={"$regex": "x"})},
        {"top_k": 99},
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await alice.search("q", **fields)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert rich_error(err.value).field_violations


async def test_no_token_and_no_permission(stub, caller: MakeCaller) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListDocuments(pb.ListDocumentsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    guest = await caller(role="guest")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await guest.stream(text=VOLCANO)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await guest.call("ListDocuments", pb.ListDocumentsRequest())).pagination.total == 0
