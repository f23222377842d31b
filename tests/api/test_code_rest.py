"""CodeService as REST/JSON through a real Envoy in front of the shared server:
the JSON names, review history and its scoping (404 for another user's), a
JavaScript review and a TypeScript complexity equal to lizard's, the
NDJSON test-run stream (output arrives while the run is still going; closing
the stream ends the run) and bad input as 400 with field violations."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_code_grpc import lizard_functions
from tests.api.test_code_sandbox import leftovers

FIXTURES = Path(__file__).parent / "code_fixtures"


class Caller:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str):
        self.http, self.id = http, user_id
        self.headers = {"authorization": f"Bearer {token}"}

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/code{path}", json=body, headers=self.headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/v1/code{path}", params=params, headers=self.headers)


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=60) as client:
        yield client


@pytest.fixture
async def caller(http: httpx.AsyncClient, forge_token) -> Caller:
    user = str(uuid.uuid4())
    return Caller(http, user, await forge_token(user))


def violations(r: httpx.Response) -> dict[str, str]:
    for d in r.json().get("details", []):
        if d["@type"] == "type.googleapis.com/google.rpc.BadRequest":
            return {v["field"]: v["description"] for v in d["fieldViolations"]}
    return {}


async def test_review_then_history_and_another_users_review_is_404(
    caller: Caller, http: httpx.AsyncClient, forge_token
) -> None:
    code = (FIXTURES / "planted.py.txt").read_text()
    r = await caller.post("/review", {"code": code, "language": "python"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {
        "issues",
        "suggestions",
        "score",
        "securityIssues",
        "complexity",
        "reviewId",
        "analyzers",
        "ai",
    } <= set(body)
    assert {"severity", "line", "column", "message", "rule", "suggestion"} <= set(body["securityIssues"][0])
    assert body["partial"] is False and body["ai"]["status"] in ("failed", "used")
    listed = await caller.get("/reviews", limit=10)
    assert listed.status_code == 200
    assert listed.json()["pagination"]["total"] == 1
    assert listed.json()["reviews"][0]["id"] == body["reviewId"]
    mine = await caller.get(f"/reviews/{body['reviewId']}")
    assert mine.status_code == 200 and mine.json()["score"] == body["score"]
    other_id = str(uuid.uuid4())
    other = Caller(http, other_id, await forge_token(other_id))
    r = await other.get(f"/reviews/{body['reviewId']}")
    assert r.status_code == 404 and r.json()["code"] == 5


async def test_complexity_over_rest(caller: Caller) -> None:
    r = await caller.post("/analyze/complexity", {"code": (FIXTURES / "complexity.py.txt").read_text()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cyclomaticComplexity"] == 15 and body["language"] == "python"
    assert body["complexityLevel"] == "COMPLEXITY_LEVEL_MEDIUM"
    assert body["functions"][0]["name"] == "nested"


async def test_a_javascript_review_over_rest(caller: Caller) -> None:
    code = (FIXTURES / "planted.js.txt").read_text()
    r = await caller.post("/review", {"code": code, "filename": "handlers.js"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "javascript" and body["partial"] is False
    assert [(a["name"], a["status"]) for a in body["analyzers"]] == [("oxlint", "ok"), ("lizard", "ok")]
    assert {"no-eval", "no-new-func", "no-script-url"} <= {i["rule"] for i in body["securityIssues"]}
    _, functions = lizard_functions(code, "a.js")
    assert body["complexity"]["cyclomatic"] == sum(cc for cc, _, _ in functions.values())


async def test_typescript_complexity_over_rest_equals_lizards(caller: Caller) -> None:
    code = (FIXTURES / "complexity.ts.txt").read_text()
    r = await caller.post("/analyze/complexity", {"code": code, "language": "typescript"})
    assert r.status_code == 200, r.text
    body = r.json()
    nloc, functions = lizard_functions(code, "a.ts")
    assert body["language"] == "typescript" and body["linesOfCode"] == nloc
    measured = {f["name"]: (f["cyclomatic"], f.get("cognitive", 0), f["line"]) for f in body["functions"]}
    assert measured == functions
    assert body["cyclomaticComplexity"] == sum(cc for cc, _, _ in functions.values())


async def test_run_streams_ndjson_while_running_and_closing_ends_it(caller: Caller) -> None:
    files = {
        "test_slow.py": "import os, time, unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_slow(self):\n        os.write(1, b'first output')\n        time.sleep(60)\n"
    }
    body = {"files": files, "runner": "unittest", "timeoutSeconds": 120}
    async with caller.http.stream("POST", "/api/v1/code/test/run", json=body, headers=caller.headers) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.strip() and "first output" in json.loads(line).get("chunk", {}).get("content", ""):
                break
        assert leftovers()["processes"], "the run is still going when its output arrives"
    for _ in range(300):  # the client went away: Envoy resets the stream, the server ends the run
        if not any(leftovers().values()):
            break
        await asyncio.sleep(0.1)
    assert not any(leftovers().values()), leftovers()


async def test_a_finished_run_over_rest(caller: Caller) -> None:
    files = {"test_a.py": "def test_ok():\n    assert True\n\ndef test_bad():\n    assert False\n"}
    r = await caller.post("/test/run", {"files": files, "runner": "pytest"})
    assert r.status_code == 200
    messages = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    final = messages[-1]["final"]
    assert final["summary"] == {"passed": 1, "failed": 1, "skipped": 0, "total": 2, "errors": 0}
    assert final["success"] is False and final["exitCode"] == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/review", {"code": "x = 1", "language": "klingon"}, "language"),
        ("/review", {"code": "puts 1", "filename": "main.rb"}, "filename"),
        ("/review", {"code": "const a = 1;"}, "language"),  # not Python, nothing to detect it by
        ("/refactor", {"code": "let a;", "instruction": "tidy", "language": "javascript"}, "language"),
        ("/test/generate", {"code": "let a: number;", "filename": "a.ts"}, "language"),
        ("/review", {"code": "x = 1\u0000\u0001"}, "code"),
        ("/review", {"code": "x = 1", "context": "c" * 10001}, "context"),
        ("/analyze/complexity", {"code": "\u0007\u0008 garbage \u0000"}, "code"),
        ("/test/run", {"files": {"a.py": "x"}, "runner": "bash"}, "runner"),
        ("/test/run", {"files": {"../etc/passwd": "x"}, "runner": "pytest"}, "files"),
        ("/test/run", {"files": {"/abs.py": "x"}, "runner": "pytest"}, "files"),
        ("/test/run", {"files": {"a.py": "x"}, "runner": "pytest", "keyword": "--junitxml=/x"}, "keyword"),
        ("/test/run", {"files": {"a.py": "x"}, "runner": "pytest", "timeoutSeconds": 9999}, "timeoutSeconds"),
        ("/test/run", {"files": {"a.py": "x"}, "runner": "pytest", "testPaths": ["b.py"]}, ""),
    ],
)
async def test_bad_input_is_400_with_field_violations(
    caller: Caller, path: str, body: Any, field: str
) -> None:
    r = await caller.post(path, body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 3
    found = violations(r)
    assert any(k.startswith(field) for k in found), found


async def test_invalid_utf8_is_400(caller: Caller) -> None:
    raw = b'{"code": "x = \xff\xfe", "language": "python"}'
    r = await caller.http.post(
        "/api/v1/code/review", content=raw, headers={**caller.headers, "content-type": "application/json"}
    )
    assert r.status_code == 400


async def test_readme_flow_with_a_registered_user(http: httpx.AsyncClient) -> None:
    """The README's Code Assistant calls, by a user who registered (the user role's real permissions)."""
    from tests.api.test_readme_flows import register_and_login

    headers, _ = await register_and_login(http)
    code = "import subprocess\nsubprocess.call(cmd, shell=True)\n"
    r = await http.post("/api/v1/code/review", json={"code": code, "language": "python"}, headers=headers)
    assert r.status_code == 200, r.text
    assert any(i["rule"] == "B602" for i in r.json()["securityIssues"])
    files = {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_calc.py": "from calc import add\n\ndef test_ok():\n    assert add(1, 2) == 3\n",
    }
    body = {"runner": "pytest", "verbose": True, "timeoutSeconds": 30, "files": files}
    r = await http.post("/api/v1/code/test/run", json=body, headers=headers)
    assert r.status_code == 200, r.text
    final = json.loads(r.text.strip().splitlines()[-1])["final"]
    assert final["success"] and final["summary"]["passed"] == 1
