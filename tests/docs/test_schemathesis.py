"""schemathesis against the generated OpenAPI, through Envoy, authenticated as a user: every
operation of every served service with a bounded number of generated requests. No response
may be a 5xx, and every response must conform to the document (the error bodies included).

The shared in-process servers answer Envoy's health checks from the test's event loop; on a
loaded machine a check can time out and Envoy then answers "no healthy upstream" (503) for a
moment without reaching any server. Such a request is sent again once /readyz is 200: only
the servers' own answers are judged.

The fuzzer runs in its own interpreter: CPython 3.11.7 keeps one AST-constructor recursion
counter per interpreter, and hypothesis (describing its lambdas) and the Code Assistant
(parsing the fuzzed code) calling ast.parse from two threads corrupt it, a SystemError on
either side (python/cpython#106905, fixed in 3.11.8)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from servers.devtools.codegen import OPENAPI

# Logout would revoke the one token every other request carries (tested in tests/api).
EXCLUDED = {"AuthService_Logout"}
EXAMPLES_PER_OPERATION = 5


def _edge_unready(response: Any) -> bool:
    return response.status_code == 503 and "no healthy upstream" in response.text


def _wait_ready(edge: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{edge}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def _headers(case: Any, headers: dict[str, str]) -> dict[str, str]:
    """A server stream is asked for as SSE: each event is then checked against the message
    schema. Its NDJSON default is a JSON document a line, which a JSON check cannot read whole
    (its framing is tested in tests/edge/test_streams.py)."""
    ok = case.operation.definition.raw["responses"].get("200", {}).get("content", {})
    return headers | ({"Accept": "text/event-stream"} if "text/event-stream" in ok else {})


def _fuzz(edge: str, token: str, services: list[str]) -> list[str]:
    schema = schemathesis.openapi.from_path(OPENAPI)
    served = {name.rsplit(".", 1)[1] for name in services}
    headers = {"Authorization": f"Bearer {token}"}
    tested: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw["operationId"] in EXCLUDED or not served & set(operation.tags or ()):
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            for _ in range(5):
                response = case.call(base_url=edge, headers=_headers(case, headers), timeout=20)
                if not _edge_unready(response):
                    break
                _wait_ready(edge)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        check()
        tested.append(operation.label)
    return tested


async def test_zero_server_errors_and_every_response_conforms(
    edge: str, app_server: tuple[str, list[str]], forge_token
) -> None:
    token = await forge_token("00000000-0000-4000-8000-00000000a11c")
    fuzzer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        edge,
        token,
        *app_server[1],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await fuzzer.communicate()
    report = output.decode(errors="replace")
    assert fuzzer.returncode == 0, report[-20_000:]
    tested = json.loads(report.strip().splitlines()[-1])
    assert len(tested) >= 20, tested


if __name__ == "__main__":
    print(json.dumps(_fuzz(sys.argv[1], sys.argv[2], sys.argv[3:])))
