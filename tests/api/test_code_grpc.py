"""CodeService over native gRPC against the shared in-process server: review with
the real analyzers (planted problems in Python and JavaScript), complexity equal
to radon's (with a `match`) and to lizard's (JavaScript, TypeScript), AI
suggestions through the gateway (fake providers), history scoped
by owner with its outbox event, refactoring and test generation, a real pytest
run, and bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import lizard
import pytest
from aether.code.v1 import code_service_pb2 as pb
from aether.code.v1 import code_service_pb2_grpc
from radon.visitors import ComplexityVisitor

from tests.fakes.ai_providers import PROVIDERS, FakeProviders
from tests.helpers import bearer, outbox_events, rich_error

FIXTURES = Path(__file__).parent / "code_fixtures"


class Caller:
    def __init__(self, stub: code_service_pb2_grpc.CodeServiceStub, user_id: str, token: str):
        self.stub, self.id, self.md = stub, user_id, bearer(token)

    async def call(self, method: str, request: object) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.md)


MakeCaller = Callable[..., Awaitable[Caller]]


@pytest.fixture(scope="module")
async def stub(app_server: tuple[str, list[str]]) -> AsyncIterator[code_service_pb2_grpc.CodeServiceStub]:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        yield code_service_pb2_grpc.CodeServiceStub(channel)


@pytest.fixture
def caller(stub: code_service_pb2_grpc.CodeServiceStub, forge_token) -> MakeCaller:
    async def make(*, admin: bool = False) -> Caller:
        user_id = str(uuid.uuid4())
        return Caller(stub, user_id, await forge_token(user_id, roles=("admin",) if admin else ("user",)))

    return make


@pytest.fixture
def ai(fake_ai: FakeProviders) -> AsyncIterator[FakeProviders]:
    fake_ai.reset()
    yield fake_ai
    fake_ai.reset()


async def test_review_finds_the_planted_problems(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    code = (FIXTURES / "planted.py.txt").read_text()
    reply = await me.call("ReviewCode", pb.ReviewCodeRequest(code=code, language="python"))
    security = {(i.line, i.rule) for i in reply.security_issues}
    rules = {rule for _, rule in security}
    lines = code.splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)

    # eval/exec, SQL by string formatting, hard-coded secret, shell=True, pickle, yaml.load, md5
    for text, rule in [
        ("eval(", {"S307", "B307"}),
        ("exec(", {"S102", "B102"}),
        ("SELECT * FROM users WHERE name = '%s'", {"S608", "B608"}),
        ('API_PASSWORD = "', {"S105", "B105"}),
        ("shell=True", {"S602", "B602"}),
        ("pickle.loads", {"S301", "B301"}),
        ("yaml.load(", {"S506", "B506"}),
        ("hashlib.md5", {"S324", "B324"}),
    ]:
        assert any((line_of(text), r) in security for r in rule), (text, sorted(security))
    # ruff's S rule and bandit's twin on one line are one finding, not two.
    assert len(security) == len(reply.security_issues)
    assert not {"S307", "B307"} <= rules
    assert [a.name for a in reply.analyzers] == ["ruff", "bandit", "radon"]
    assert all(a.status == "ok" for a in reply.analyzers) and not reply.partial
    assert 0 <= reply.score < 60  # many severe findings
    assert reply.ai.status == "failed"  # the fake echoes the prompt: not the JSON asked for
    assert reply.review_id


async def test_review_merges_ai_findings_without_duplicates(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    ai.reply = json.dumps(
        {
            "issues": [
                {"line": 1, "severity": "critical", "message": "eval of user input", "rule": "S307"},
                {"line": 2, "severity": "info", "message": "name the constant", "rule": "naming"},
            ],
            "suggestions": ["add type hints"],
        }
    )
    reply = await me.call("ReviewCode", pb.ReviewCodeRequest(code="x = eval(input())\ny = 2\n"))
    assert reply.language == "python"  # detected
    assert reply.ai.status == "used" and reply.ai.model
    assert list(reply.suggestions) == ["add type hints"]
    on_line_1 = [i for i in reply.security_issues if i.line == 1]
    assert len(on_line_1) == 1  # ruff, bandit and the AI reported one problem
    assert any(i.rule == "ai/naming" for i in reply.issues)
    assert reply.ai.findings == 1


async def test_review_is_stored_with_its_event_and_scoped_by_owner(
    caller: MakeCaller, ai: FakeProviders, database_url: str
) -> None:
    me, other, admin = await caller(), await caller(), await caller(admin=True)
    first = await me.call("ReviewCode", pb.ReviewCodeRequest(code="a = 1\n", request_id="k1"))
    again = await me.call("ReviewCode", pb.ReviewCodeRequest(code="a = 1\n", request_id="k1"))
    assert again.review_id == first.review_id
    await me.call("ReviewCode", pb.ReviewCodeRequest(code="import os\nos.system('ls')\n"))
    page = await me.call("ListReviews", pb.ListReviewsRequest(limit=1, sort="score", order="asc"))
    assert page.pagination.total == 2 and page.pagination.has_next and len(page.reviews) == 1
    assert page.reviews[0].user_id == me.id and len(page.reviews[0].code_sha256) == 64
    assert (await other.call("ListReviews", pb.ListReviewsRequest())).pagination.total == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await other.call("ListReviews", pb.ListReviewsRequest(user_id=me.id))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await admin.call("ListReviews", pb.ListReviewsRequest(user_id=me.id))).pagination.total == 2
    assert (await me.call("GetReview", pb.GetReviewRequest(id=first.review_id))).score == first.score
    assert (await admin.call("GetReview", pb.GetReviewRequest(id=first.review_id))).user_id == me.id
    for review_id in (first.review_id, "not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.call("GetReview", pb.GetReviewRequest(id=review_id))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await outbox_events(pool, first.review_id) == ["code.review.completed"]
    finally:
        await pool.close()


async def test_complexity_equals_radons_including_match(caller: MakeCaller) -> None:
    me = await caller()
    code = (FIXTURES / "complexity.py.txt").read_text()
    reply = await me.call("AnalyzeComplexity", pb.AnalyzeComplexityRequest(code=code))
    visitor = ComplexityVisitor.from_code(code)
    radon = {
        b.fullname: b.complexity
        for b in [*visitor.functions, *(m for c in visitor.classes for m in c.methods)]
    }
    assert {f.name: f.cyclomatic for f in reply.functions} == radon
    assert radon["route"] == 6  # 1 + the match's four cases other than the wildcard + the if
    assert reply.cyclomatic_complexity == sum(radon.values())
    assert reply.lines_of_code > 0 and 0 < reply.maintainability_index <= 100
    assert reply.functions[0].cyclomatic == max(radon.values())  # most complex first
    assert reply.cognitive_complexity > 0


def lizard_functions(code: str, filename: str) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """lizard's own NLOC of the file and (CCN, cognitive, line) per function."""
    info = lizard.FileAnalyzer(lizard.get_extensions(["cognitive"])).analyze_source_code(filename, code)
    return info.nloc, {
        f.name.replace("::", "."): (f.cyclomatic_complexity, f.cognitive_complexity, f.start_line)
        for f in info.function_list
    }


