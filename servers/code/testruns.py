"""Test runs and AI-written code: running a client's tests in the sandbox, and
refactoring and test generation through the AI Gateway (generated Python must
parse, is formatted with ruff, and generated tests are counted by collecting
them in the sandbox)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from servers.code.ai import REFACTOR_PROMPT, TESTS_PROMPT
from servers.code.domain import parse_python, require_generated_language, source_of
from servers.code.sandbox.bwrap import Chunk, Outcome
from servers.code.sandbox.runners import RunOptions, collect_command, command
from servers.code.sandbox.slots import RunSlots
from servers.code.sandbox.workspace import check_files
from servers.code.usecases import Assistant, CodeAnalyzers
from servers.platform.errors import ErrorReason, FailedPrecondition, Unavailable
from servers.platform.scoping import current_viewer

COLLECT_TIMEOUT = 30.0


class TestSandbox(Protocol):
    python: str

    def available(self) -> str | None: ...
    def run(
        self, files: Mapping[str, str], command: Sequence[str], wall_seconds: float, report_name: str = ...
    ) -> AsyncIterator[Chunk | Outcome]: ...


@dataclass(frozen=True)
class Refactored:
    code: str
    changes: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class GeneratedTests:
    tests: str
    test_count: int
    coverage_estimate: float
    framework: str


def _generated_python(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Unavailable(f"the AI model returned no {what}; retry", 1.0)
    try:
        parse_python(value)
    except Exception:
        raise Unavailable(f"the AI model's {what} is not valid Python; retry", 1.0) from None
    return value


class CodeWorkUseCases:
    def __init__(self, analyzers: CodeAnalyzers, assistant: Assistant, sandbox: TestSandbox, slots: RunSlots):
        self._analyzers = analyzers
        self._assistant = assistant
        self._sandbox = sandbox
        self._slots = slots

    def _require_sandbox(self) -> None:
        if (why := self._sandbox.available()) is not None:
            raise FailedPrecondition(why, reason=ErrorReason.NOT_CONFIGURED)

    async def run_tests(
        self, files: Mapping[str, str], options: RunOptions, wall_seconds: float
    ) -> AsyncIterator[Chunk | Outcome]:
        """The run's output as it is written, then its Outcome."""
        check_files(files, options.test_paths)
        self._require_sandbox()
        with self._slots.take(current_viewer().user_id):
            async for item in self._sandbox.run(files, command(options, self._sandbox.python), wall_seconds):
                yield item

    async def refactor(self, code: str, instruction: str, language: str, filename: str = "") -> Refactored:
        language = source_of(code, language, filename).language
        require_generated_language(language, "refactoring")
        answer = await self._assistant.ask_json(
            REFACTOR_PROMPT.format(language=language, instruction=instruction, code=code)
        )
        new_code = _generated_python(answer.data.get("refactoredCode"), "refactored code")
        changes = tuple(str(c) for c in answer.data.get("changes") or [] if isinstance(c, str))
        return Refactored(
            await self._analyzers.format(new_code), changes, str(answer.data.get("explanation", ""))
        )

    async def generate_tests(
        self, code: str, language: str, framework: str, filename: str = ""
    ) -> GeneratedTests:
        language = source_of(code, language, filename).language
        require_generated_language(language, "test generation")
        framework = framework or "pytest"
        answer = await self._assistant.ask_json(
            TESTS_PROMPT.format(framework=framework, language=language, module="module", code=code)
        )
        tests = await self._analyzers.format(_generated_python(answer.data.get("tests"), "tests"))
        coverage = answer.data.get("coverageEstimate")
        estimate = float(coverage) if isinstance(coverage, int | float) else 0.0
        return GeneratedTests(
            tests, await self._count(code, tests, framework), min(max(estimate, 0.0), 100.0), framework
        )

    async def _count(self, code: str, tests: str, framework: str) -> int:
        """The number of tests the framework collects from `tests` next to `code`
        (0 where there is no sandbox: generated code is never run outside one)."""
        if self._sandbox.available() is not None:
            return 0
        files = {"module.py": code, "test_module.py": tests}
        with self._slots.take(current_viewer().user_id):
            async for item in self._sandbox.run(
                files, collect_command(framework, self._sandbox.python), COLLECT_TIMEOUT, "collect.json"
            ):
                if isinstance(item, Outcome):
                    try:
                        return int(json.loads(item.report or b"{}").get("count", 0))
                    except (ValueError, TypeError):
                        return 0
        return 0
