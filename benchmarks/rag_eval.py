"""Retrieval quality of dense, lexical and hybrid search, in one run, through
the real RagService (gRPC), on a corpus built from the standard library's
docstrings (benchmarks/rag_support.py): each passage is one documented
function's docstring body, ingested as its own document; its query is the
docstring's summary line, and the one relevant document is that passage.

    .venv/bin/python benchmarks/rag_eval.py                  # every passage (~1,750), 300 queries
    .venv/bin/python benchmarks/rag_eval.py --passages 3000 --queries 500
    .venv/bin/python benchmarks/rag_eval.py --tune           # 300 other queries, fusion weights

Prints recall@1, recall@5 and MRR@10 for each mode. Needs PostgreSQL
(--postgres) and Redis (--redis); a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import grpc
import uvloop
from aether.rag.v1 import rag_service_pb2 as pb
from aether.rag.v1 import rag_service_pb2_grpc

from benchmarks.rag_support import Passage, Stack, corpus, ingest_all
from servers.rag.retrieval import rrf

MODES = {"dense": pb.SEARCH_MODE_DENSE, "lexical": pb.SEARCH_MODE_LEXICAL, "hybrid": pb.SEARCH_MODE_HYBRID}


def queries_of(passages: list[Passage], n: int, *, tune: bool) -> list[Passage]:
    """The reported queries (a seeded sample), or as many of the other passages'
    (another seed) to choose the fusion's weights on: tuning never sees the
    queries whose figures are reported."""
    reported = random.Random(11).sample(passages, min(n, len(passages)))  # noqa: S311 (reproducible)
    if not tune:
        return reported
    asked = set(reported)
    others = [p for p in passages if p not in asked]
    return random.Random(12).sample(others, min(n, len(others)))  # noqa: S311


def figures(ranked: list[list[str]], queries: list[Passage]) -> tuple[float, float, float]:
    """recall@1, recall@5 and MRR@10 of each query's ranked passage names."""
    r1 = r5 = mrr = 0.0
    for names, passage in zip(ranked, queries, strict=True):
        if passage.name in names[:10]:
            rank = names.index(passage.name) + 1
            r1 += rank == 1
            r5 += rank <= 5
            mrr += 1 / rank
    n = len(queries)
    return r1 / n, r5 / n, mrr / n


async def search(stub: Any, metadata: Any, query: str, mode: Any, top_k: int) -> list[Any]:
    request = pb.SearchDocumentsRequest(query=query, top_k=top_k, mode=mode)
    return list((await stub.SearchDocuments(request, metadata=metadata)).hits)


async def report(stub: Any, metadata: Any, names: dict[str, str], queries: list[Passage]) -> None:
    for mode, value in MODES.items():
        ranked = [
            [names[h.document_id] for h in await search(stub, metadata, q.query, value, 10)] for q in queries
        ]
        print(f"{mode:8} " + " ".join(f"{f:9.3f}" for f in figures(ranked, queries)))


async def tune(stub: Any, metadata: Any, names: dict[str, str], queries: list[Passage]) -> None:
    """Each mode as served, then RRF of dense and lexical over a grid of
    lexical weights (dense's is 1) and k, on the candidates hybrid fuses for
    top 10 (40 from each)."""
    await report(stub, metadata, names, queries)
    rankings: list[tuple[list[str], list[str]]] = []
    chunk_names: dict[str, str] = {}
    for q in queries:
        dense = await search(stub, metadata, q.query, pb.SEARCH_MODE_DENSE, 40)
        lexical = await search(stub, metadata, q.query, pb.SEARCH_MODE_LEXICAL, 40)
        rankings.append(([h.chunk_id for h in dense], [h.chunk_id for h in lexical]))
        chunk_names |= {h.chunk_id: names[h.document_id] for h in [*dense, *lexical]}
    for k in (5, 10, 20, 30, 60):
        for weight in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
            ranked = [[chunk_names[c] for c in rrf([(1.0, d), (weight, lx)], k)] for d, lx in rankings]
            print(
                f"rrf k={k:<3} lexical weight {weight:.1f} "
                + " ".join(f"{f:9.3f}" for f in figures(ranked, queries))
            )


async def main(args: argparse.Namespace) -> None:
    passages = corpus(args.passages)
    queries = queries_of(passages, args.queries, tune=args.tune)
    split = "tuning" if args.tune else "reported"
    print(f"corpus: {len(passages)} passages (stdlib docstrings), {len(queries)} {split} queries")
    async with Stack(args.postgres, args.redis).running() as stack:  # noqa: SIM117
        async with grpc.aio.insecure_channel(stack.address) as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            started = time.perf_counter()
            names = await ingest_all(stub, stack.metadata, passages)
            print(f"ingested in {time.perf_counter() - started:.0f} s")
            print(f"{'mode':8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>9}")
            await (tune if args.tune else report)(stub, stack.metadata, names, queries)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--tune",
        action="store_true",
        help="other queries than the reported ones, and a grid of fusion weights",
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    uvloop.run(main(parser.parse_args()))