@pytest.mark.parametrize(
    ("fixture", "filename", "language"),
    [("complexity.js.txt", "src/shapes.js", "javascript"), ("complexity.ts.txt", "orders.ts", "typescript")],
)
async def test_js_and_ts_complexity_equals_lizards(
    caller: MakeCaller, fixture: str, filename: str, language: str
) -> None:
    me = await caller()
    code = (FIXTURES / fixture).read_text()
    reply = await me.call("AnalyzeComplexity", pb.AnalyzeComplexityRequest(code=code, filename=filename))
    assert reply.language == language  # detected from the extension
    nloc, functions = lizard_functions(code, filename)
    assert {f.name: (f.cyclomatic, f.cognitive, f.line) for f in reply.functions} == functions
    assert reply.cyclomatic_complexity == sum(cc for cc, _, _ in functions.values())
    assert reply.cognitive_complexity == sum(cog for _, cog, _ in functions.values())
    assert reply.lines_of_code == nloc
    assert 0 < reply.maintainability_index <= 100
    assert reply.functions[0].cyclomatic == max(cc for cc, _, _ in functions.values())
    # The fixtures' known numbers, so a lizard upgrade that changes them is noticed.
    expected = {
        "javascript": {"classify": 4, "route": 5, "parse": 7, "double": 1},
        "typescript": {"shipping": 5, "reserve": 6, "label": 2},
    }[language]
    assert {name: cc for name, (cc, _, _) in functions.items()} == expected


