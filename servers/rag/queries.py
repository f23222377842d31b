"""RAG reads outside a transaction, every one scoped to its owner: documents
(get, list, by request id, by content hash) and chunks (which are visible,
lexical search). A chunk is visible when its document is ready and the chunk
is of the document's current generation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer
from servers.rag.domain import READY, Condition, Document, Hit
from servers.rag.store import COLUMNS, to_document

_SORTS = {"createdAt": "created_at", "title": "title", "sizeBytes": "size_bytes"}
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

_HIT_COLUMNS = """c.id, c.document_id::text AS document_id, d.title, c.chunk_index, c.page, c.text,
    d.metadata"""
_VISIBLE = f"d.id = c.document_id AND d.generation = c.generation AND d.status = '{READY}'"


class _Params:
    """Numbered query parameters ($1, $2, ...) collected as they are used."""

    def __init__(self, *initial: Any):
        self.values = list(initial)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def condition_sql(c: Condition, p: _Params) -> str:
    """One metadata condition on d.metadata (jsonb). A missing key matches no
    operator, $ne and $nin included, as in Chroma."""
    key = p(c.key)
    if c.op in _COMPARE:
        return (
            f"(jsonb_typeof(d.metadata -> {key}) = 'number' "
            f"AND (d.metadata ->> {key})::float8 {_COMPARE[c.op]} {p(float(c.value))})"  # type: ignore[arg-type]
        )
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    matches = f"d.metadata -> {key} = ANY({p([json.dumps(v) for v in values])}::jsonb[])"
    if c.op in ("$ne", "$nin"):
        return f"(d.metadata ? {key} AND NOT {matches})"
    return f"({matches})"


def _hit(row: asyncpg.Record, score: float) -> Hit:
    return Hit(
        chunk_id=row["id"],
        document_id=row["document_id"],
        document_title=row["title"],
        chunk_index=row["chunk_index"],
        page=row["page"],
        text=row["text"],
        metadata=json.loads(row["metadata"]),
        score=score,
    )


class RagQueries:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def get(self, document_id: str, viewer: Viewer) -> Document | None:
        row = await self._pool.fetchrow(
            f"""SELECT {COLUMNS} FROM rag.documents
                WHERE id::text = $1 AND ($2::text IS NULL OR user_id = $2)""",  # noqa: S608
            document_id,
            None if viewer.is_admin else viewer.user_id,
        )
        return to_document(row) if row else None

    async def by_request_id(self, user_id: str, request_id: str) -> Document | None:
        row = await self._pool.fetchrow(
            f"SELECT {COLUMNS} FROM rag.documents WHERE user_id = $1 AND request_id = $2",  # noqa: S608
            user_id,
            request_id,
        )
        return to_document(row) if row else None

    async def by_content(self, user_id: str, sha256: str) -> Document | None:
        row = await self._pool.fetchrow(
            f"""SELECT {COLUMNS} FROM rag.documents
                WHERE user_id = $1 AND content_sha256 = $2 AND status = '{READY}'
                ORDER BY created_at LIMIT 1""",  # noqa: S608
            user_id,
            sha256,
        )
        return to_document(row) if row else None

    async def page(
        self,
        user_id: str,
        page: PageRequest,
        *,
        sort: str = "createdAt",
        order: str = "desc",
        source_type: str = "",
        status: str = "",
    ) -> Page[Document]:
        p = _Params(user_id)
        where = ["user_id = $1"]
        if source_type:
            where.append(f"source_type = {p(source_type)}")
        if status:
            where.append(f"status = {p(status)}")
        direction = "ASC" if order == "asc" else "DESC"
        sql = f"""SELECT {COLUMNS}, count(*) OVER () AS total FROM rag.documents
                  WHERE {" AND ".join(where)}
                  ORDER BY {_SORTS[sort]} {direction}, id {direction}
                  LIMIT {p(page.limit)} OFFSET {p(page.offset)}"""  # noqa: S608
        rows = await self._pool.fetch(sql, *p.values)
        total = rows[0]["total"] if rows else await self._count(where, p.values[:-2])
        return Page([to_document(_without_total(r)) for r in rows], total, page)

    async def _count(self, where: list[str], values: list[Any]) -> int:
        sql = f"SELECT count(*) FROM rag.documents WHERE {' AND '.join(where)}"  # noqa: S608
        return int(await self._pool.fetchval(sql, *values))

    async def visible(self, user_id: str, scored: Sequence[tuple[str, float]]) -> list[Hit]:
        """The visible chunks among (chunk id, score), in the given order."""
        if not scored:
            return []
        rows = await self._pool.fetch(
            f"""SELECT {_HIT_COLUMNS} FROM rag.chunks c JOIN rag.documents d ON {_VISIBLE}
                WHERE c.user_id = $1 AND c.id = ANY($2::text[])""",  # noqa: S608
            user_id,
            [chunk_id for chunk_id, _ in scored],
        )
        by_id = {r["id"]: r for r in rows}
        return [_hit(by_id[cid], score) for cid, score in scored if cid in by_id]

    async def lexical(
        self, user_id: str, text: str, n: int, conditions: Sequence[Condition], document_ids: Sequence[str]
    ) -> list[Hit]:
        """Full-text search ranked by BM25 (English stemming); scores are
        BM25 / (BM25 + 1), in [0, 1)."""
        rows = await self._pool.fetch(*lexical_sql(user_id, text, n, conditions, document_ids))
        return [_hit(r, r["score"] / (r["score"] + 1)) for r in rows]


# BM25's usual parameters: term-frequency saturation and length normalisation.
BM25_K1, BM25_B = 1.2, 0.75
# At most this many candidates are scored. An any-word query matches most chunks
# ("return" is in 58%), and ranking them all took 1.1 s p95 at 100,000 chunks.
# Instead the query's terms select candidates rarest first while their document
# frequencies add up to at most this; the commoner ones only add to those
# candidates' scores: a chunk with only common words would rank low anyway. If
# even the rarest term is that common, candidates need every term.
CANDIDATES = 2000


def lexical_sql(
    user_id: str, text: str, n: int, conditions: Sequence[Condition], document_ids: Sequence[str]
) -> tuple[Any, ...]:
    """RagQueries.lexical's query and its parameters."""
    p = _Params(text, user_id, CANDIDATES, BM25_K1, BM25_B)
    where = ["c.user_id = $2", "c.tsv @@ q.query"]
    where += [condition_sql(c, p) for c in conditions]
    if document_ids:
        where.append(f"c.document_id::text = ANY({p(list(document_ids))}::text[])")
    # terms: the query's lexemes in the user's chunks, with their IDF (Lucene's, never
    # negative) and `running`, the chunks of it and of every rarer one. MATERIALIZED:
    # computed once, not per candidate. tf is a lexeme's position count in the chunk,
    # read from the tsvector cut down to the query's lexemes (setweight + ts_filter, in C).
    sql = f"""WITH totals AS MATERIALIZED (
                SELECT chunks, terms::float8 / chunks AS avg_terms FROM rag.lexical_totals
                WHERE user_id = $2),
              terms AS MATERIALIZED (
                SELECT l.lexeme, l.chunks,
                       ln(1 + (t.chunks - l.chunks + 0.5) / (l.chunks + 0.5))::float8 AS idf,
                       sum(l.chunks) OVER (ORDER BY l.chunks, l.lexeme) AS running
                FROM totals t, rag.lexicon l
                WHERE l.user_id = $2 AND l.lexeme = ANY(tsvector_to_array(to_tsvector('english', $1)))),
              q AS MATERIALIZED (
                SELECT to_tsquery('simple', coalesce(CASE WHEN min(chunks) > $3
                           THEN string_agg(quote_literal(lexeme), ' & ')
                           ELSE string_agg(quote_literal(lexeme), ' | ') FILTER (WHERE running <= $3) END,
                           '')) AS query,
                       array_agg(lexeme) AS lexemes
                FROM terms),
              candidates AS (
                SELECT c.id, c.tsv, c.term_count FROM q, rag.chunks c JOIN rag.documents d ON {_VISIBLE}
                WHERE {" AND ".join(where)} LIMIT $3),
              scored AS (
                SELECT c.id, sum(t.idf * m.tf * ($4::float8 + 1)
                           / (m.tf + $4 * (1 - $5::float8 + $5 * c.term_count / totals.avg_terms))) AS score
                FROM q, totals, candidates c,
                     LATERAL (SELECT lexeme, array_length(positions, 1) AS tf
                              FROM unnest(ts_filter(setweight(c.tsv, 'A', q.lexemes), '{{a}}'))) m
                     JOIN terms t ON t.lexeme = m.lexeme
                GROUP BY c.id
                ORDER BY score DESC, c.id LIMIT {p(n)})
              SELECT {_HIT_COLUMNS}, s.score
              FROM scored s JOIN rag.chunks c ON c.id = s.id JOIN rag.documents d ON d.id = c.document_id
              ORDER BY s.score DESC, c.id"""  # noqa: S608
    return (sql, *p.values)


def _without_total(row: asyncpg.Record) -> dict[str, Any]:
    values = dict(row)
    values.pop("total")
    return values
