"""RAG domain: documents, chunks, hits, metadata and filter rules, domain
events. No I/O, no protobuf."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servers.platform.errors import FieldViolation, InvalidArgument

# Statuses and sources, as stored (the proto enums map onto these).
PROCESSING, READY, FAILED = "processing", "ready", "failed"
TEXT, MARKDOWN, PDF, URL = "text", "markdown", "pdf", "url"
# Retrieval modes.
DENSE, LEXICAL, HYBRID = "dense", "lexical", "hybrid"

# Chunk sizes in the embedding model's word pieces (docs/rag.md says why).
DEFAULT_CHUNK_SIZE = 200
DEFAULT_CHUNK_OVERLAP = 40
DEFAULT_TOP_K = 5
MAX_METADATA_KEYS = 32

Scalar = str | int | float | bool
_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
_OPERATORS = ("$eq", "$ne", "$in", "$nin", *_COMPARISONS)


@dataclass(frozen=True)
class Document:
    id: str
    user_id: str
    title: str
    source_type: str
    source_url: str
    status: str
    status_message: str
    metadata: dict[str, Scalar]
    chunk_count: int
    chunk_size: int
    chunk_overlap: int
    size_bytes: int
    content_sha256: str
    embedding_model: str
    generation: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Chunk:
    """One piece of a document's text, as embedded and stored."""

    index: int
    text: str
    page: int = 0  # 1-based PDF page the chunk starts on; 0 for other sources
    heading: str = ""  # the markdown heading path it falls under


@dataclass(frozen=True)
class Hit:
    """A chunk that matched a query; score is 0-1 (see SearchMode in the proto)."""

    chunk_id: str
    document_id: str
    document_title: str
    chunk_index: int
    page: int
    text: str
    metadata: dict[str, Scalar]
    score: float


@dataclass(frozen=True)
class Condition:
    """One metadata condition: `key op value` (value a list for $in/$nin)."""

    key: str
    op: str
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class SearchQuery:
    text: str
    top_k: int = DEFAULT_TOP_K
    mode: str = HYBRID
    conditions: tuple[Condition, ...] = ()
    document_ids: tuple[str, ...] = ()
    min_score: float | None = None


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Hit, ...]
    model: str


@dataclass(frozen=True)
class DocumentIngested:
    document: Document
    replaced: bool


@dataclass(frozen=True)
class DocumentDeleted:
    document: Document
    deleted_by: str


RagEvent = DocumentIngested | DocumentDeleted


@dataclass(frozen=True)
class ChunkingPlan:
    size: int = DEFAULT_CHUNK_SIZE
    overlap: int = DEFAULT_CHUNK_OVERLAP

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.size:
            raise InvalidArgument(
                "chunk_overlap must be smaller than chunk_size",
                [FieldViolation("chunkOverlap", f"must be below chunkSize ({self.size})")],
            )


@dataclass(frozen=True)
class Extracted:
    """A source's text in sections (PDF pages, markdown sections, or one) and its title."""

    sections: list[tuple[str, int, str]] = field(default_factory=list)  # (text, page, heading)
    title: str = ""

    @property
    def size_bytes(self) -> int:
        return sum(len(text.encode()) for text, _, _ in self.sections)


def _scalar(value: Any, where: str) -> Scalar:
    """A metadata value as stored: integral numbers become ints, so that 3 and
    3.0 (JSON has only doubles) compare equal in Chroma and PostgreSQL alike."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value) if float(value).is_integer() else float(value)
    raise InvalidArgument(
        f"{where} must be a string, number or boolean",
        [FieldViolation(where, "must be a string, number or boolean")],
    )


def clean_metadata(metadata: dict[str, Any]) -> dict[str, Scalar]:
    """Caller metadata: at most 32 keys of flat values."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidArgument(
            "too many metadata keys", [FieldViolation("metadata", f"at most {MAX_METADATA_KEYS} keys")]
        )
    return {key: _scalar(value, f"metadata.{key}") for key, value in metadata.items()}


def parse_filters(filters: dict[str, Any]) -> tuple[Condition, ...]:
    """Filters as conditions: scalar = equals, list = any of, {"$op": value} =
    that operator (docs/rag.md)."""
    out = []
    for key, spec in filters.items():
        where = f"filters.{key}"
        if isinstance(spec, list):
            op, value = "$in", spec
        elif isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in _OPERATORS:
                raise InvalidArgument(
                    "malformed filter",
                    [FieldViolation(where, f"an operator object has one of {', '.join(_OPERATORS)}")],
                )
            op, value = next(iter(spec.items()))
        else:
            op, value = "$eq", spec
        if op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise InvalidArgument("malformed filter", [FieldViolation(where, f"{op} takes a list")])
            out.append(Condition(key, op, tuple(_scalar(v, where) for v in value)))
        else:
            scalar = _scalar(value, where)
            if op in _COMPARISONS and (isinstance(scalar, bool) or not isinstance(scalar, int | float)):
                raise InvalidArgument("malformed filter", [FieldViolation(where, f"{op} takes a number")])
            out.append(Condition(key, op, scalar))
    return tuple(out)


def derive_title(given: str, extracted: Extracted) -> str:
    """The given title, else the source's own (PDF title, HTML <title>, first
    heading), else its first line."""
    for candidate in (given, extracted.title):
        if candidate.strip():
            return candidate.strip()[:300]
    for text, _, _ in extracted.sections:
        for line in text.splitlines():
            if line.strip():
                return line.strip().lstrip("# ")[:300]
    return "Untitled"