async def test_js_review_finds_the_planted_problems(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    code = (FIXTURES / "planted.js.txt").read_text()
    reply = await me.call("ReviewCode", pb.ReviewCodeRequest(code=code, filename="handlers.js"))
    assert reply.language == "javascript"
    assert [(a.name, a.status) for a in reply.analyzers] == [("oxlint", "ok"), ("lizard", "ok")]
    assert not reply.partial
    lines = code.splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)

    security = {(i.line, i.rule) for i in reply.security_issues}
    assert {
        (line_of("eval(userInput)"), "no-eval"),
        (line_of("new Function("), "no-new-func"),
        (line_of('"javascript:'), "no-script-url"),
    } <= security, sorted(security)
    issues = {(i.line, i.rule) for i in reply.issues}
    assert {
        (line_of("value == null"), "eqeqeq"),
        (line_of("debugger;"), "no-debugger"),
        (line_of("var result"), "no-var"),
        (line_of("function tangled"), "lizard-cc"),  # cyclomatic over 10
    } <= issues, sorted(issues)
    _, functions = lizard_functions(code, "handlers.js")
    assert reply.complexity.cyclomatic == sum(cc for cc, _, _ in functions.values())
    assert 0 <= reply.score < 70


async def test_ts_review_with_a_syntax_error_says_so(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    code = "export function ok(a: number): number {\n  return a;\n}\nfunction (:\n"
    reply = await me.call("ReviewCode", pb.ReviewCodeRequest(code=code, language="typescript"))
    assert reply.language == "typescript"
    assert any(i.rule == "syntax-error" and i.line == 4 for i in reply.issues), reply.issues


@pytest.mark.parametrize("method", ["RefactorCode", "GenerateTests"])
@pytest.mark.parametrize(("language", "filename"), [("javascript", ""), ("", "app.ts")])
async def test_js_and_ts_refactor_and_test_generation_are_refused(
    caller: MakeCaller, ai: FakeProviders, method: str, language: str, filename: str
) -> None:
    me = await caller()
    code = "export const add = (a, b) => a + b;\n"
    request = (
        pb.RefactorCodeRequest(code=code, instruction="simplify", language=language, filename=filename)
        if method == "RefactorCode"
        else pb.GenerateTestsRequest(code=code, language=language, filename=filename)
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await me.call(method, request)
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "supports only: python" in rich.field_violations["language"]
    assert not any(ai.requests(p) for p in PROVIDERS)  # refused before asking the model


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.AnalyzeComplexityRequest(code="x = 1", language="cobol"), "language"),
        (pb.AnalyzeComplexityRequest(code="puts 1", filename="main.rb"), "filename"),
        (pb.AnalyzeComplexityRequest(code="x = 1", filename="x" * 256 + ".py"), "filename"),
        (pb.AnalyzeComplexityRequest(code="x = \x01\x02"), "code"),
        (pb.AnalyzeComplexityRequest(code="def (:"), "language"),
        (pb.AnalyzeComplexityRequest(code="x" * 262145), "code"),
    ],
)
async def test_bad_input_is_invalid_argument_with_the_field(
    caller: MakeCaller, request_: pb.AnalyzeComplexityRequest, field: str
) -> None:
    me = await caller()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await me.call("AnalyzeComplexity", request_)
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in rich.field_violations, rich.field_violations


