"""The static analyzers of a review, each a limited child process
(servers.code.processes): for Python ruff (JSON output), bandit (JSON output)
and the radon/complexipy measurements (servers/code/metrics_worker.py); for
JavaScript and TypeScript oxlint (servers.code.oxlint) and the lizard
measurements (servers/code/lizard_worker.py). They run concurrently; one that
fails or hits its limit is reported, never hidden."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.code import oxlint
from servers.code.domain import Analysis, AnalyzerRun, ComplexityReport, Finding, FunctionComplexity, Source
from servers.code.processes import Finished, Limits, run_limited
from servers.code.warm import WarmBandit

# ruff's rule families for a review: errors, pyflakes, warnings, bugbear,
# flake8-bandit (security), simplify, pyupgrade, naming, comprehensions.
RUFF_SELECT = "E,F,W,B,S,SIM,UP,N,C4"
METRICS_WORKER = Path(__file__).with_name("metrics_worker.py")
LIZARD_WORKER = Path(__file__).with_name("lizard_worker.py")
DEFAULT_LIMITS = Limits(wall_seconds=10.0, memory_bytes=512 << 20, cpu_seconds=10)
_BANDIT_SEVERITY = {"LOW": "warning", "MEDIUM": "error", "HIGH": "critical"}


class AnalyzerError(Exception):
    """An analyzer's output could not be read."""


@dataclass(frozen=True)
class Toolchain:
    """Where the analyzers are and the limits each runs under."""

    ruff: str
    oxlint: str = "oxlint"
    python: str = sys.executable
    limits: Limits = DEFAULT_LIMITS
    # bandit through its fork server (servers.code.warm): no interpreter start per review.
    warm_bandit: bool = True


def _ruff_severity(code: str) -> str:
    if code.startswith("E9") or code == "F821":
        return "error"
    if code.startswith(("F", "B", "S")):
        return "error" if code.startswith("S") else "warning"
    return "info"


def ruff_findings(stdout: bytes) -> list[Finding]:
    findings = []
    for item in json.loads(stdout or b"[]"):
        code = item.get("code") or "syntax-error"
        fix = item.get("fix") or {}
        findings.append(
            Finding(
                severity=_ruff_severity(code),
                line=int(item["location"]["row"]),
                column=int(item["location"]["column"]),
                message=item["message"],
                rule=code,
                suggestion=fix.get("message") or "",
                source="ruff",
                security=code.startswith("S"),
            )
        )
    return findings


def bandit_findings(stdout: bytes) -> list[Finding]:
    return [
        Finding(
            severity=_BANDIT_SEVERITY.get(item["issue_severity"], "warning"),
            line=int(item["line_number"]),
            column=int(item.get("col_offset", 0)) + 1,
            message=item["issue_text"],
            rule=item["test_id"],
            suggestion=f"see {item['more_info']}" if item.get("more_info") else "",
            source="bandit",
            security=True,
        )
        for item in json.loads(stdout)["results"]
    ]


def complexity_report(stdout: bytes) -> ComplexityReport:
    data: dict[str, Any] = json.loads(stdout)
    functions = sorted(
        (
            FunctionComplexity(f["name"], f["line"], f["cyclomatic"], f["cognitive"], f["loc"])
            for f in data["functions"]
        ),
        key=lambda f: (-f.cyclomatic, -f.cognitive, f.line),
    )
    return ComplexityReport(
        cyclomatic=int(data["cyclomatic"]),
        cognitive=int(data["cognitive"]),
        maintainability_index=round(float(data["mi"]), 2),
        lines_of_code=int(data["sloc"]),
        functions=tuple(functions),
    )


def complexity_findings(report: ComplexityReport, analyzer: str = "radon") -> list[Finding]:
    """Cyclomatic complexity over 10 (radon's rank C and worse; the same bound
    for lizard's numbers) as findings of `analyzer`."""
    return [
        Finding(
            severity="warning" if f.cyclomatic <= 20 else "error",
            line=f.line,
            column=1,
            message=f"{f.name} is too complex (cyclomatic complexity {f.cyclomatic})",
            rule=f"{analyzer}-cc",
            suggestion="split it into smaller functions",
            source=analyzer,
        )
        for f in report.functions
        if f.cyclomatic > 10
    ]


