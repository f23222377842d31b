"""Crash consistency between PostgreSQL and Chroma: `aether serve rag` runs as
a real process against a real Chroma server (`chroma run`, reached through
HttpClient as compose does), through a proxy that can hold one kind of
Chroma request. The server is killed (SIGKILL) exactly between its two
writes, restarted, and its reconciler must leave neither a document without
chunks nor a vector without a document:

- killed after the PostgreSQL rows, before the vectors were written;
- killed after the vectors were written, before the document was published;
- killed after a delete removed the rows, before the vectors were deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from aether.rag.v1 import document_pb2, rag_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2 as pb

from servers.embedded.ports import free_port
from servers.embedded.waiting import wait_for_port
from servers.rag.vectors import collection_name
from tests.helpers import bearer

TEXT = " ".join(
    f"Basalt column {i} formed as a thick lava flow cooled and cracked into hexagons." for i in range(12)
)


class HoldingProxy:
    """TCP proxy to Chroma that, when told, stops at the request containing
    `hold_request` (it never reaches Chroma), or lets the request containing
    `hold_response_of` through and keeps its response from the client."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.hold_request: bytes | None = None
        self.hold_response_of: bytes | None = None
        self.held = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def arm(self, *, request: bytes | None = None, response_of: bytes | None = None) -> None:
        self.hold_request, self.hold_response_of = request, response_of
        self.held = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        holding = False

        async def to_chroma() -> None:
            nonlocal holding
            while data := await reader.read(65536):
                if self.hold_request and self.hold_request in data:
                    self.held.set()
                    return
                holding = holding or bool(self.hold_response_of and self.hold_response_of in data)
                up_writer.write(data)
                await up_writer.drain()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if holding:
                    self.held.set()
                    return
                writer.write(data)
                await writer.drain()

        await asyncio.gather(to_chroma(), to_client(), return_exceptions=True)
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()

    async def stop(self) -> None:
        self._server.close()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    env = os.environ | {"ANONYMIZED_TELEMETRY": "False"}
    log = (path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, 60)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture
async def proxy(chroma_server: int) -> AsyncIterator[HoldingProxy]:
    proxy = HoldingProxy(chroma_server)
    await proxy.start()
    yield proxy
    await proxy.stop()


class RagProcess:
    """`aether serve rag` as a child process, restartable."""

    def __init__(self, app_address: str, chroma_url: str):
        self.port = free_port()
        self.env = os.environ | {
            "GRPC_PORT": str(self.port),
            "AUTH_ADDR": app_address,
            "AI_ADDR": app_address,
            "RAG_CHROMA_URL": chroma_url,
            # Undo anything unfinished at start (nothing else ingests meanwhile); no periodic pass.
            "RAG_RECONCILE_STALE_SECONDS": "0",
            "RAG_RECONCILE_INTERVAL_SECONDS": "0",
            "ANONYMIZED_TELEMETRY": "False",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "servers.cli", "serve", "rag"], env=self.env)  # noqa: ASYNC220
        await asyncio.to_thread(wait_for_port, "127.0.0.1", self.port, 60)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait, 30)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 30)


async def _wait_until(check: Any, what: str) -> None:
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


