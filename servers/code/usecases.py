"""Code Assistant use cases: complexity, review (analyzers + AI, stored with its
event in one unit of work) and the review history. They own the interfaces
(Protocols) that analyzers.py, ai.py and store.py implement."""

from __future__ import annotations

import uuid
from typing import Protocol

from servers.code.ai import REVIEW_PROMPT, Answer, ai_findings
from servers.code.domain import (
    AiOutcome,
    Analysis,
    AnalyzerRun,
    ComplexityReport,
    NewReview,
    Review,
    ReviewCompleted,
    Source,
    assemble,
    parse_python,
    source_of,
)
from servers.platform.errors import (
    AetherError,
    Conflict,
    ErrorReason,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer, current_viewer
from servers.platform.uow import UnitOfWork


class CodeAnalyzers(Protocol):
    async def measure(self, source: Source) -> tuple[AnalyzerRun, ComplexityReport | None]: ...
    async def review(self, source: Source) -> Analysis: ...
    async def format(self, code: str) -> str: ...


class Assistant(Protocol):
    """The AI model behind the AI Gateway (servers.code.ai.AiGateway)."""

    async def ask_json(self, prompt: str) -> Answer: ...


class ReviewWrites(Protocol):
    async def insert(
        self, review_id: uuid.UUID, new: NewReview, owner: str, request_id: str
    ) -> Review | None: ...
    async def by_request_id(self, owner: str, request_id: str) -> Review | None: ...


class ReviewReads(Protocol):
    async def get(self, review_id: str, viewer: Viewer) -> Review | None: ...
    async def list(
        self, owner: str | None, page: PageRequest, sort: str, order: str, language: str
    ) -> Page[Review]: ...


class ReviewUseCases:
    def __init__(
        self,
        uow: UnitOfWork[ReviewWrites],
        reads: ReviewReads,
        analyzers: CodeAnalyzers,
        assistant: Assistant,
    ):
        self._uow = uow
        self._reads = reads
        self._analyzers = analyzers
        self._assistant = assistant

    async def complexity(self, code: str, language: str, filename: str = "") -> tuple[str, ComplexityReport]:
        source = source_of(code, language, filename)
        if source.language == "python":  # lizard tokenizes JS/TS without checking its syntax
            parse_python(code)
        run, report = await self._analyzers.measure(source)
        if report is None:
            raise Unavailable(f"the complexity analysis did not finish ({run.status}: {run.detail})", 1.0)
        return source.language, report

    async def review(
        self, code: str, language: str, context: str, request_id: str, filename: str = ""
    ) -> Review:
        """Analyze, ask the AI, merge and score; store it and record ReviewCompleted.
        A repeated request_id returns the stored review (no new analysis or event)."""
        source = source_of(code, language, filename)
        language = source.language
        owner = current_viewer().user_id
        if request_id:
            async with self._uow() as tx:
                if (earlier := await tx.repo.by_request_id(owner, request_id)) is not None:
                    return earlier
        analysis = await self._analyzers.review(source)
        ai = await self._ai_review(code, language, context, analysis)
        new = assemble(code, language, analysis, ai)
        async with self._uow() as tx:
            review = await tx.repo.insert(uuid.uuid4(), new, owner, request_id)
            if review is None:
                review = await tx.repo.by_request_id(owner, request_id)
                if review is None:
                    raise Conflict("a review with this request id is still in progress; retry")
                return review
            tx.record(ReviewCompleted(review))
        return review

    async def _ai_review(self, code: str, language: str, context: str, analysis: Analysis) -> AiOutcome:
        known = sorted({f"line {f.line} {f.rule}" for f in analysis.findings})[:200]
        prompt = REVIEW_PROMPT.format(
            language=language, known="; ".join(known) or "nothing", context=context or "none", code=code
        )
        try:
            answer = await self._assistant.ask_json(prompt)
        except FailedPrecondition as exc:
            status = "skipped" if exc.reason == ErrorReason.NOT_CONFIGURED else "failed"
            return AiOutcome(status, detail=exc.message)
        except AetherError as exc:  # rate limit, budget, outage, an unreadable answer
            return AiOutcome("failed", detail=exc.message)
        findings, suggestions = ai_findings(answer.data)
        return AiOutcome("used", answer.model, findings=findings, suggestions=suggestions)

    async def get(self, review_id: str) -> Review:
        """One review the caller may see; NOT_FOUND too for someone else's (ids are not disclosed)."""
        found = await self._reads.get(review_id, current_viewer())
        if found is None:
            raise NotFound(f"review {review_id!r} not found")
        return found

    async def list(
        self, page: PageRequest, sort: str, order: str, language: str, user_id: str
    ) -> Page[Review]:
        owner = current_viewer().target(user_id, what="reviews")
        return await self._reads.list(owner, page, sort, order, language)
