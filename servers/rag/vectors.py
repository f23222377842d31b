"""The vector index on ChromaDB: one collection per user (so isolation is the
server's, not a filter a client could change), cosine space, embeddings always
given by us (the AI gateway's), never Chroma's own embedding function, which
would download a model at run time.

Chroma's client is synchronous: every call runs in a worker thread. Chroma
is an index here: PostgreSQL holds the chunks' text and decides what is
visible (servers/rag/queries.py), so a vector whose row is gone is never
returned, and the reconciler deletes it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from servers.platform.errors import Unavailable
from servers.rag.domain import Condition, Scalar

USER_KEY = "user_id"
# Caller metadata is stored under this prefix, so it can never shadow ours.
META_PREFIX = "m."


@dataclass(frozen=True)
class VectorRecord:
    id: str
    embedding: list[float]
    document_id: str
    generation: int
    chunk_index: int
    page: int
    metadata: dict[str, Scalar]


@dataclass(frozen=True)
class VectorMatch:
    id: str
    similarity: float


def collection_name(user_id: str) -> str:
    """A stable, valid Chroma name per user (ids may hold any characters)."""
    return "u-" + hashlib.sha256(user_id.encode()).hexdigest()[:40]


def chroma_where(conditions: Sequence[Condition], document_ids: Sequence[str]) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = [
        {META_PREFIX + c.key: {c.op: list(c.value) if isinstance(c.value, tuple) else c.value}}
        for c in conditions
    ]
    if document_ids:
        clauses.append({"document_id": {"$in": list(document_ids)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def open_client(path: str, url: str) -> Any:
    """An HttpClient to the Chroma server at `url` if set, else an embedded
    PersistentClient under `path`; telemetry off either way."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        from yarl import URL

        parsed = URL(url)
        return chromadb.HttpClient(
            host=parsed.host or "localhost",
            port=parsed.port or 8000,
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    return chromadb.PersistentClient(path=path, settings=settings)


class ChromaIndex:
    def __init__(self, client: Any):
        self._client = client
        self._collections: dict[str, Any] = {}  # user id -> collection: one lookup per user

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except (ValueError, TypeError, KeyError):
            raise
        except Exception as error:  # chromadb raises many kinds, none of them a domain error
            raise Unavailable(f"the vector store is unavailable: {type(error).__name__}") from error

    def _collection(self, user_id: str) -> Any:
        collection = self._collections.get(user_id)
        if collection is None:
            collection = self._collections[user_id] = self._client.get_or_create_collection(
                collection_name(user_id),
                metadata={USER_KEY: user_id},
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return collection

    async def ping(self) -> None:
        await self._run(self._client.heartbeat)

    async def upsert(self, user_id: str, records: Sequence[VectorRecord], batch: int = 512) -> None:
        def write() -> None:
            collection = self._collection(user_id)
            for i in range(0, len(records), batch):
                part = records[i : i + batch]
                collection.upsert(
                    ids=[r.id for r in part],
                    embeddings=[r.embedding for r in part],
                    metadatas=[_metadata(r) for r in part],
                )

        await self._run(write)

    async def query(
        self, user_id: str, embedding: list[float], n: int, where: dict[str, Any] | None
    ) -> list[VectorMatch]:
        def search() -> list[VectorMatch]:
            collection = self._collection(user_id)
            found = collection.query(
                query_embeddings=[embedding], n_results=n, where=where, include=["distances"]
            )
            ids, distances = found["ids"][0], found["distances"][0]
            return [VectorMatch(i, min(max(1.0 - d, 0.0), 1.0)) for i, d in zip(ids, distances, strict=True)]

        return await self._run(search)

    async def embeddings(self, user_id: str, ids: Sequence[str]) -> dict[str, list[float]]:
        def get() -> dict[str, list[float]]:
            found = self._collection(user_id).get(ids=list(ids), include=["embeddings"])
            return {i: list(map(float, e)) for i, e in zip(found["ids"], found["embeddings"], strict=True)}

        return await self._run(get) if ids else {}

    async def delete_document(
        self,
        user_id: str,
        document_id: str,
        *,
        generation: int | None = None,
        keep_generation: int | None = None,
    ) -> None:
        """Delete a document's vectors: all, one generation's, or all but one's."""
        where: dict[str, Any] = {"document_id": document_id}
        if generation is not None:
            where = {"$and": [where, {"generation": generation}]}
        elif keep_generation is not None:
            where = {"$and": [where, {"generation": {"$ne": keep_generation}}]}
        await self._run(lambda: self._collection(user_id).delete(where=where))

    async def delete_ids(self, user_id: str, ids: Sequence[str]) -> None:
        if ids:
            await self._run(lambda: self._collection(user_id).delete(ids=list(ids)))

    async def users(self) -> list[str]:
        """The users who have a collection."""

        def names() -> list[str]:
            out = []
            for collection in self._client.list_collections():
                owner = (collection.metadata or {}).get(USER_KEY)
                if isinstance(owner, str) and collection.name == collection_name(owner):
                    out.append(owner)
            return out

        return await self._run(names)

    async def ids(self, user_id: str, page: int = 5000) -> list[str]:
        """Every vector id in the user's collection."""

        def scan() -> Iterator[str]:
            collection = self._collection(user_id)
            offset = 0
            while True:
                found = collection.get(include=[], limit=page, offset=offset)
                yield from found["ids"]
                if len(found["ids"]) < page:
                    return
                offset += page

        return await self._run(lambda: list(scan()))


def _metadata(record: VectorRecord) -> dict[str, Scalar]:
    meta: dict[str, Scalar] = {META_PREFIX + k: v for k, v in record.metadata.items()}
    meta.update(
        document_id=record.document_id,
        generation=record.generation,
        chunk_index=record.chunk_index,
        page=record.page,
    )
    return meta
