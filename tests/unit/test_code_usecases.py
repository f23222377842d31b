"""Code Assistant rules and use cases without I/O: merging and scoring findings,
file checks, JUnit counts, and a review's unit of work (exactly one
ReviewCompleted, none on a retry)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from servers.code.ai import Answer
from servers.code.domain import (
    AiOutcome,
    Analysis,
    AnalyzerRun,
    ComplexityReport,
    Finding,
    FunctionComplexity,
    NewReview,
    Review,
    ReviewCompleted,
    Source,
    merge,
    require_generated_language,
    score,
    source_of,
)
from servers.code.sandbox import junit
from servers.code.sandbox.workspace import check_files
from servers.code.usecases import ReviewUseCases
from servers.platform.errors import ErrorReason, FailedPrecondition, InvalidArgument, NotFound
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer
from servers.platform.uow import InMemoryUnitOfWork
from tests.helpers import acting_as


def finding(
    rule: str, line: int = 1, severity: str = "error", source: str = "ruff", message: str = "m"
) -> Finding:
    return Finding(severity, line, 1, message, rule, source=source, security=rule[0] in "SB")


def test_merge_treats_bandit_and_its_ruff_twin_as_one_and_keeps_the_severer() -> None:
    merged = merge(
        [finding("S602"), finding("B602", severity="critical", source="bandit"), finding("E501", 2)]
    )
    assert [(f.rule, f.severity) for f in merged] == [("B602", "critical"), ("E501", "error")]


def test_merge_drops_ai_findings_the_analyzers_already_made() -> None:
    merged = merge(
        [
            finding("S307"),
            finding("ai/S307", severity="critical", source="ai"),
            finding("ai/other", source="ai", message="M"),
            finding("ai/new", 3, source="ai"),
        ]
    )
    assert [f.rule for f in merged] == ["S307", "ai/new"]


def test_score_caps_repeats_of_one_rule_and_charges_complexity() -> None:
    many = [finding("E501", line, "info") for line in range(1, 41)]
    assert score(many, None) == 100 - 3  # three of the forty count
    report = ComplexityReport(23, 0, 50.0, 10, (FunctionComplexity("f", 1, 13, 0, 5),))
    assert score([finding("S105", severity="critical")], report) == 100 - 15 - 3
    assert score([finding(f"X{i}", severity="critical") for i in range(10)], None) == 0


@pytest.mark.parametrize(
    ("language", "filename", "code", "expected"),
    [
        ("", "src/app.js", "const a = 1;", Source("const a = 1;", "javascript", "snippet.js")),
        ("", "lib/view.TSX", "x", Source("x", "typescript", "snippet.tsx")),  # JSX kept
        ("", "tool.mjs", "x", Source("x", "javascript", "snippet.mjs")),
        ("typescript", "a.js", "x", Source("x", "typescript", "snippet.ts")),  # language wins
        ("", "", "x = 1\n", Source("x = 1\n", "python", "snippet.py")),  # parses as Python
        ("javascript", "", "let a;", Source("let a;", "javascript", "snippet.js")),
    ],
)
def test_the_language_comes_from_the_request_then_the_extension_then_parsing(
    language: str, filename: str, code: str, expected: Source
) -> None:
    assert source_of(code, language, filename) == expected


@pytest.mark.parametrize(
    ("language", "filename", "code", "field"),
    [
        ("ruby", "", "puts 1", "language"),
        ("", "main.rb", "puts 1", "filename"),
        ("", "Makefile", "all:", "filename"),
        ("", "", "const a = 1;", "language"),  # not Python, no extension to go by
    ],
)
def test_an_unknown_language_names_the_field(language: str, filename: str, code: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        source_of(code, language, filename)
    assert [v.field for v in err.value.violations] == [field]


def test_refactoring_and_test_generation_are_python_only() -> None:
    require_generated_language("python", "refactoring")
    for language in ("javascript", "typescript"):
        with pytest.raises(InvalidArgument) as err:
            require_generated_language(language, "test generation")
        assert [v.field for v in err.value.violations] == ["language"]
        assert "supports only: python" in err.value.violations[0].description


def test_check_files_names_each_bad_path() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_files({"../a.py": "", "b//c.py": "", "ok.py": "x\x00", "d": "", "d/e.py": ""}, ["missing.py"])
    fields = {v.field for v in err.value.violations}
    assert fields == {"files['../a.py']", "files['b//c.py']", "files['ok.py']", "files['d']", "testPaths[0]"}


def test_junit_counts_and_refuses_entities() -> None:
    report = b"""<testsuites><testsuite><testcase name="a"/><testcase name="b"><failure/></testcase>
        <testcase name="c"><skipped/></testcase><testcase name="d"><error/></testcase>
        </testsuite></testsuites>"""
    assert junit.parse(report) == junit.Summary(passed=1, failed=1, skipped=1, errors=1)
    assert junit.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><testsuite>&a;</testsuite>') is None
    assert junit.parse(b"not xml") is None


class FakeReviews:
    def __init__(self) -> None:
        self.rows: dict[str, Review] = {}
        self.keys: dict[tuple[str, str], str] = {}

    async def insert(
        self, review_id: uuid.UUID, new: NewReview, owner: str, request_id: str
    ) -> Review | None:
        if request_id and (owner, request_id) in self.keys:
            return None
        review = Review(id=str(review_id), user_id=owner, created_at=datetime.now(UTC), **new.__dict__)  # type: ignore[arg-type]
        self.rows[review.id] = review
        if request_id:
            self.keys[(owner, request_id)] = review.id
        return review

    async def by_request_id(self, owner: str, request_id: str) -> Review | None:
        key = self.keys.get((owner, request_id))
        return self.rows[key] if key else None

    async def get(self, review_id: str, viewer: Viewer) -> Review | None:
        found = self.rows.get(review_id)
        return found if found and viewer.owns(found.user_id) else None

    async def list(
        self, owner: str | None, page: PageRequest, sort: str, order: str, language: str
    ) -> Page[Review]:
        return page.slice([r for r in self.rows.values() if owner is None or r.user_id == owner])


class FakeAnalyzers:
    async def review(self, source: Source) -> Analysis:
        return Analysis(
            (finding("S307"),), (AnalyzerRun("ruff", "ok"), AnalyzerRun("bandit", "timeout")), None
        )

    async def measure(self, source: Source) -> tuple[AnalyzerRun, ComplexityReport | None]:
        raise AssertionError("not used")

    async def format(self, code: str) -> str:
        return code


class NoModel:
    async def ask_json(self, prompt: str) -> Answer:
        raise FailedPrecondition("no AI provider is configured; set GROQ_API_KEY", ErrorReason.NOT_CONFIGURED)


async def test_a_review_commits_once_with_its_event_and_reports_partial_coverage() -> None:
    repo = FakeReviews()
    uow = InMemoryUnitOfWork(repo)
    cases = ReviewUseCases(uow, repo, FakeAnalyzers(), NoModel())
    with acting_as("u1", "user"):
        review = await cases.review("x = eval(input())\n", "", "", "key")
        again = await cases.review("x = eval(input())\n", "", "", "key")
        assert (await cases.get(review.id)).id == review.id
    assert again.id == review.id
    assert uow.committed == [ReviewCompleted(review)]
    assert review.partial and review.ai == AiOutcome(
        "skipped", detail="no AI provider is configured; set GROQ_API_KEY"
    )
    assert [r.rule for r in review.security_issues] == ["S307"]
    with acting_as("u2", "user"), pytest.raises(NotFound):
        await cases.get(review.id)
