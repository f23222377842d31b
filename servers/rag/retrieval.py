"""Retrieval over one user's chunks: dense (Chroma), lexical (PostgreSQL
full-text search) and hybrid (both fused by reciprocal rank fusion).

Every mode returns only visible chunks (PostgreSQL decides, so a half-written
ingest or a deleted document never shows). Hybrid orders by RRF and scores
each hit by its cosine similarity to the query (lexical-only hits get theirs
from their stored vectors), so `min_score` means the same in dense and hybrid."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from servers.rag.domain import DENSE, LEXICAL, Condition, Hit, SearchQuery
from servers.rag.vectors import VectorMatch, chroma_where

# Reciprocal rank fusion's k and each retriever's weight, chosen on rag_eval.py's
# tuning split, not on the queries it reports (docs/rag.md): a small k lets each
# ranking's top hits decide; dense, the stronger ranker on paraphrased questions,
# outweighs lexical, which adds the exact words.
RRF_K = 5
DENSE_WEIGHT, LEXICAL_WEIGHT = 1.0, 0.6
# Candidates each retriever contributes to the fusion, per hit asked for.
CANDIDATES_PER_HIT = 4
MIN_CANDIDATES = 20


class Embedder(Protocol):
    async def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], str]: ...


class QueryVectors(Protocol):
    async def vector(self, user_id: str, text: str) -> list[float]: ...


class VectorIndex(Protocol):
    async def query(
        self, user_id: str, embedding: list[float], n: int, where: dict[str, object] | None
    ) -> list[VectorMatch]: ...
    async def embeddings(self, user_id: str, ids: Sequence[str]) -> dict[str, list[float]]: ...


class ChunkReads(Protocol):
    async def visible(self, user_id: str, scored: Sequence[tuple[str, float]]) -> list[Hit]: ...
    async def lexical(
        self, user_id: str, text: str, n: int, conditions: Sequence[Condition], document_ids: Sequence[str]
    ) -> list[Hit]: ...


def rrf(rankings: Sequence[tuple[float, Sequence[str]]], k: int = RRF_K) -> list[str]:
    """Ids ordered by weighted reciprocal rank fusion: the sum over (weight,
    ranking) of weight / (k + rank)."""
    scores: dict[str, float] = {}
    for weight, ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda item: (-scores[item], item))


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    # The gateway's vectors are unit length: the dot product is the cosine.
    return min(max(sum(x * y for x, y in zip(a, b, strict=True)), 0.0), 1.0)


class Retriever:
    def __init__(self, queries: QueryVectors, index: VectorIndex, chunks: ChunkReads):
        self._queries = queries
        self._index = index
        self._chunks = chunks

    async def search(self, user_id: str, query: SearchQuery) -> list[Hit]:
        if query.mode == LEXICAL:
            hits = await self._chunks.lexical(
                user_id, query.text, query.top_k, query.conditions, query.document_ids
            )
        elif query.mode == DENSE:
            _, hits = await self._dense(user_id, query, query.top_k)
            hits = hits[: query.top_k]
        else:
            hits = await self._hybrid(user_id, query)
        if query.min_score is not None:
            hits = [h for h in hits if h.score >= query.min_score]
        return hits

    async def _dense(self, user_id: str, query: SearchQuery, n: int) -> tuple[list[float], list[Hit]]:
        """The query's vector and its `n` nearest visible chunks."""
        vector = await self._queries.vector(user_id, query.text)
        # Ask for a few more: vectors of unpublished or deleted chunks are dropped by `visible`.
        where = chroma_where(query.conditions, query.document_ids)
        matches = await self._index.query(user_id, vector, n + 10, where)
        return vector, await self._chunks.visible(user_id, [(m.id, m.similarity) for m in matches])

    async def _hybrid(self, user_id: str, query: SearchQuery) -> list[Hit]:
        n = max(query.top_k * CANDIDATES_PER_HIT, MIN_CANDIDATES)
        # Neither needs the other's results: PostgreSQL's full-text query runs while the
        # query is embedded and Chroma searched, so hybrid costs the slower of the two.
        (vector, dense), lexical = await asyncio.gather(
            self._dense(user_id, query, n),
            self._chunks.lexical(user_id, query.text, n, query.conditions, query.document_ids),
        )
        fused = rrf(
            [
                (DENSE_WEIGHT, [h.chunk_id for h in dense[:n]]),
                (LEXICAL_WEIGHT, [h.chunk_id for h in lexical]),
            ]
        )[: query.top_k]
        by_id = {h.chunk_id: h for h in lexical} | {h.chunk_id: h for h in dense}
        dense_ids = {h.chunk_id for h in dense}
        missing = [cid for cid in fused if cid not in dense_ids]
        vectors = await self._index.embeddings(user_id, missing)
        out = []
        for cid in fused:
            hit = by_id[cid]
            if cid in vectors:
                hit = replace(hit, score=_cosine(vector, vectors[cid]))
            elif cid not in dense_ids:
                continue  # a vector not (yet) in the index: not searchable densely either
            out.append(hit)
        return out
