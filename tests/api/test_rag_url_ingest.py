"""URL ingest is SSRF-safe: a RAG server whose only exempt host is a local
test web server (RAG_URL_ALLOW_HOSTS=127.0.0.1:<its port>) fetches from it,
and refuses every other way of reaching it or anything internal: loopback
names and spellings, IPv6 and IPv4-mapped forms, private, link-local and
metadata addresses, redirects to them, oversize and slow answers, types it
does not accept. The web server counts the requests it got: none of the
refused ones reached it. Also: no AI provider means FAILED_PRECONDITION."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from aether.rag.v1 import document_pb2, rag_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2 as pb
from aiohttp import web

from tests.helpers import bearer, rich_error
from tests.rag.pdfs import pdf_with_pages
from tests.rag.servers import start_rag_server

PAGE = (
    "<html><head><title>Lava lamps</title><style>p{}</style></head>"
    "<body><p>Lava lamps hold wax.</p><script>var hidden = 1;</script></body></html>"
)


class Site:
    """A local web server; `hits` counts requests by path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()

        async def handle(request: web.Request) -> web.StreamResponse:
            self.hits[request.path] += 1
            path = request.path
            if path == "/page":
                return web.Response(text=PAGE, content_type="text/html")
            if path == "/guide.pdf":
                return web.Response(
                    body=pdf_with_pages(["Basalt is a volcanic rock."]), content_type="application/pdf"
                )
            if path == "/secret":
                return web.Response(text="internal secret", content_type="text/plain")
            if path == "/to-localhost":
                raise web.HTTPFound(f"http://localhost:{self.port}/secret")
            if path == "/to-metadata":
                raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
            if path == "/hop":
                n = int(request.query.get("n", "0"))
                raise web.HTTPFound(f"/hop?n={n + 1}" if n < 10 else "/page")
            if path == "/three-hops":
                raise web.HTTPFound("/hop?n=9")
            if path == "/big":
                return web.Response(text="x" * 5000, content_type="text/plain")
            if path == "/big-streamed":
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await response.prepare(request)
                for _ in range(10):
                    await response.write(b"y" * 1000)
                return response
            if path == "/slow":
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await response.prepare(request)
                await response.write(b"first bytes ")
                await asyncio.sleep(30)
                return response
            if path == "/image":
                return web.Response(body=b"\x89PNG", content_type="image/png")
            if path == "/missing":
                raise web.HTTPNotFound()
            raise web.HTTPNotFound()

        app.router.add_route("GET", "/{tail:.*}", handle)
        return app


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[Site]:
    site = Site()
    runner = web.AppRunner(site.app())
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield site
    await runner.cleanup()


@pytest.fixture(scope="module")
async def rag(
    app_server: tuple[str, list[str]], site: Site
) -> AsyncIterator[rag_service_pb2_grpc.RagServiceStub]:
    server, address = await start_rag_server(
        app_server[0],
        {
            "RAG_URL_ALLOW_HOSTS": f"127.0.0.1:{site.port}",
            "RAG_URL_MAX_BYTES": "4000",
            "RAG_URL_TIMEOUT_SECONDS": "1.5",
            "RAG_URL_MAX_REDIRECTS": "3",
        },
    )
    async with grpc.aio.insecure_channel(address) as channel:
        yield rag_service_pb2_grpc.RagServiceStub(channel)
    await server.stop()


@pytest.fixture
async def md(forge_token) -> tuple[tuple[str, str], ...]:
    user_id = str(uuid.uuid4())
    return bearer(await forge_token(user_id))


async def ingest(
    stub: rag_service_pb2_grpc.RagServiceStub, md: Any, url: str
) -> list[pb.IngestDocumentResponse]:
    return [m async for m in stub.IngestDocument(pb.IngestDocumentRequest(url=url), metadata=md)]


async def test_an_allowed_test_host_is_fetched(rag, md, site: Site) -> None:
    messages = await ingest(rag, md, f"http://127.0.0.1:{site.port}/page")
    assert messages[0].progress.stage == pb.INGEST_STAGE_FETCHING
    doc = messages[-1].final.document
    assert doc.title == "Lava lamps" and doc.source_type == document_pb2.SOURCE_TYPE_URL
    assert doc.source_url == f"http://127.0.0.1:{site.port}/page" and doc.chunk_count == 1
    pdf = (await ingest(rag, md, f"http://127.0.0.1:{site.port}/guide.pdf"))[-1].final.document
    assert pdf.chunk_count == 1
    hops = (await ingest(rag, md, f"http://127.0.0.1:{site.port}/three-hops"))[-1].final.document
    assert hops.source_url.endswith("/page")  # 3 redirects: within the limit


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/secret",  # a name that resolves to loopback
        "http://127.0.0.2:{port}/secret",
        "http://[::1]:{port}/secret",
        "http://0.0.0.0:{port}/secret",
        "http://2130706433:{port}/secret",  # 127.0.0.1 in decimal
        "http://0x7f000001:{port}/secret",  # in hex
        "http://0177.0.0.1:{port}/secret",  # in octal
        "http://127.1:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",  # IPv4-mapped IPv6
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://user:pw@127.0.0.1:{port}/page",
        "http://127.0.0.1:{port}/to-localhost",  # a redirect from the allowed host to a blocked one
        "http://127.0.0.1:{port}/to-metadata",
    ],
)
async def test_internal_destinations_are_refused_and_never_fetched(rag, md, site: Site, url: str) -> None:
    before = site.hits["/secret"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest(rag, md, url.format(port=site.port))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert "not allowed" in err.value.details() and "url" in rich_error(err.value).field_violations
    assert site.hits["/secret"] == before


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/hop?n=0", "redirects"),
        ("/big", "too large"),
        ("/big-streamed", "too large"),
        ("/slow", "too long"),
        ("/image", "content type"),
        ("/missing", "error"),
    ],
)
async def test_caps_limits_and_types(rag, md, site: Site, path: str, why: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest(rag, md, f"http://127.0.0.1:{site.port}{path}")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert why in err.value.details(), err.value.details()


async def test_without_an_ai_provider_ask_names_the_setting(app_server, start_ai_server, forge_token) -> None:
    no_keys = dict.fromkeys(
        ("GEMINI_API_KEY", "GROQ_API_KEY", "HUGGINGFACE_API_KEY", "OPENAI_API_KEY", "OLLAMA_BASE_URL")
    )
    gateway = await start_ai_server(**no_keys)
    server, address = await start_rag_server(app_server[0], {"AI_ADDR": gateway})
    try:
        user_id = str(uuid.uuid4())
        md = bearer(await forge_token(user_id))
        async with grpc.aio.insecure_channel(address) as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            text = "Obsidian is volcanic glass that forms when lava cools quickly."
            _ = [m async for m in stub.IngestDocument(pb.IngestDocumentRequest(text=text), metadata=md)]
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.AskQuestion(pb.AskQuestionRequest(question="How does obsidian form?"), metadata=md)
    finally:
        await server.stop()
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rich_error(err.value).reason == "NOT_CONFIGURED"
    assert "_API_KEY" in err.value.details() or "OLLAMA_BASE_URL" in err.value.details(), err.value.details()
