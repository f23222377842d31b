"""Shared by the RAG benchmarks: a scratch database, the auth, AI and RAG
servers in this process (as the tests build them), a registered user, and a
corpus built from the Python standard library's docstrings (real prose the
machine already has: each passage is one function's or class's docstring
body, its query is that docstring's summary line)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import random
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc

MODULES = """abc argparse ast asyncio base64 bisect bz2 calendar cmd codecs collections colorsys
concurrent.futures configparser contextlib copy csv dataclasses datetime decimal difflib dis doctest
email.message email.utils enum filecmp fnmatch fractions ftplib functools gc getpass gettext glob graphlib
gzip hashlib heapq hmac html html.parser http.client http.cookies imaplib inspect io ipaddress itertools
json locale logging lzma mailbox math mimetypes mmap operator os os.path pathlib pickle platform plistlib
poplib pprint queue quopri random re sched secrets selectors shelve shlex shutil signal smtplib socket
sqlite3 ssl stat statistics string struct subprocess tarfile tempfile textwrap threading time timeit
tokenize tomllib traceback types typing unittest urllib.parse urllib.request uuid warnings wave weakref
xml.dom.minidom xml.etree.ElementTree zipfile zlib logging.handlers unittest.mock multiprocessing
http.server email.mime.text xml.sax urllib.robotparser numpy numpy.linalg numpy.random numpy.ma numpy.fft
numpy.polynomial numpy.lib.recfunctions""".split()


# The local embedding model without its per-user limits (120 requests a minute):
# a latency benchmark sends a few hundred queries as one user within a minute or two.
LOCAL_MODEL_UNLIMITED = """[[models]]
id = "all-MiniLM-L6-v2"
name = "all-MiniLM-L6-v2 (local)"
provider = "local"
capabilities = ["embeddings"]
context_window = 256
max_tokens = 0
dimensions = 384
requests_per_minute = 0
tokens_per_minute = 0
"""


@dataclass(frozen=True)
class Passage:
    name: str  # e.g. "textwrap.dedent"
    query: str  # the docstring's summary line
    text: str  # the rest of the docstring


def corpus(limit: int, seed: int = 7) -> list[Passage]:
    """Every documented public function, class and method of MODULES whose
    docstring's first sentence has at least 5 words and whose body (after
    the first paragraph) has at least 15,
    deduplicated, in a seeded random order; the first `limit`."""
    found: dict[str, Passage] = {}
    for module_name in MODULES:
        with contextlib.suppress(Exception):
            module = importlib.import_module(module_name)
            for name, obj in inspect.getmembers(module):
                members = [(name, obj)]
                if inspect.isclass(obj):
                    members += [(f"{name}.{m}", o) for m, o in vars(obj).items() if callable(o)]
                for qual, item in members:
                    if qual.startswith("_") or ("." in qual and qual.rsplit(".", 1)[1].startswith("_")):
                        continue
                    doc = inspect.getdoc(item) or ""
                    summary, _, body = doc.partition("\n\n")
                    summary = " ".join(summary.split()).split(". ")[0]
                    body = " ".join(body.split()[:180])
                    if len(summary.split()) >= 5 and len(body.split()) >= 15 and body not in found:
                        found[body] = Passage(f"{module_name}.{qual}", summary, body)
    passages = sorted(found.values(), key=lambda p: p.name)
    random.Random(seed).shuffle(passages)  # noqa: S311 (a reproducible order)
    return passages[:limit]


class Stack:
    """auth + ai + rag in one in-process server over a scratch database."""

    def __init__(self, postgres: str, redis: str):
        self.admin_dsn = postgres
        self.database = f"aether_bench_rag_{uuid.uuid4().hex[:8]}"
        self.redis = redis
        self.address = ""
        self.metadata: tuple[tuple[str, str], ...] = ()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Stack]:
        from servers.platform.secrets import new_secret_key

        admin = await asyncpg.connect(self.admin_dsn)
        await admin.execute(f'CREATE DATABASE "{self.database}"')
        dsn = self.admin_dsn.rsplit("/", 1)[0] + f"/{self.database}"
        models = os.path.join(tempfile.mkdtemp(prefix="aether-bench-models-"), "models.toml")
        await asyncio.to_thread(Path(models).write_text, LOCAL_MODEL_UNLIMITED)
        os.environ.update(
            AI_MODELS_FILE=models,
            # The RPCs' own limits (30 ingests, 600 searches a minute) lifted: the
            # evaluation ingests hundreds and searches a thousand times in a few minutes.
            RATE_LIMIT_OVERRIDES="/aether.rag.v1.RagService/IngestDocument=1000000/60,"
            "/aether.rag.v1.RagService/SearchDocuments=1000000/60",
            DATABASE_URL=dsn,
            REDIS_URL=self.redis,
            AETHER_SECRET_KEY=new_secret_key(),
            GRPC_HOST="127.0.0.1",
            GRPC_PORT="0",
            LOG_LEVEL="WARNING",
            DATABASE_POOL_MAX="4",
            RAG_CHROMA_PATH=tempfile.mkdtemp(prefix="aether-bench-chroma-"),
            RAG_RECONCILE_INTERVAL_SECONDS="0",
        )
        from servers import registry
        from servers.platform.runtime import Server
        from servers.platform.settings import PlatformSettings

        server = Server([registry.load(n) for n in ("auth", "ai", "rag")], PlatformSettings())
        try:
            self.address = f"127.0.0.1:{await server.start()}"
            self.metadata = (("authorization", f"Bearer {await self._token()}"),)
            await self._model_loaded()
            yield self
        finally:
            await server.stop()
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            await admin.close()

    async def _model_loaded(self, within: float = 600) -> None:
        """Wait until the gateway's embedding model answers (it loads in the
        background; on a busy machine that takes a while)."""
        from aether.ai.v1 import ai_service_pb2, ai_service_pb2_grpc

        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = ai_service_pb2_grpc.AiServiceStub(channel)
            for _ in range(int(within / 2)):
                try:
                    await stub.CreateEmbeddings(
                        ai_service_pb2.CreateEmbeddingsRequest(text="warm"),
                        metadata=self.metadata,
                        timeout=120,
                    )
                    return
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(2)
        raise RuntimeError("the embedding model did not load")

    async def _token(self) -> str:
        from aether.auth.v1 import auth_service_pb2 as auth
        from aether.auth.v1 import auth_service_pb2_grpc

        email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "Correct-Horse-42"
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = auth_service_pb2_grpc.AuthServiceStub(channel)
            await stub.Register(auth.RegisterRequest(email=email, password=password, name="Bench"))
            return (await stub.Login(auth.LoginRequest(email=email, password=password))).access_token


async def ingest_all(
    stub: object, metadata: object, passages: list[Passage], concurrency: int = 2
) -> dict[str, str]:
    """Ingest each passage as its own document; returns document id -> passage name.
    Two at a time: the gateway lets a user have two embedding requests in flight
    (AI_EMBEDDING_CONCURRENCY_PER_USER)."""
    from aether.rag.v1 import rag_service_pb2 as pb

    out: dict[str, str] = {}
    queue = list(passages)

    async def worker() -> None:
        while queue:
            passage = queue.pop()
            request = pb.IngestDocumentRequest(text=passage.text, title=passage.name, chunk_size=254)
            messages = [m async for m in stub.IngestDocument(request, metadata=metadata)]  # type: ignore[attr-defined]
            out[messages[-1].final.document.id] = passage.name

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))
