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

    .venv/bin/python -m benchmarks.rag_ingest                       # 10,000 chunks
    .venv/bin/python -m benchmarks.rag_ingest --chunks 10000,100000 --docs 20,40 --skip-ingest

Then the time of each stage of a search alone (gateway embedding, Chroma
query and get, PostgreSQL visibility and full-text queries), as the server
runs them, to show where the time goes. Load averages are printed along.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

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


async def seed(
    database: str, chroma_path: str, user_id: str, passages: list[str], n: int, docs: int, base_n: int
) -> None:
    """`n` ready chunks over `docs` documents, written as the ingest writes them:
    the text of corpus passages, the vectors of the first `base_n` of them
    (embedded once here) plus a little noise, so 100,000 chunks need no
    100,000 embeddings."""
    import asyncpg

    from servers.ai.providers.local import _load
    from servers.rag.store import chunk_id
    from servers.rag.vectors import ChromaIndex, VectorRecord, open_client

    model = _load(0)
    passages = passages[:base_n]
    base = await asyncio.to_thread(model.encode, passages, batch_size=64, normalize_embeddings=True)
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
    # Fresh planner statistics, as autovacuum would soon give a table this size.
    await conn.execute("ANALYZE rag.chunks, rag.documents")
    await conn.close()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


async def search_latency(stub: Any, metadata: Any, queries: list[str], chunks: int) -> None:
    """p50/p95 per mode over queries never asked before (each one embedded
    through the gateway; every mode and size gets its own, or the query-vector
    cache would serve them), then the same queries again (vectors cached)."""
    per_mode = len(queries) // 3
    for m, (name, mode) in enumerate(
        (
            ("dense", pb.SEARCH_MODE_DENSE),
            ("lexical", pb.SEARCH_MODE_LEXICAL),
            ("hybrid", pb.SEARCH_MODE_HYBRID),
        )
    ):
        mine = queries[m * per_mode : (m + 1) * per_mode]
        for q in mine[:5]:  # warm, on queries not measured below
            await stub.SearchDocuments(pb.SearchDocumentsRequest(query=q, mode=mode), metadata=metadata)
        for label in ("new", "repeated"):
            samples = []
            for q in mine[5:]:
                t = time.perf_counter()
                await stub.SearchDocuments(
                    pb.SearchDocumentsRequest(query=q, top_k=5, mode=mode), metadata=metadata
                )
                samples.append((time.perf_counter() - t) * 1000)
            print(
                f"  search {name:8} at {chunks} chunks, {label} queries:",
                f"p50 {statistics.median(samples):.1f} ms, p95 {p95(samples):.1f} ms",
            )
            if mode == pb.SEARCH_MODE_LEXICAL:
                break  # lexical embeds nothing: the cache does not apply


