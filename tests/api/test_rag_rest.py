"""RagService as REST/JSON through a real Envoy (generated config): ingest as
an NDJSON stream, search, list, get, delete and ask, JSON names, HTTP
statuses, error bodies and isolation between users."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from tests.edge.http1 import http1
from tests.rag.pdfs import pdf_with_pages

VOLCANO = "Volcanoes erupt lava and ash when magma reaches the surface through the crust."
BREAD = "Sourdough bread rises because wild yeast ferments the dough overnight."


class Caller:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str):
        self.http, self.id = http, user_id
        self.headers = {"authorization": f"Bearer {token}"}

    async def ingest_lines(self, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        async with self.http.stream("POST", "/api/v1/rag/documents", json=body, headers=self.headers) as r:
            lines = [line async for line in r.aiter_lines() if line.strip()]
        return r.status_code, [json.loads(line) for line in lines]

    async def ingest(self, **body: Any) -> dict[str, Any]:
        status, messages = await self.ingest_lines(body)
        assert status == 200 and "final" in messages[-1], messages
        return dict(messages[-1]["final"]["document"])

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/rag{path}", json=body, headers=self.headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/v1/rag{path}", params=params, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(f"/api/v1/rag{path}", headers=self.headers)


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=60) as client:
        yield client


@pytest.fixture
def caller(http: httpx.AsyncClient, forge_token):
    async def make() -> Caller:
        user_id = str(uuid.uuid4())
        return Caller(http, user_id, await forge_token(user_id))

    return make


async def test_ingest_streams_ndjson_and_every_rpc_answers_json(caller) -> None:
    alice = await caller()
    status, messages = await alice.ingest_lines(
        {"text": f"{VOLCANO} {BREAD}", "title": "Notes", "metadata": {"kind": "notes"}, "chunkSize": 64}
    )
    assert status == 200
    progress = [m["progress"] for m in messages[:-1]]
    assert (
        progress[0]["stage"] == "INGEST_STAGE_EXTRACTING" and progress[-1]["stage"] == "INGEST_STAGE_STORING"
    )
    assert {p["documentId"] for p in progress} == {messages[-1]["final"]["document"]["id"]}
    doc = messages[-1]["final"]["document"]
    assert doc["status"] == "DOCUMENT_STATUS_READY" and doc["sourceType"] == "SOURCE_TYPE_TEXT"
    assert doc["chunkSize"] == 64 and doc["metadata"] == {"kind": "notes"} and doc["embeddingModel"]

    r = await alice.post("/search", {"query": "lava and magma", "topK": 3, "mode": "SEARCH_MODE_HYBRID"})
    assert r.status_code == 200, r.text
    hit = r.json()["hits"][0]
    assert hit["documentId"] == doc["id"] and hit["documentTitle"] == "Notes" and 0 < hit["score"] <= 1
    assert hit["chunkId"].startswith(doc["id"]) and hit["metadata"] == {"kind": "notes"}
    filtered = await alice.post("/search", {"query": "lava", "filters": {"kind": {"$in": ["other"]}}})
    assert filtered.status_code == 200 and filtered.json().get("hits", []) == []

    r = await alice.get("/documents", limit=10, sort="title", order="asc")
    assert r.status_code == 200 and [d["id"] for d in r.json()["documents"]] == [doc["id"]]
    assert r.json()["pagination"]["total"] == 1
    r = await alice.get(f"/documents/{doc['id']}")
    assert r.status_code == 200 and r.json()["contentSha256"] == doc["contentSha256"]

    r = await alice.post("/ask", {"question": "What comes out of a volcano?"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["citations"][0]["documentId"] == doc["id"] and answer["answer"]

    r = await alice.delete(f"/documents/{doc['id']}")
    assert r.status_code == 200 and r.json() == {
        "success": True,
        "message": "Document deleted",
        "id": doc["id"],
    }
    assert (await alice.get(f"/documents/{doc['id']}")).status_code == 404


async def test_pdf_bytes_as_base64(caller) -> None:
    alice = await caller()
    pdf = base64.b64encode(pdf_with_pages(["Obsidian is volcanic glass.", BREAD])).decode()
    doc = await alice.ingest(pdf=pdf, title="Rocks and bread")
    assert doc["sourceType"] == "SOURCE_TYPE_PDF" and doc["chunkCount"] == 2
    r = await alice.post("/search", {"query": "sourdough yeast", "topK": 1, "mode": "SEARCH_MODE_LEXICAL"})
    assert r.json()["hits"][0]["page"] == 2


async def test_other_users_documents_are_404_and_never_found(caller) -> None:
    alice, bob = await caller(), await caller()
    doc = await alice.ingest(text=VOLCANO)
    assert (await bob.get(f"/documents/{doc['id']}")).status_code == 404
    assert (await bob.delete(f"/documents/{doc['id']}")).status_code == 404
    r = await bob.get("/documents")
    assert r.status_code == 200 and r.json().get("documents", []) == []
    assert (await bob.get("/documents", userId=alice.id)).status_code == 403
    r = await bob.post("/search", {"query": "volcano lava", "documentIds": [doc["id"]]})
    assert r.status_code == 200 and r.json().get("hits", []) == []
    r = await bob.post("/ask", {"question": "What do volcanoes erupt?"})
    assert r.status_code == 200 and not r.json().get("citations")


async def test_bad_input_is_400_with_field_violations(caller, http: httpx.AsyncClient) -> None:
    alice = await caller()
    status, messages = await alice.ingest_lines({"text": "x", "chunkSize": 1000})
    assert status == 400 and messages[0]["code"] == 3
    r = await alice.post("/search", {"query": "x", "filters": {"year": {"$gt": "soon"}}})
    assert r.status_code == 400
    fields = [v["field"] for d in r.json()["details"] if "fieldViolations" in d for v in d["fieldViolations"]]
    assert fields == ["filters.year"]
    r = await alice.post("/ask", {"question": ""})
    assert r.status_code == 400
    assert (await alice.get("/documents/not-a-real-id")).status_code == 404
    assert (await http.get("/api/v1/rag/documents")).status_code == 401


async def test_the_readme_flow_with_a_registered_user(http: httpx.AsyncClient, fake_ai) -> None:
    """The README's RAG curl flow for a user who really registered (the user
    role's own permissions, and the AI gateway's with the forwarded token)."""
    from tests.api.test_readme_flows import register_and_login

    headers, _ = await register_and_login(http)
    body = {"text": "Volcanoes erupt lava and ash when magma reaches the surface.", "title": "Volcanoes"}
    body["metadata"] = {"topic": "geology", "year": 2024}
    async with http.stream("POST", "/api/v1/rag/documents", json=body, headers=headers) as r:
        lines = [json.loads(line) async for line in r.aiter_lines() if line.strip()]
    assert r.status_code == 200 and lines[-1]["final"]["document"]["status"] == "DOCUMENT_STATUS_READY"
    doc_id = lines[-1]["final"]["document"]["id"]
    query = {"query": "what comes out of a volcano", "topK": 3}
    query["filters"] = {"topic": ["geology", "physics"], "year": {"$gte": 2020}}
    r = await http.post("/api/v1/rag/search", json=query, headers=headers)
    assert r.status_code == 200 and r.json()["hits"][0]["documentId"] == doc_id
    fake_ai.reply = "Lava and ash [1]."
    try:
        r = await http.post("/api/v1/rag/ask", json={"question": "What do volcanoes erupt?"}, headers=headers)
    finally:
        fake_ai.reply = None
    assert r.status_code == 200 and r.json()["answer"] == "Lava and ash [1]."
    assert [c["documentId"] for c in r.json()["citations"]] == [doc_id]
    replaced = {"text": "Updated notes on volcanoes.", "replaceDocumentId": doc_id}
    async with http.stream("POST", "/api/v1/rag/documents", json=replaced, headers=headers) as r:
        lines = [json.loads(line) async for line in r.aiter_lines() if line.strip()]
    assert lines[-1]["final"]["document"]["id"] == doc_id
    assert (await http.delete(f"/api/v1/rag/documents/{doc_id}", headers=headers)).status_code == 200


async def test_ingest_as_server_sent_events_and_a_failure_mid_stream(caller, http: httpx.AsyncClient) -> None:
    """Accept: text/event-stream frames the same messages as SSE; a PDF that cannot be read
    fails after the first progress message: 200 already sent, so the status (and its field
    violation) is in the stream's trailers, read by a bare HTTP/1.1 client."""
    alice = await caller()
    headers = alice.headers | {"accept": "text/event-stream", "content-type": "application/json"}

    def ingest(body: dict[str, Any]) -> tuple[int, str, list[Any], dict[str, str]]:
        with http1(http.base_url.port or 80, timeout=60) as ex:
            ex.send("POST", "/api/v1/rag/documents", headers, json.dumps(body).encode())
            return ex.status, ex.headers["content-type"], list(ex.messages()), ex.trailers

    status, content_type, messages, trailers = await asyncio.to_thread(ingest, {"text": VOLCANO})
    assert (status, content_type, trailers["grpc-status"]) == (200, "text/event-stream", "0")
    assert all(set(m) == {"progress"} for m in messages[:-1])
    assert messages[-1]["final"]["document"]["status"] == "DOCUMENT_STATUS_READY"

    broken = base64.b64encode(b"%PDF-1.7\nnot really a pdf").decode()
    status, content_type, messages, trailers = await asyncio.to_thread(ingest, {"pdf": broken})
    assert (status, content_type) == (200, "text/event-stream")
    assert messages and all(set(m) == {"progress"} for m in messages)  # no final
    assert trailers["grpc-status"] == "3", trailers  # INVALID_ARGUMENT
    details = status_pb2.Status.FromString(base64.b64decode(trailers["grpc-status-details-bin"] + "=="))
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in details.details if d.Is(bad.DESCRIPTOR))
    assert [v.field for v in bad.field_violations] == ["pdf"], bad
