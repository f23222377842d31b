"""BatchIngestDocuments over native gRPC and as NDJSON through a real Envoy:
items keyed by index, one bad document failing alone with its own status,
bad requests refused up front, and isolation between users."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from aether.rag.v1 import document_pb2, rag_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2 as pb
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2

from tests.helpers import bearer, rich_error

VOLCANO = "Volcanoes erupt lava and ash when magma reaches the surface through the crust."
GLACIER = "Glaciers are rivers of ice that move slowly downhill and carve valleys."
BREAD = "Sourdough bread rises because wild yeast ferments the dough overnight."


@pytest.fixture(scope="module")
async def stub(app_server: tuple[str, list[str]]) -> AsyncIterator[rag_service_pb2_grpc.RagServiceStub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield rag_service_pb2_grpc.RagServiceStub(channel)


@pytest.fixture
def user(forge_token):
    async def make() -> tuple[str, tuple[tuple[str, str], ...]]:
        user_id = str(uuid.uuid4())
        return user_id, bearer(await forge_token(user_id))

    return make


async def batch(stub, md, *documents: pb.IngestDocumentRequest) -> list[pb.BatchIngestDocumentsResponse]:
    call = stub.BatchIngestDocuments(pb.BatchIngestDocumentsRequest(documents=documents), metadata=md)
    return [message async for message in call]


def by_index(messages: list[pb.BatchIngestDocumentsResponse]) -> dict[int, list[pb.BatchIngestItem]]:
    out: dict[int, list[pb.BatchIngestItem]] = {}
    for m in messages[:-1]:
        out.setdefault(m.item.index, []).append(m.item)
    return out


async def test_grpc_batch_one_bad_document_fails_alone(stub, user) -> None:
    alice_id, alice = await user()
    messages = await batch(
        stub,
        alice,
        pb.IngestDocumentRequest(text=VOLCANO, title="Volcanoes"),
        pb.IngestDocumentRequest(pdf=b"%PDF-not really a pdf"),
        pb.IngestDocumentRequest(markdown=f"# Glaciers\n\n{GLACIER}"),
        pb.IngestDocumentRequest(text=VOLCANO),  # the first one again: deduplicated, no new document
    )
    assert all(m.HasField("item") for m in messages[:-1]) and messages[-1].HasField("final")
    assert (messages[-1].final.succeeded, messages[-1].final.failed) == (3, 1)
    items = by_index(messages)
    assert sorted(items) == [0, 1, 2, 3]
    for index in (0, 2):
        progress = [i.progress for i in items[index][:-1]]
        assert progress[0].stage == pb.INGEST_STAGE_EXTRACTING
        assert progress[-1].stage == pb.INGEST_STAGE_STORING
        doc = items[index][-1].document
        assert doc.status == document_pb2.DOCUMENT_STATUS_READY and doc.user_id == alice_id
        assert {p.document_id for p in progress} == {doc.id}
    error = items[1][-1].error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "PDF" in error.message
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in error.details) and bad.field_violations[0].field == "pdf"
    assert [i.WhichOneof("outcome") for i in items[3]] == ["document"]
    assert items[3][0].document.id == items[0][-1].document.id
    listed = await stub.ListDocuments(pb.ListDocumentsRequest(), metadata=alice)
    assert {d.id for d in listed.documents} == {items[0][-1].document.id, items[2][-1].document.id}
    hits = await stub.SearchDocuments(pb.SearchDocumentsRequest(query="ice moving downhill"), metadata=alice)
    assert hits.hits[0].document_id == items[2][-1].document.id


async def test_grpc_batch_bola_other_users_never_see_or_replace_them(stub, user) -> None:
    _, alice = await user()
    _, bob = await user()
    messages = await batch(stub, alice, pb.IngestDocumentRequest(text=BREAD, title="Alice's bread"))
    doc = messages[-2].item.document
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetDocument(pb.GetDocumentRequest(id=doc.id), metadata=bob)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listing = await stub.ListDocuments(pb.ListDocumentsRequest(), metadata=bob)
    assert listing.pagination.total == 0
    for mode in (pb.SEARCH_MODE_DENSE, pb.SEARCH_MODE_LEXICAL, pb.SEARCH_MODE_HYBRID):
        found = await stub.SearchDocuments(
            pb.SearchDocumentsRequest(query="sourdough yeast", mode=mode, document_ids=[doc.id]), metadata=bob
        )
        assert list(found.hits) == []
    # Bob cannot overwrite Alice's document through a batch either: that item is NOT_FOUND.
    messages = await batch(stub, bob, pb.IngestDocumentRequest(text=VOLCANO, replace_document_id=doc.id))
    assert messages[0].item.error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert (messages[-1].final.succeeded, messages[-1].final.failed) == (0, 1)
    still = await stub.GetDocument(pb.GetDocumentRequest(id=doc.id), metadata=alice)
    assert still.content_sha256 == doc.content_sha256


nested = struct_pb2.Struct()
nested.update({"a": {"b": 1}})  # metadata values must be flat: the server's check, not the proto's


@pytest.mark.parametrize(
    ("documents", "field"),
    [
        ([pb.IngestDocumentRequest(text="x")] * 33, "documents"),
        ([], "documents"),
        (
            [pb.IngestDocumentRequest(text="x"), pb.IngestDocumentRequest(text="y", chunk_size=1000)],
            "documents[1].chunkSize",
        ),
        (
            [pb.IngestDocumentRequest(text="x"), pb.IngestDocumentRequest(text="y", metadata=nested)],
            "documents[1].metadata.a",
        ),
    ],
)
async def test_grpc_bad_batches_are_refused_before_any_ingest(
    stub, user, documents: list[pb.IngestDocumentRequest], field: str
) -> None:
    _, alice = await user()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await batch(stub, alice, *documents)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in rich_error(err.value).field_violations, rich_error(err.value)
    listing = await stub.ListDocuments(pb.ListDocumentsRequest(), metadata=alice)
    assert listing.pagination.total == 0  # not even the good first document


async def test_grpc_guest_may_not_batch_ingest(stub, forge_token) -> None:
    guest = bearer(await forge_token(str(uuid.uuid4()), roles=("guest",)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await batch(stub, guest, pb.IngestDocumentRequest(text=VOLCANO))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=60) as client:
        yield client


async def rest_batch(http: httpx.AsyncClient, token: str, body: Any) -> tuple[int, list[dict[str, Any]]]:
    headers = {"authorization": f"Bearer {token}"}
    async with http.stream("POST", "/api/v1/rag/documents:batchIngest", json=body, headers=headers) as r:
        lines = [json.loads(line) async for line in r.aiter_lines() if line.strip()]
    return r.status_code, lines


async def test_rest_batch_streams_ndjson_items_and_final(http: httpx.AsyncClient, forge_token) -> None:
    alice_token, bob_token = await forge_token(str(uuid.uuid4())), await forge_token(str(uuid.uuid4()))
    body = {
        "documents": [
            {"text": VOLCANO, "metadata": {"topic": "geology"}},
            {"url": "http://127.0.0.1:9/refused"},  # loopback: refused by the SSRF check, alone
            {"markdown": f"# Bread\n\n{BREAD}"},
        ]
    }
    status, lines = await rest_batch(http, alice_token, body)
    assert status == 200, lines
    assert lines[-1] == {"final": {"succeeded": 2, "failed": 1}}
    last = {line["item"].get("index", 0): line["item"] for line in lines[:-1]}  # index 0 is omitted in JSON
    assert last[0]["document"]["status"] == "DOCUMENT_STATUS_READY"
    assert last[0]["document"]["metadata"] == {"topic": "geology"}
    assert last[1]["error"]["code"] == 3 and last[1]["error"]["message"]
    assert any(d.get("@type", "").endswith("BadRequest") for d in last[1]["error"]["details"])
    assert last[2]["document"]["title"] == "Bread"

    headers = {"authorization": f"Bearer {bob_token}"}
    r = await http.get(f"/api/v1/rag/documents/{last[0]['document']['id']}", headers=headers)
    assert r.status_code == 404
    r = await http.post("/api/v1/rag/search", json={"query": "lava and magma"}, headers=headers)
    assert r.status_code == 200 and r.json().get("hits", []) == []


async def test_rest_too_many_documents_is_400_with_a_field_violation(
    http: httpx.AsyncClient, forge_token
) -> None:
    token = await forge_token(str(uuid.uuid4()))
    status, lines = await rest_batch(http, token, {"documents": [{"text": f"t{i}"} for i in range(33)]})
    assert status == 400 and lines[0]["code"] == 3
    fields = [v["field"] for d in lines[0]["details"] if "fieldViolations" in d for v in d["fieldViolations"]]
    assert fields == ["documents"]
    r = await http.get("/api/v1/rag/documents", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["pagination"]["total"] == 0
