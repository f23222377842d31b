"""RAG throughput and latency, through the real RagService (gRPC) in this
process with the AI gateway's local all-MiniLM-L6-v2:

1. ingest chunks/s end to end (fetch-less: text in, stream to the final
   message) against the bare model's chunks/s on the very same chunks in the
   same run (sentence-transformers `encode`, batch 64, no server);
2. search p95 for dense, lexical and hybrid with N chunks in the user's
   collection. The N chunks are seeded straight into PostgreSQL and Chroma
   (real corpus text, vectors of the corpus passages with a little noise,
   so the index is as large as asked without embedding N chunks here);
   every query still goes the whole way: embedding through the gateway,
   Chroma, PostgreSQL, fusion.

    .venv/bin/python benchmarks/rag_ingest.py                       # 10,000 chunks
    .venv/bin/python benchmarks/rag_ingest.py --chunks 100000 --docs 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import grpc
import numpy as np
import uvloop
from aether.rag.v1 import rag_service_pb2 as pb
from aether.rag.v1 import rag_service_pb2_grpc

from benchmarks.rag_support import Stack, corpus


def bare_model_rate(texts: list[str]) -> float:
    """Chunks/s of the model alone, as the gateway runs it (one batch call)."""
    from servers.ai.providers.local import _load

    model = _load(0)
    model.encode(texts[:8], batch_size=64, normalize_embeddings=True)  # warm
    started = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return len(texts) / (time.perf_counter() - started)


async def seed(database: str, chroma_path: str, user_id: str, passages: list[str], n: int, docs: int) -> None:
    """`n` ready chunks over `docs` documents, written as the ingest writes them."""
    import asyncpg

    from servers.ai.providers.local import _load
    from servers.rag.store import chunk_id
    from servers.rag.vectors import ChromaIndex, VectorRecord, open_client

    model = _load(0)
    base = model.encode(passages, batch_size=64, normalize_embeddings=True)
    rng = np.random.default_rng(5)
    conn = await asyncpg.connect(database)
    index = ChromaIndex(open_client(chroma_path, ""))
    per_doc = n // docs
    for d in range(docs):
        doc_id = str(uuid.uuid4())
        await conn.execute(
            """INSERT INTO rag.documents (id, user_id, title, source_type, status, chunk_count, chunk_size,
                   chunk_overlap, content_sha256, embedding_model, generation)
               VALUES ($1, $2, $3, 'text', 'ready', $4, 200, 40, $5, 'all-MiniLM-L6-v2', 1)""",
            doc_id,
            user_id,
            f"seeded {d}",
            per_doc,
            uuid.uuid4().hex,
        )
        picks = rng.integers(0, len(passages), per_doc)
        vectors = base[picks] + rng.normal(0, 0.02, (per_doc, base.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await conn.copy_records_to_table(
            "chunks",
            schema_name="rag",
            columns=["id", "document_id", "user_id", "generation", "chunk_index", "text"],
            records=[
                (chunk_id(doc_id, 1, i), uuid.UUID(doc_id), user_id, 1, i, passages[p])
                for i, p in enumerate(picks)
            ],
        )
        await index.upsert(
            user_id,
            [
                VectorRecord(chunk_id(doc_id, 1, i), list(map(float, v)), doc_id, 1, i, 0, {})
                for i, v in enumerate(vectors)
            ],
        )
    await conn.close()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


async def main(args: argparse.Namespace) -> None:
    items = corpus(args.passages)
    async with Stack(args.postgres, args.redis).running() as stack:  # noqa: SIM117
        async with grpc.aio.insecure_channel(stack.address) as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            # 1. Ingest: documents of ~50 chunks each, one at a time, as a user would.
            text = " ".join(p.text for p in items[: args.ingest_passages])
            warm = pb.IngestDocumentRequest(text="warm the model up " * 20)
            _ = [m async for m in stub.IngestDocument(warm, metadata=stack.metadata)]
            started = time.perf_counter()
            request = pb.IngestDocumentRequest(text=text, chunk_size=200, chunk_overlap=40)
            messages = [m async for m in stub.IngestDocument(request, metadata=stack.metadata)]
            elapsed = time.perf_counter() - started
            doc = messages[-1].final.document
            pipeline = doc.chunk_count / elapsed
            import asyncpg

            conn = await asyncpg.connect(stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.database}")
            chunks = [
                r["text"]
                for r in await conn.fetch(
                    "SELECT text FROM rag.chunks WHERE document_id = $1 ORDER BY chunk_index",
                    uuid.UUID(doc.id),
                )
            ]
            user_id = doc.user_id
            await conn.close()
            model = await asyncio.to_thread(bare_model_rate, chunks)
            print(f"ingest: {doc.chunk_count} chunks of <=200 word pieces in {elapsed:.1f} s")
            print(
                f"  pipeline {pipeline:.1f} chunks/s, bare model {model:.1f} chunks/s,",
                f"ratio {pipeline / model:.2f}",
            )

            # 2. Search latency at N chunks.
            import os

            dsn = stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.database}"
            started = time.perf_counter()
            await seed(
                dsn, os.environ["RAG_CHROMA_PATH"], user_id, [p.text for p in items], args.chunks, args.docs
            )
            print(f"seeded {args.chunks} chunks in {time.perf_counter() - started:.0f} s")
            queries = [p.query for p in items[: args.queries]]
            for name, mode in (
                ("dense", pb.SEARCH_MODE_DENSE),
                ("lexical", pb.SEARCH_MODE_LEXICAL),
                ("hybrid", pb.SEARCH_MODE_HYBRID),
            ):
                samples = []
                for q in queries[:5]:  # warm
                    await stub.SearchDocuments(
                        pb.SearchDocumentsRequest(query=q, mode=mode), metadata=stack.metadata
                    )
                for q in queries:
                    t = time.perf_counter()
                    await stub.SearchDocuments(
                        pb.SearchDocumentsRequest(query=q, top_k=5, mode=mode), metadata=stack.metadata
                    )
                    samples.append((time.perf_counter() - t) * 1000)
                print(
                    f"  search {name:8} at {args.chunks} chunks:",
                    f"p50 {statistics.median(samples):.1f} ms, p95 {p95(samples):.1f} ms",
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument(
        "--ingest-passages", type=int, default=120, help="corpus passages in the ingested text"
    )
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    uvloop.run(main(parser.parse_args()))