async def stage_latency(stack: Stack, user_id: str, queries: list[str]) -> None:
    """Where a search's time goes: each stage alone, as the server runs it."""
    import os

    import asyncpg
    from aether.ai.v1 import ai_service_pb2, ai_service_pb2_grpc

    from servers.rag.queries import RagQueries, lexical_sql
    from servers.rag.vectors import ChromaIndex, open_client

    dsn = stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.database}"
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    chunks = RagQueries(pool)
    index = ChromaIndex(open_client(os.environ["RAG_CHROMA_PATH"], ""))
    stages: dict[str, list[float]] = {}

    async def timed(name: str, call: Any) -> Any:
        t = time.perf_counter()
        result = await call
        stages.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return result

    async with grpc.aio.insecure_channel(stack.address) as channel:
        ai = ai_service_pb2_grpc.AiServiceStub(channel)
        for q in queries:
            reply = await timed(
                "gateway CreateEmbeddings (1 query)",
                ai.CreateEmbeddings(
                    ai_service_pb2.CreateEmbeddingsRequest(texts=[q], model="all-MiniLM-L6-v2"),
                    metadata=stack.metadata,
                ),
            )
            vector = list(reply.embeddings[0].values)
            matches = await timed("chroma query (30 nearest)", index.query(user_id, vector, 30, None))
            await timed(
                "postgres visible (30 ids)", chunks.visible(user_id, [(m.id, m.similarity) for m in matches])
            )
            await timed("postgres lexical (top 20)", chunks.lexical(user_id, q, 20, (), ()))
            missing = [m.id for m in matches[-5:]]
            await timed("chroma get (5 vectors)", index.embeddings(user_id, missing))
    sql, *params = lexical_sql(user_id, queries[0], 20, (), ())
    plan = await pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    print(f"  the lexical query's plan for {queries[0]!r}:")
    print("\n".join("    " + r[0] for r in plan))
    await pool.close()
    for name, samples in stages.items():
        print(f"  stage {name:36} p50 {statistics.median(samples):6.1f} ms, p95 {p95(samples):6.1f} ms")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(args: argparse.Namespace) -> None:
    items = corpus(args.passages)
    print(load())
    async with Stack(args.postgres, args.redis).running() as stack:  # noqa: SIM117
        async with grpc.aio.insecure_channel(stack.address) as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            if args.skip_ingest:
                user_id = await user_of(stub, stack.metadata)
            else:
                user_id = await ingest_rate(stack, stub, items, args.ingest_passages)
            # 2. Search latency at each N chunks: seeded up to N, then measured.
            dsn = stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.database}"
            seeded = 0
            sizes = [int(n) for n in args.chunks.split(",")]
            fresh = [p.query for p in items]
            per_size = (args.queries + 5) * 3
            for size, docs in zip(sizes, [int(d) for d in args.docs.split(",")], strict=True):
                started = time.perf_counter()
                texts = [p.text for p in items]
                await seed(
                    dsn,
                    os.environ["RAG_CHROMA_PATH"],
                    user_id,
                    texts,
                    size - seeded,
                    docs,
                    args.base_passages,
                )
                seeded = size
                print(f"seeded up to {size} chunks in {time.perf_counter() - started:.0f} s; {load()}")
                queries, fresh = fresh[:per_size], fresh[per_size:]
                await search_latency(stub, stack.metadata, queries, size)
                await stage_latency(stack, user_id, queries[: args.queries])
                print(load())


async def user_of(stub: Any, metadata: Any) -> str:
    """The benchmark user's id, from a one-chunk document (also warms the model)."""
    warm = pb.IngestDocumentRequest(text="warm the model up " * 20)
    messages = [m async for m in stub.IngestDocument(warm, metadata=metadata)]
    return str(messages[-1].final.document.user_id)


async def ingest_rate(stack: Stack, stub: Any, items: list[Any], passages: int) -> str:
    """1. Ingest: one document of corpus passages, end to end, against the bare
    model on the same chunks; returns the user's id."""
    import asyncpg

    text = " ".join(p.text for p in items[:passages])
    await user_of(stub, stack.metadata)  # warms the model
    started = time.perf_counter()
    request = pb.IngestDocumentRequest(text=text, chunk_size=200, chunk_overlap=40)
    messages = [m async for m in stub.IngestDocument(request, metadata=stack.metadata)]
    elapsed = time.perf_counter() - started
    doc = messages[-1].final.document
    pipeline = doc.chunk_count / elapsed
    conn = await asyncpg.connect(stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.database}")
    chunks = [
        r["text"]
        for r in await conn.fetch(
            "SELECT text FROM rag.chunks WHERE document_id = $1 ORDER BY chunk_index", uuid.UUID(doc.id)
        )
    ]
    await conn.close()
    model = await asyncio.to_thread(bare_model_rate, chunks)
    print(f"ingest: {doc.chunk_count} chunks of <=200 word pieces in {elapsed:.1f} s")
    ratio = pipeline / model
    print(f"  pipeline {pipeline:.1f} chunks/s, bare model {model:.1f} chunks/s, ratio {ratio:.2f}")
    return str(doc.user_id)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument(
        "--ingest-passages", type=int, default=120, help="corpus passages in the ingested text"
    )
    parser.add_argument("--chunks", default="10000", help="sizes to measure at, e.g. 10000,100000")
    parser.add_argument("--docs", default="20", help="documents added per size, e.g. 20,40")
    parser.add_argument(
        "--base-passages", type=int, default=2000, help="passages embedded as the seeded vectors' base"
    )
    parser.add_argument("--skip-ingest", action="store_true", help="only the search latency")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    uvloop.run(main(parser.parse_args()))
