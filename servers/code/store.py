"""The review history (schema `code`): the repository a unit of work binds to
its connection, and the owner-scoped list. No protobuf here."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from servers.code.domain import AiOutcome, AnalyzerRun, Finding, NewReview, Review
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer

COLUMNS = """id, user_id, language, score, issues, security_issues, suggestions, cyclomatic, cognitive,
    lines_of_code, code_sha256, partial, analyzers, ai, created_at"""
SORT_COLUMNS = {"createdAt": "created_at", "score": "score"}


def _findings(raw: str) -> tuple[Finding, ...]:
    return tuple(Finding(**item) for item in json.loads(raw))


def from_row(row: asyncpg.Record) -> Review:
    ai = json.loads(row["ai"])
    return Review(
        id=str(row["id"]),
        user_id=row["user_id"],
        language=row["language"],
        score=row["score"],
        issues=_findings(row["issues"]),
        security_issues=_findings(row["security_issues"]),
        suggestions=tuple(json.loads(row["suggestions"])),
        cyclomatic=row["cyclomatic"],
        cognitive=row["cognitive"],
        lines_of_code=row["lines_of_code"],
        code_sha256=row["code_sha256"],
        partial=row["partial"],
        analyzers=tuple(AnalyzerRun(**item) for item in json.loads(row["analyzers"])),
        ai=AiOutcome(ai["status"], ai["model"], ai["detail"], kept=ai["kept"]),
        created_at=row["created_at"],
    )


def _json(items: Any) -> str:
    return json.dumps([dataclasses.asdict(i) for i in items])


@dataclass
class ReviewRepository:
    """The writes of one unit of work (implements usecases.ReviewWrites)."""

    conn: asyncpg.Connection

    async def insert(
        self, review_id: uuid.UUID, new: NewReview, owner: str, request_id: str
    ) -> Review | None:
        """Insert; None if `request_id` was already used by this owner."""
        ai = {"status": new.ai.status, "model": new.ai.model, "detail": new.ai.detail, "kept": new.ai.kept}
        row = await self.conn.fetchrow(
            f"""INSERT INTO code.reviews (id, user_id, language, score, issues, security_issues,
                    suggestions, cyclomatic, cognitive, lines_of_code, code_sha256, partial, analyzers, ai,
                    request_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULLIF($15, ''))
                ON CONFLICT (user_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
                RETURNING {COLUMNS}""",  # noqa: S608 (COLUMNS is a constant)
            review_id, owner, new.language, new.score, _json(new.issues), _json(new.security_issues),
            json.dumps(list(new.suggestions)), new.cyclomatic, new.cognitive, new.lines_of_code,
            new.code_sha256, new.partial, _json(new.analyzers), json.dumps(ai), request_id,
        )  # fmt: skip
        return from_row(row) if row else None

    async def by_request_id(self, owner: str, request_id: str) -> Review | None:
        """The review this owner made with `request_id` in the last 24 hours."""
        row = await self.conn.fetchrow(
            f"""SELECT {COLUMNS} FROM code.reviews WHERE user_id = $1 AND request_id = $2
                AND created_at > now() - interval '24 hours'""",  # noqa: S608
            owner,
            request_id,
        )
        return from_row(row) if row else None


@dataclass
class ReviewQueries:
    """Reads on the pool (implements usecases.ReviewReads)."""

    pool: asyncpg.Pool

    async def get(self, review_id: str, viewer: Viewer) -> Review | None:
        """The review if the viewer may see it (its owner, or an admin)."""
        try:
            rid = uuid.UUID(review_id)
        except ValueError:
            return None
        row = await self.pool.fetchrow(f"SELECT {COLUMNS} FROM code.reviews WHERE id = $1", rid)  # noqa: S608
        return from_row(row) if row and viewer.owns(row["user_id"]) else None

    async def list(
        self, owner: str | None, page: PageRequest, sort: str, order: str, language: str
    ) -> Page[Review]:
        """One page of `owner`'s reviews (everyone's for None: an admin's view)."""
        args: list[Any] = []
        filters = []
        if owner is not None:
            args.append(owner)
            filters.append(f"user_id = ${len(args)}")
        if language:
            args.append(language)
            filters.append(f"language = ${len(args)}")
        where = " AND ".join(filters) or "TRUE"
        direction = "ASC" if order == "asc" else "DESC"
        column = SORT_COLUMNS.get(sort, "created_at")
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM code.reviews WHERE {where}", *args)  # noqa: S608
            rows = await conn.fetch(
                f"""SELECT {COLUMNS} FROM code.reviews WHERE {where}
                    ORDER BY {column} {direction}, id {direction}
                    LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",  # noqa: S608 (column and direction from allow-lists)
                *args,
                page.limit,
                page.offset,
            )
        return Page([from_row(r) for r in rows], total, page)
