"""Code Assistant domain: findings, reviews, complexity, and the rules that
merge findings and score a review. No I/O, no protobuf (servers.code.mapping
converts to and from the protos)."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath

from servers.platform.errors import FieldViolation, InvalidArgument

# What review and complexity cover: Python (ruff, bandit, radon, complexipy),
# JavaScript and TypeScript (oxlint, lizard).
LANGUAGES = ("python", "javascript", "typescript")
# What refactoring and test generation cover: the model's code must parse (ast),
# is formatted by ruff format and its tests are collected by pytest/unittest.
GENERATED_LANGUAGES = ("python",)
# A file name's extension -> its language (detection when `language` is empty).
EXTENSIONS = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
}  # fmt: skip
DEFAULT_EXTENSION = {"python": ".py", "javascript": ".js", "typescript": ".ts"}
SEVERITIES = ("info", "warning", "error", "critical")
# Points a finding of each severity costs (docs/code-assistant.md, "Score").
PENALTY = {"info": 1, "warning": 3, "error": 8, "critical": 15}
# Findings of one rule count at most this many times: a file with 40 long
# lines is not 40 times worse than one with a single long line.
MAX_PENALIZED_PER_RULE = 3
# Cyclomatic complexity over this, per function, costs a point per unit.
CYCLOMATIC_BUDGET = 10


@dataclass(frozen=True)
class Finding:
    """One issue at a place in the code, from an analyzer or the AI."""

    severity: str
    line: int
    column: int
    message: str
    rule: str
    suggestion: str = ""
    source: str = ""  # the analyzer that found it ("ruff", "bandit", "radon", "ai")
    security: bool = False


@dataclass(frozen=True)
class Source:
    """Code to analyze, its language and the file name the analyzers see:
    "snippet" plus an extension of that language (the client's own extension
    where it is one, so .tsx and .jsx keep JSX), never a client path."""

    code: str
    language: str
    filename: str


@dataclass(frozen=True)
class AnalyzerRun:
    """How one analyzer's run went: "ok", "timeout", "memory" or "failed"."""

    name: str
    status: str
    findings: int = 0
    detail: str = ""
    duration_ms: int = 0

    @property
    def finished(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class AiOutcome:
    """Whether the AI's suggestions are in: "used", "skipped" or "failed"."""

    status: str
    model: str = ""
    detail: str = ""
    findings: tuple[Finding, ...] = ()
    suggestions: tuple[str, ...] = ()
    kept: int = 0  # findings left after de-duplication with the analyzers'


@dataclass(frozen=True)
class FunctionComplexity:
    name: str
    line: int
    cyclomatic: int
    cognitive: int
    lines_of_code: int


@dataclass(frozen=True)
class ComplexityReport:
    """Measurements of one piece of code: for Python radon (cyclomatic,
    maintainability, lines of code) and complexipy (cognitive); for JavaScript
    and TypeScript lizard (all four, the maintainability index by radon's
    formula from lizard's numbers)."""

    cyclomatic: int
    cognitive: int
    maintainability_index: float
    lines_of_code: int
    functions: tuple[FunctionComplexity, ...]

    @property
    def level(self) -> str:
        """ "low" .. "very_high": the worse of the maintainability rating (radon's
        A/B/C bands: > 19 A, 10-19 B, < 10 C) and the most complex function."""
        worst = max((f.cyclomatic for f in self.functions), default=1)
        by_mi = 0 if self.maintainability_index > 19 else 1 if self.maintainability_index >= 10 else 3
        by_cc = 0 if worst <= 5 else 1 if worst <= 10 else 2 if worst <= 20 else 3
        return ("low", "medium", "high", "very_high")[max(by_mi, by_cc)]

    def recommendations(self) -> list[str]:
        advice = [
            f"split {f.name} (cyclomatic {f.cyclomatic}) into smaller functions"
            for f in self.functions
            if f.cyclomatic > CYCLOMATIC_BUDGET
        ]
        advice += [
            f"flatten the nesting in {f.name} (cognitive {f.cognitive}): return early, extract helpers"
            for f in self.functions
            if f.cognitive > 15
        ]
        if self.maintainability_index < 20:
            advice.append(
                f"maintainability index {self.maintainability_index:.1f} is low: shorten the module "
                "and simplify its functions"
            )
        return advice


@dataclass(frozen=True)
class Analysis:
    """What the static analyzers found, and how each run went."""

    findings: tuple[Finding, ...]
    runs: tuple[AnalyzerRun, ...]
    complexity: ComplexityReport | None

    @property
    def partial(self) -> bool:
        return any(not run.finished for run in self.runs)


@dataclass(frozen=True)
class Review:
    """A stored review; the code itself is not kept, only its hash and size."""

    id: str
    user_id: str
    language: str
    score: int
    issues: tuple[Finding, ...]
    security_issues: tuple[Finding, ...]
    suggestions: tuple[str, ...]
    cyclomatic: int
    cognitive: int
    lines_of_code: int
    code_sha256: str
    partial: bool
    analyzers: tuple[AnalyzerRun, ...]
    ai: AiOutcome
    created_at: datetime


@dataclass(frozen=True)
class NewReview:
    """A review before it is stored (no id, owner or timestamp yet)."""

    language: str
    score: int
    issues: tuple[Finding, ...]
    security_issues: tuple[Finding, ...]
    suggestions: tuple[str, ...]
    cyclomatic: int
    cognitive: int
    lines_of_code: int
    code_sha256: str
    partial: bool
    analyzers: tuple[AnalyzerRun, ...]
    ai: AiOutcome = field(default_factory=lambda: AiOutcome("skipped"))


# --- rules -------------------------------------------------------------------
def check_text(name: str, text: str) -> None:
    """Code is text: no NUL or other control bytes that no source file has."""
    bad = next((c for c in text if c == "\x00" or ("\x00" < c < "\x20" and c not in "\t\n\r\f")), None)
    if bad is not None:
        raise InvalidArgument(
            f"{name} must be text", [FieldViolation(name, f"contains the control character {ord(bad):#04x}")]
        )


def resolve_language(language: str, code: str, filename: str = "", field_name: str = "language") -> str:
    """The request's language if supported; empty means detect it: from the file
    name's extension if one is given, else Python if the code parses."""
    supported = ", ".join(LANGUAGES)
    if language:
        if language not in LANGUAGES:
            raise InvalidArgument(
                f"language {language!r} is not supported",
                [FieldViolation(field_name, f"must be one of: {supported}")],
            )
        return language
    if filename:
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix not in EXTENSIONS:
            raise InvalidArgument(
                f"cannot detect the language of {filename!r}; set it",
                [
                    FieldViolation(
                        "filename",
                        f"has no known extension ({', '.join(EXTENSIONS)}); "
                        f"set language to one of: {supported}",
                    )
                ],
            )
        return EXTENSIONS[suffix]
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        raise InvalidArgument(
            "cannot detect the language; set it",
            [FieldViolation(field_name, f"cannot be detected; set one of: {supported}, or a filename")],
        ) from None
    return "python"


def source_of(code: str, language: str, filename: str = "") -> Source:
    """The code with its resolved language and the analyzers' file name."""
    check_text("code", code)
    language = resolve_language(language, code, filename)
    suffix = PurePosixPath(filename).suffix.lower()
    if EXTENSIONS.get(suffix) != language:
        suffix = DEFAULT_EXTENSION[language]
    return Source(code, language, f"snippet{suffix}")


def require_generated_language(language: str, what: str, field_name: str = "language") -> None:
    """Refactoring and test generation only where the result can be checked."""
    if language not in GENERATED_LANGUAGES:
        raise InvalidArgument(
            f"{what} is not supported for {language}",
            [
                FieldViolation(
                    field_name,
                    f"{what} supports only: {', '.join(GENERATED_LANGUAGES)} "
                    f"({language} can be reviewed and measured)",
                )
            ],
        )


def parse_python(code: str, field_name: str = "code") -> ast.Module:
    """The module, or INVALID_ARGUMENT naming the line of the syntax error."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        where = f" on line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise InvalidArgument(
            "the code does not parse", [FieldViolation(field_name, f"is not valid Python{where}: {exc}")]
        ) from None


def sha256_hex(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


# Bandit test ids and the ruff (flake8-bandit, "S") rules that report the same thing.
BANDIT_TO_RUFF = {
    "B101": "S101", "B102": "S102", "B103": "S103", "B104": "S104", "B105": "S105", "B106": "S106",
    "B107": "S107", "B108": "S108", "B110": "S110", "B112": "S112", "B113": "S113", "B201": "S201",
    "B301": "S301", "B303": "S303", "B304": "S304", "B305": "S305", "B306": "S306", "B307": "S307",
    "B308": "S308", "B310": "S310", "B311": "S311", "B312": "S312", "B313": "S313", "B314": "S314",
    "B315": "S315", "B316": "S316", "B317": "S317", "B318": "S318", "B319": "S319", "B320": "S320",
    "B321": "S321", "B323": "S323", "B324": "S324", "B401": "S401", "B402": "S402", "B403": "S403",
    "B404": "S404", "B405": "S405", "B406": "S406", "B407": "S407", "B408": "S408", "B409": "S409",
    "B410": "S410", "B411": "S411", "B412": "S412", "B413": "S413", "B415": "S415", "B501": "S501",
    "B502": "S502", "B503": "S503", "B504": "S504", "B505": "S505", "B506": "S506", "B507": "S507",
    "B508": "S508", "B509": "S509", "B601": "S601", "B602": "S602", "B603": "S603", "B604": "S604",
    "B605": "S605", "B606": "S606", "B607": "S607", "B608": "S608", "B609": "S609", "B610": "S610",
    "B611": "S611", "B612": "S612", "B701": "S701", "B702": "S702", "B704": "S704",
}  # fmt: skip


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per problem, in line order. Two findings are the same problem
    when they are on the same line and name the same rule, where a bandit test
    and its ruff "S" twin count as one rule (the more severe one is kept, the
    first one's text when equal). The analyzers are authoritative: an AI finding
    on a line where they already report its rule, or its message, is dropped."""
    kept: dict[tuple[int, str], Finding] = {}
    for f in findings:
        rule = f.rule.removeprefix("ai/")
        key = (f.line, BANDIT_TO_RUFF.get(rule, rule).upper())
        if f.source == "ai" and (
            key in kept
            or any(
                k.line == f.line and k.message.strip().lower() == f.message.strip().lower()
                for k in kept.values()
            )
        ):
            continue
        if key not in kept:
            kept[key] = f
        elif SEVERITIES.index(f.severity) > SEVERITIES.index(kept[key].severity):
            kept[key] = _with_origin(f, kept[key])
    return sorted(kept.values(), key=lambda f: (f.line, f.column, f.rule))


def _with_origin(stronger: Finding, earlier: Finding) -> Finding:
    # Keep the earlier finding's suggestion when the stronger one has none.
    if stronger.suggestion or not earlier.suggestion:
        return stronger
    return replace(stronger, suggestion=earlier.suggestion)


def score(findings: Sequence[Finding], complexity: ComplexityReport | None) -> int:
    """100 minus the penalties, floored at 0 (docs/code-assistant.md, "Score"):
    each finding costs PENALTY[severity], counting at most MAX_PENALIZED_PER_RULE
    findings of one rule (the most severe ones); each function's cyclomatic
    complexity above CYCLOMATIC_BUDGET costs one point per unit."""
    by_rule: dict[str, list[int]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(PENALTY[f.severity])
    penalty = sum(sum(sorted(costs, reverse=True)[:MAX_PENALIZED_PER_RULE]) for costs in by_rule.values())
    if complexity is not None:
        penalty += sum(max(0, f.cyclomatic - CYCLOMATIC_BUDGET) for f in complexity.functions)
    return max(0, 100 - penalty)


def assemble(code: str, language: str, analysis: Analysis, ai: AiOutcome) -> NewReview:
    """The review of `code` from the analyzers' findings and the AI's."""
    merged = merge([*analysis.findings, *ai.findings])
    ai_kept = sum(1 for f in merged if f.source == "ai")
    runs = tuple(
        AnalyzerRun(r.name, r.status, sum(1 for f in merged if f.source == r.name), r.detail, r.duration_ms)
        for r in analysis.runs
    )
    cx = analysis.complexity
    return NewReview(
        language=language,
        score=score(merged, cx),
        issues=tuple(f for f in merged if not f.security),
        security_issues=tuple(f for f in merged if f.security),
        suggestions=ai.suggestions,
        cyclomatic=cx.cyclomatic if cx else 0,
        cognitive=cx.cognitive if cx else 0,
        lines_of_code=cx.lines_of_code if cx else len(code.splitlines()),
        code_sha256=sha256_hex(code),
        partial=analysis.partial,
        analyzers=runs,
        ai=replace(ai, findings=(), kept=ai_kept),
    )


# --- domain events (servers.code.mapping.to_event maps them to aether.code.v1) ---
@dataclass(frozen=True)
class ReviewCompleted:
    review: Review


# Every domain event of the Code Assistant.
CodeEvent = ReviewCompleted