async def test_refactor_returns_formatted_python(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    ai.reply = json.dumps(
        {
            "refactoredCode": "def add(a,b):\n  return a+b\n",
            "changes": ["extracted add"],
            "explanation": "simpler",
        }
    )
    reply = await me.call(
        "RefactorCode", pb.RefactorCodeRequest(code="x = 1 + 2\n", instruction="extract add")
    )
    assert reply.refactored_code == "def add(a, b):\n    return a + b\n"  # ruff format
    assert list(reply.changes) == ["extracted add"]
    ai.reply = json.dumps({"refactoredCode": "def broken(:", "changes": []})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await me.call("RefactorCode", pb.RefactorCodeRequest(code="x = 1\n", instruction="break it"))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_generated_tests_are_counted_by_collection(caller: MakeCaller, ai: FakeProviders) -> None:
    me = await caller()
    tests = (
        "from module import add\n\ndef test_one():\n    assert add(1, 2) == 3\n\n"
        "def test_two():\n  assert add(0,0)==0\n"
    )
    ai.reply = json.dumps({"tests": tests, "coverageEstimate": 90})
    reply = await me.call("GenerateTests", pb.GenerateTestsRequest(code="def add(a, b):\n    return a + b\n"))
    assert reply.framework == "pytest" and reply.test_count == 2
    assert "    assert add(0, 0) == 0" in reply.tests  # formatted
    assert reply.coverage_estimate == 90


async def test_a_real_pytest_run_streams_and_counts(caller: MakeCaller) -> None:
    me = await caller()
    files = {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n"
        "def test_ok():\n    print('first line')\n    assert add(1, 2) == 3\n\n"
        "def test_bad():\n    assert add(1, 1) == 3\n",
    }
    request = pb.RunTestsRequest(
        files=files, runner="pytest", verbose=True, test_paths=["tests/test_calc.py"]
    )
    messages = [m async for m in me.stub.RunTests(request, metadata=me.md)]
    kinds = [m.WhichOneof("event") for m in messages]
    assert kinds[-1] == "final" and kinds.count("final") == 1 and "chunk" in kinds[:-1]
    final = messages[-1].final
    assert (final.summary.passed, final.summary.failed, final.summary.total) == (1, 1, 2)
    assert not final.success and final.exit_code == 1 and not final.timed_out
    assert "test_bad" in "".join(m.chunk.content for m in messages[:-1])


UNITTEST_FILES = {
    "test_u.py": "import unittest\n\n\nclass T(unittest.TestCase):\n"
    "    def test_a(self):\n        pass\n\n"
    "    @unittest.skip('no')\n    def test_b(self):\n        pass\n"
}
NODE_FILES = {
    "a.test.js": "const test = require('node:test');\ntest('a', () => {});\ntest.skip('b', () => {});\n"
}


@pytest.mark.parametrize(("runner", "files"), [("unittest", UNITTEST_FILES), ("node", NODE_FILES)])
async def test_unittest_and_node_runners(caller: MakeCaller, runner: str, files: dict[str, str]) -> None:
    me = await caller()
    messages = [
        m async for m in me.stub.RunTests(pb.RunTestsRequest(files=files, runner=runner), metadata=me.md)
    ]
    final = messages[-1].final
    assert final.success, final.output
    assert (final.summary.passed, final.summary.skipped, final.summary.total) == (1, 1, 2)


@pytest.mark.parametrize(
    ("files", "runner", "field"),
    [
        ({"../x.py": "x"}, "pytest", "files"),
        ({"/etc/x.py": "x"}, "pytest", "files"),
        ({"a/.hidden.py": "x"}, "pytest", "files"),
        ({"a.py": "x"}, "jest", "runner"),
        ({"a.py": "x\x00y"}, "pytest", "files[a.py]"),  # the platform's NUL check
    ],
)
async def test_bad_test_runs_are_invalid_argument(
    caller: MakeCaller, files: dict[str, str], runner: str, field: str
) -> None:
    me = await caller()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in me.stub.RunTests(pb.RunTestsRequest(files=files, runner=runner), metadata=me.md):
            pass
    rich = rich_error(err.value)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(k.startswith(field) for k in rich.field_violations), rich.field_violations
