"""Retrieval quality of dense, lexical and hybrid search, in one run, through
the real RagService (gRPC), on a corpus built from the standard library's
docstrings (benchmarks/rag_support.py): each passage is one documented
function's docstring body, ingested as its own document; its query is the
docstring's summary line, and the one relevant document is that passage.

    .venv/bin/python benchmarks/rag_eval.py                  # every passage (~1,750), 300 queries
    .venv/bin/python benchmarks/rag_eval.py --passages 3000 --queries 500

Prints recall@1, recall@5 and MRR@10 for each mode. Needs PostgreSQL
(--postgres) and Redis (--redis); a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import time

import grpc
import uvloop
from aether.rag.v1 import rag_service_pb2 as pb
from aether.rag.v1 import rag_service_pb2_grpc

from benchmarks.rag_support import Stack, corpus, ingest_all

MODES = {"dense": pb.SEARCH_MODE_DENSE, "lexical": pb.SEARCH_MODE_LEXICAL, "hybrid": pb.SEARCH_MODE_HYBRID}


async def main(args: argparse.Namespace) -> None:
    passages = corpus(args.passages)
    queries = random.Random(11).sample(  # noqa: S311 (a reproducible sample)
        passages, min(args.queries, len(passages))
    )
    print(f"corpus: {len(passages)} passages (stdlib docstrings), {len(queries)} queries")
    async with Stack(args.postgres, args.redis).running() as stack:  # noqa: SIM117
        async with grpc.aio.insecure_channel(stack.address) as channel:
            stub = rag_service_pb2_grpc.RagServiceStub(channel)
            started = time.perf_counter()
            names = await ingest_all(stub, stack.metadata, passages)
            print(f"ingested in {time.perf_counter() - started:.0f} s")
            print(f"{'mode':8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>7}")
            for mode, value in MODES.items():
                r1 = r5 = mrr = 0.0
                for passage in queries:
                    request = pb.SearchDocumentsRequest(query=passage.query, top_k=10, mode=value)
                    hits = (await stub.SearchDocuments(request, metadata=stack.metadata)).hits
                    ranked = [names[h.document_id] for h in hits]
                    if passage.name in ranked:
                        rank = ranked.index(passage.name) + 1
                        r1 += rank == 1
                        r5 += rank <= 5
                        mrr += 1 / rank
                n = len(queries)
                print(f"{mode:8} {r1 / n:9.3f} {r5 / n:9.3f} {mrr / n:7.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    uvloop.run(main(parser.parse_args()))
