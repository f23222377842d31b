"""Domain <-> proto conversions of the Code Assistant, and `to_event`, the one
mapping of its domain events to their aether.code.v1 payloads."""

from __future__ import annotations

from typing import assert_never

from aether.code.v1 import code_service_pb2 as pb
from aether.code.v1 import events_pb2, review_pb2
from aether.common.v1 import output_pb2

from servers.code.domain import (
    AiOutcome,
    AnalyzerRun,
    CodeEvent,
    ComplexityReport,
    Finding,
    Review,
    ReviewCompleted,
)
from servers.code.sandbox.bwrap import Chunk, Outcome
from servers.platform.timestamps import timestamp
from servers.platform.uow import OutgoingEvent

LEVELS = {
    "low": review_pb2.COMPLEXITY_LEVEL_LOW,
    "medium": review_pb2.COMPLEXITY_LEVEL_MEDIUM,
    "high": review_pb2.COMPLEXITY_LEVEL_HIGH,
    "very_high": review_pb2.COMPLEXITY_LEVEL_VERY_HIGH,
}


def issue(f: Finding) -> review_pb2.Issue:
    return review_pb2.Issue(
        severity=f.severity,
        line=f.line,
        column=f.column,
        message=f.message,
        rule=f.rule,
        suggestion=f.suggestion,
    )


def analyzer(run: AnalyzerRun) -> review_pb2.AnalyzerRun:
    return review_pb2.AnalyzerRun(
        name=run.name,
        status=run.status,
        findings=run.findings,
        detail=run.detail,
        duration_ms=run.duration_ms,
    )


def ai_review(ai: AiOutcome) -> review_pb2.AiReview:
    return review_pb2.AiReview(status=ai.status, model=ai.model, detail=ai.detail, findings=ai.kept)


def review_response(r: Review) -> pb.ReviewCodeResponse:
    return pb.ReviewCodeResponse(
        issues=[issue(f) for f in r.issues],
        suggestions=list(r.suggestions),
        score=r.score,
        security_issues=[issue(f) for f in r.security_issues],
        complexity=review_pb2.Complexity(cyclomatic=r.cyclomatic, cognitive=r.cognitive),
        review_id=r.id,
        language=r.language,
        analyzers=[analyzer(a) for a in r.analyzers],
        partial=r.partial,
        ai=ai_review(r.ai),
    )


def review_to_proto(r: Review) -> review_pb2.Review:
    return review_pb2.Review(
        id=r.id,
        user_id=r.user_id,
        language=r.language,
        score=r.score,
        issues=[issue(f) for f in r.issues],
        suggestions=list(r.suggestions),
        security_issues=[issue(f) for f in r.security_issues],
        complexity=review_pb2.Complexity(cyclomatic=r.cyclomatic, cognitive=r.cognitive),
        lines_of_code=r.lines_of_code,
        code_sha256=r.code_sha256,
        created_at=timestamp(r.created_at),
        partial=r.partial,
        analyzers=[analyzer(a) for a in r.analyzers],
        ai=ai_review(r.ai),
    )


def complexity_response(language: str, c: ComplexityReport) -> pb.AnalyzeComplexityResponse:
    return pb.AnalyzeComplexityResponse(
        cyclomatic_complexity=c.cyclomatic,
        cognitive_complexity=c.cognitive,
        maintainability_index=c.maintainability_index,
        lines_of_code=c.lines_of_code,
        complexity_level=LEVELS[c.level],
        recommendations=c.recommendations(),
        functions=[
            pb.FunctionComplexity(
                name=f.name,
                line=f.line,
                cyclomatic=f.cyclomatic,
                cognitive=f.cognitive,
                lines_of_code=f.lines_of_code,
            )
            for f in c.functions
        ],
        language=language,
    )


_STREAMS = {"stdout": output_pb2.OUTPUT_STREAM_STDOUT, "stderr": output_pb2.OUTPUT_STREAM_STDERR}


def run_message(item: Chunk | Outcome) -> pb.RunTestsResponse:
    if isinstance(item, Chunk):
        return pb.RunTestsResponse(chunk=pb.RunTestsChunk(content=item.text, stream=_STREAMS[item.stream]))
    s = item.summary
    summary = (
        pb.TestSummary(passed=s.passed, failed=s.failed, skipped=s.skipped, total=s.total, errors=s.errors)
        if s
        else pb.TestSummary()
    )
    return pb.RunTestsResponse(
        final=pb.RunTestsFinal(
            success=item.exit_code == 0 and not item.limit_exceeded,
            output=item.output,
            duration_ms=item.duration_ms,
            summary=summary,
            exit_code=item.exit_code,
            timed_out=bool(item.limit_exceeded),
            output_truncated=item.output_truncated,
            limit_exceeded=item.limit_exceeded,
        )
    )


def to_event(event: CodeEvent) -> OutgoingEvent:
    """The CloudEvents type, subject and payload of each domain event."""
    match event:
        case ReviewCompleted(review=r):
            payload = events_pb2.CodeReviewCompleted(
                review_id=r.id,
                user_id=r.user_id,
                language=r.language,
                score=r.score,
                issue_count=len(r.issues),
                security_issue_count=len(r.security_issues),
                lines_of_code=r.lines_of_code,
            )
            return OutgoingEvent("code.review.completed", r.id, payload)
        case _:
            assert_never(event)