async def test_a_crash_between_the_two_writes_leaves_nothing_behind(
    app_server: tuple[str, list[str]], proxy: HoldingProxy, chroma_server: int, forge_token, database_url: str
) -> None:
    import chromadb
    from chromadb.config import Settings

    user_id = str(uuid.uuid4())
    md = bearer(await forge_token(user_id))
    chroma = chromadb.HttpClient(
        host="127.0.0.1", port=chroma_server, settings=Settings(anonymized_telemetry=False)
    )
    rag = RagProcess(app_server[0], f"http://127.0.0.1:{proxy.port}")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)

    def vectors(document_id: str) -> int:
        try:
            collection = chroma.get_collection(collection_name(user_id))
        except Exception:  # not created yet
            return 0
        return len(collection.get(where={"document_id": document_id}, include=[])["ids"])

    async def rows(document_id: str) -> int:
        return await pool.fetchval(
            "SELECT count(*) FROM rag.chunks WHERE document_id = $1::uuid", document_id
        )

    async def crash_during_ingest(**hold: bytes) -> str:
        """Ingest until the proxy holds the named Chroma call, then kill the server."""
        proxy.arm(**hold)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rag.port}") as channel:
            call = rag_service_pb2_grpc.RagServiceStub(channel).IngestDocument(
                pb.IngestDocumentRequest(text=TEXT, chunk_size=32, chunk_overlap=0), metadata=md
            )
            document_id = ""
            async for message in call:
                document_id = message.progress.document_id
                if message.progress.stage == pb.INGEST_STAGE_STORING:
                    break
            await asyncio.wait_for(proxy.held.wait(), 30)
            await rag.kill()
        return document_id

    async def restarted_document(document_id: str) -> document_pb2.Document:
        proxy.arm()
        await rag.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rag.port}") as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)

            async def settled() -> bool:
                doc = await stub.GetDocument(pb.GetDocumentRequest(id=document_id), metadata=md)
                return doc.status != document_pb2.DOCUMENT_STATUS_PROCESSING

            await _wait_until(settled, "the reconciler settled the document")
            return await stub.GetDocument(pb.GetDocumentRequest(id=document_id), metadata=md)

    try:
        await rag.start()
        # 1. Killed after the rows, before the vectors: the rows are there, no vector is.
        first = await crash_during_ingest(request=b"/upsert")
        assert await rows(first) > 0 and vectors(first) == 0
        doc = await restarted_document(first)
        assert doc.status == document_pb2.DOCUMENT_STATUS_FAILED and "interrupted" in doc.status_message
        assert await rows(first) == 0 and vectors(first) == 0

        # 2. Killed after the vectors, before publishing: both written, neither may stay.
        second = await crash_during_ingest(response_of=b"/upsert")
        assert await rows(second) > 0 and vectors(second) > 0
        doc = await restarted_document(second)
        assert doc.status == document_pb2.DOCUMENT_STATUS_FAILED
        assert await rows(second) == 0 and vectors(second) == 0

        # 3. A delete killed after the rows went, before the vectors did.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rag.port}") as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            messages = [
                m async for m in stub.IngestDocument(pb.IngestDocumentRequest(text=TEXT), metadata=md)
            ]
            third = messages[-1].final.document.id
            assert vectors(third) > 0
            proxy.arm(request=b"/delete")
            deleting = asyncio.ensure_future(
                stub.DeleteDocument(pb.DeleteDocumentRequest(id=third), metadata=md)
            )
            await asyncio.wait_for(proxy.held.wait(), 30)

            async def rows_gone() -> bool:
                return (
                    await pool.fetchval("SELECT count(*) FROM rag.documents WHERE id = $1::uuid", third) == 0
                )

            await _wait_until(rows_gone, "the delete committed")
            await rag.kill()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await deleting
        assert vectors(third) > 0  # an orphan, invisible to search
        proxy.arm()
        await rag.start()

        async def orphans_gone() -> bool:
            return await asyncio.to_thread(vectors, third) == 0

        await _wait_until(orphans_gone, "the reconciler deleted the orphan vectors")

        # The restarted server works as before.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rag.port}") as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            messages = [
                m async for m in stub.IngestDocument(pb.IngestDocumentRequest(text=TEXT), metadata=md)
            ]
            fresh = messages[-1].final.document
            assert (
                fresh.status == document_pb2.DOCUMENT_STATUS_READY and vectors(fresh.id) == fresh.chunk_count
            )
            hits = await stub.SearchDocuments(pb.SearchDocumentsRequest(query="basalt lava"), metadata=md)
            assert {h.document_id for h in hits.hits} == {fresh.id}
    finally:
        await rag.stop()
        await pool.close()
        with contextlib.suppress(httpx.HTTPError):
            chroma.clear_system_cache()