class Analyzers:
    """The review's analyzers over one toolchain (implements usecases.CodeAnalyzers)."""

    def __init__(self, tools: Toolchain):
        self._tools = tools
        self._bandit = WarmBandit(tools.python, tools.limits) if tools.warm_bandit else None

    async def close(self) -> None:
        """Stop the warm bandit's fork server (on shutdown)."""
        if self._bandit is not None:
            await self._bandit.close()

    async def _run_bandit(self, code: str) -> Finished:
        if self._bandit is not None:
            return await self._bandit.run(code.encode())
        return await self._run(
            [self._tools.python, "-I", "-m", "bandit", "--format=json", "--quiet", "-"], code
        )

    async def _run(self, argv: list[str], code: str) -> Finished:
        return await run_limited(argv, code.encode(), self._tools.limits)

    async def measure(self, source: Source) -> tuple[AnalyzerRun, ComplexityReport | None]:
        if source.language == "python":
            name, argv = "radon", [self._tools.python, "-I", str(METRICS_WORKER)]
        else:  # lizard picks its language reader by the file name's extension
            name, argv = "lizard", [self._tools.python, "-I", str(LIZARD_WORKER), source.filename]
        done = await self._run(argv, source.code)
        return _outcome(name, done, complexity_report, ok_codes=(0,))

    async def format(self, code: str) -> str:
        """`code` formatted by `ruff format` (unchanged if ruff cannot format it)."""
        done = await self._run([self._tools.ruff, "format", "--isolated", "--no-cache", "-"], code)
        return done.stdout.decode() if done.status == "ok" and done.returncode == 0 else code

    async def review(self, source: Source) -> Analysis:
        linters = self._python_linters if source.language == "python" else self._script_linters
        linted, (measured, report) = await asyncio.gather(linters(source), self.measure(source))
        findings = [f for _, found in linted for f in found or []]
        if report is not None:
            findings += complexity_findings(report, measured.name)
        return Analysis(tuple(findings), (*(run for run, _ in linted), measured), report)

    async def _python_linters(self, source: Source) -> list[tuple[AnalyzerRun, Any]]:
        ruff, bandit = await asyncio.gather(
            self._run(
                [self._tools.ruff, "check", "--isolated", "--no-cache", "--output-format=json",
                 f"--select={RUFF_SELECT}", "--stdin-filename=snippet.py", "-"],
                source.code,
            ),
            self._run_bandit(source.code),
        )  # fmt: skip
        return [
            _outcome("ruff", ruff, ruff_findings, ok_codes=(0, 1)),
            _outcome("bandit", bandit, bandit_findings, ok_codes=(0, 1)),
        ]

    async def _script_linters(self, source: Source) -> list[tuple[AnalyzerRun, Any]]:
        # oxlint reads no stdin: the snippet goes into a private (0700) directory, removed after.
        with tempfile.TemporaryDirectory(prefix="aether-oxlint-") as workdir:
            (Path(workdir) / source.filename).write_text(source.code, encoding="utf-8")
            done = await run_limited(
                oxlint.argv(self._tools.oxlint, source.filename), b"", self._tools.limits, cwd=workdir
            )
        return [_outcome("oxlint", done, oxlint.findings, ok_codes=(0, 1))]


def _outcome(name: str, done: Finished, parse: Any, *, ok_codes: tuple[int, ...]) -> tuple[AnalyzerRun, Any]:
    if done.status != "ok":
        return AnalyzerRun(name, done.status, detail=done.detail, duration_ms=done.duration_ms), None
    if done.returncode not in ok_codes:
        return AnalyzerRun(name, "failed", detail=done.detail, duration_ms=done.duration_ms), None
    try:
        parsed = parse(done.stdout)
    except (ValueError, KeyError, TypeError) as exc:
        return AnalyzerRun(
            name, "failed", detail=f"unreadable output: {exc}", duration_ms=done.duration_ms
        ), None
    return AnalyzerRun(name, "ok", duration_ms=done.duration_ms), parsed
