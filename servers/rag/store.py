"""RAG writes: documents and their chunk rows, inside a unit of work. A
chunk row's generation says which version of its document it belongs to;
only the document's current generation is searchable (queries.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from servers.platform.scoping import Viewer
from servers.rag.domain import FAILED, PROCESSING, READY, Chunk, Document

COLUMNS = """id::text, user_id, title, source_type, source_url, status, status_message, metadata,
    chunk_count, chunk_size, chunk_overlap, size_bytes, content_sha256, embedding_model,
    generation, created_at, updated_at"""


def chunk_id(document_id: str, generation: int, index: int) -> str:
    return f"{document_id}:{generation}:{index}"


def to_document(row: asyncpg.Record) -> Document:
    values: dict[str, Any] = dict(row)
    values["metadata"] = json.loads(values["metadata"])
    return Document(**values)


class DocumentRepository:
    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn

    async def next_generation(self) -> int:
        # A sequence, so concurrent re-ingests of one document never share chunk ids.
        return int(await self._conn.fetchval("SELECT nextval('rag.generations')"))

    async def insert(self, doc: Document, request_id: str) -> Document | None:
        """A new document in `processing`; None if the caller's request_id was used before."""
        row = await self._conn.fetchrow(
            f"""INSERT INTO rag.documents (id, user_id, title, source_type, source_url, status,
                    metadata, chunk_size, chunk_overlap, size_bytes, content_sha256, embedding_model,
                    generation, request_id)
                VALUES ($1, $2, $3, $4, $5, '{PROCESSING}', $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (user_id, request_id) WHERE request_id <> '' DO NOTHING
                RETURNING {COLUMNS}""",  # noqa: S608
            doc.id,
            doc.user_id,
            doc.title,
            doc.source_type,
            doc.source_url,
            json.dumps(doc.metadata),
            doc.chunk_size,
            doc.chunk_overlap,
            doc.size_bytes,
            doc.content_sha256,
            doc.embedding_model,
            doc.generation,
            request_id,
        )
        return to_document(row) if row else None

    async def insert_chunks(
        self, document_id: str, user_id: str, generation: int, chunks: Sequence[Chunk]
    ) -> None:
        # One statement: the lexical statistics' trigger (migrations/0002) then runs once.
        await self._conn.execute(
            """INSERT INTO rag.chunks (id, document_id, user_id, generation, chunk_index, page, heading, text)
               SELECT id, $2::uuid, $3::text, $4::bigint, chunk_index, page, heading, text
               FROM unnest($1::text[], $5::int[], $6::int[], $7::text[], $8::text[])
                   AS c(id, chunk_index, page, heading, text)""",
            [chunk_id(document_id, generation, c.index) for c in chunks],
            document_id,
            user_id,
            generation,
            [c.index for c in chunks],
            [c.page for c in chunks],
            [c.heading for c in chunks],
            [c.text for c in chunks],
        )

    async def lock(self, document_id: str, viewer: Viewer) -> Document | None:
        row = await self._conn.fetchrow(
            f"""SELECT {COLUMNS} FROM rag.documents
                WHERE id::text = $1 AND ($2::text IS NULL OR user_id = $2) FOR UPDATE""",  # noqa: S608
            document_id,
            None if viewer.is_admin else viewer.user_id,
        )
        return to_document(row) if row else None

    async def publish(self, doc: Document) -> Document:
        """Make `doc.generation` the searchable version (status ready) and drop
        every other generation's rows, in this transaction."""
        row = await self._conn.fetchrow(
            f"""UPDATE rag.documents SET status = '{READY}', status_message = '', generation = $2,
                    title = $3, source_url = $4, metadata = $5, chunk_count = $6, chunk_size = $7,
                    chunk_overlap = $8, size_bytes = $9, content_sha256 = $10, embedding_model = $11,
                    source_type = $12, updated_at = now()
                WHERE id = $1 RETURNING {COLUMNS}""",  # noqa: S608
            doc.id,
            doc.generation,
            doc.title,
            doc.source_url,
            json.dumps(doc.metadata),
            doc.chunk_count,
            doc.chunk_size,
            doc.chunk_overlap,
            doc.size_bytes,
            doc.content_sha256,
            doc.embedding_model,
            doc.source_type,
        )
        await self._conn.execute(
            "DELETE FROM rag.chunks WHERE document_id = $1 AND generation <> $2", doc.id, doc.generation
        )
        return to_document(row)

    async def fail(self, document_id: str, message: str) -> None:
        """A document whose first ingest did not finish: failed, without chunks."""
        await self._conn.execute(
            f"""UPDATE rag.documents SET status = '{FAILED}', status_message = $2, chunk_count = 0,
                    updated_at = now() WHERE id = $1 AND status = '{PROCESSING}'""",  # noqa: S608
            document_id,
            message,
        )
        await self._conn.execute("DELETE FROM rag.chunks WHERE document_id = $1", document_id)

    async def drop_generation(self, document_id: str, generation: int) -> None:
        """Remove an unpublished generation's rows (a re-ingest that failed)."""
        await self._conn.execute(
            """DELETE FROM rag.chunks c USING rag.documents d
               WHERE c.document_id = $1 AND c.generation = $2 AND d.id = c.document_id
                 AND d.generation <> $2""",
            document_id,
            generation,
        )

    async def delete(self, document_id: str) -> None:
        await self._conn.execute("DELETE FROM rag.documents WHERE id = $1", document_id)

    async def stale(self, older_than_seconds: float) -> list[tuple[str, str, int]]:
        """(document id, user, generation) of ingests that stopped part-way: a
        document still processing, or rows of a generation never published,
        untouched for `older_than_seconds`."""
        rows = await self._conn.fetch(
            f"""SELECT id::text AS id, user_id, generation FROM rag.documents
                WHERE status = '{PROCESSING}' AND updated_at < now() - make_interval(secs => $1)
                UNION
                SELECT DISTINCT c.document_id::text, c.user_id, c.generation
                FROM rag.chunks c JOIN rag.documents d ON d.id = c.document_id
                WHERE d.status = '{READY}' AND c.generation <> d.generation
                  AND c.created_at < now() - make_interval(secs => $1)""",  # noqa: S608
            older_than_seconds,
        )
        return [(r["id"], r["user_id"], r["generation"]) for r in rows]

    async def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these chunk ids have a row (any generation)."""
        rows = await self._conn.fetch("SELECT id FROM rag.chunks WHERE id = ANY($1::text[])", list(ids))
        return {r["id"] for r in rows}
