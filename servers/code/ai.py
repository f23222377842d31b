"""The Code Assistant's calls to the AI Gateway, through the platform client
(the caller's identity, request id, trace and a deadline travel with each call),
and the prompts and answer parsing of each use. The gateway's errors become
domain errors here; the use cases decide what a missing model means."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from aether.ai.v1 import ai_service_pb2, ai_service_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from servers.code.domain import SEVERITIES, Finding
from servers.platform.errors import (
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    RateLimited,
    Unavailable,
)

# The AI Gateway's ChatRequest.message limit.
MAX_PROMPT_CHARS = 100_000
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

REVIEW_PROMPT = """You review {language} code. Answer with JSON only, no prose:
{{"issues": [{{"line": <int>, "severity": "info|warning|error|critical", "message": "...",
"rule": "<short-kebab-id>", "suggestion": "...", "security": <bool>}}],
"suggestions": ["<general advice not tied to a line>"]}}
Skip what these analyzers already found: {known}
Reviewer context: {context}
Code:
{code}"""

REFACTOR_PROMPT = """Refactor this {language} code: {instruction}
Answer with JSON only: {{"refactoredCode": "<the whole new code>", "changes": ["..."], "explanation": "..."}}
Code:
{code}"""

TESTS_PROMPT = """Write {framework} unit tests for this {language} module, which is saved as `{module}.py`
(import it as `{module}`). Answer with JSON only:
{{"tests": "<the whole test file>", "coverageEstimate": <0-100>}}
Code:
{code}"""


@dataclass(frozen=True)
class Answer:
    data: dict[str, Any]
    model: str


class AiGateway:
    """aether.ai.v1.AiService.Chat as the caller (implements usecases.Assistant)."""

    def __init__(self, stub: Callable[[], ai_service_pb2_grpc.AiServiceStub], model: str, timeout: float):
        self._stub = stub  # per call: the gateway's address is known once the server listens
        self._model = model
        self._timeout = timeout

    async def ask_json(self, prompt: str) -> Answer:
        """The model's JSON answer to `prompt` (Unavailable if it is not JSON)."""
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidArgument(
                "the code is too long for the AI model",
                [
                    FieldViolation(
                        "code", f"must be under about {MAX_PROMPT_CHARS - 2000} characters for the AI"
                    )
                ],
            )
        request = ai_service_pb2.ChatRequest(
            model=self._model, message=prompt, options=ai_service_pb2.ChatOptions(temperature=0)
        )
        try:
            reply = await self._stub().Chat(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _domain_error(exc) from None
        return Answer(parse_json(reply.response), reply.model)


def _domain_error(exc: grpc.aio.AioRpcError) -> Exception:
    detail = exc.details() or "the AI Gateway failed"
    match exc.code():
        case grpc.StatusCode.FAILED_PRECONDITION:
            return FailedPrecondition(f"AI: {detail}", reason=_reason(exc))
        case grpc.StatusCode.RESOURCE_EXHAUSTED:
            return RateLimited(f"AI: {detail}", retry_after_seconds=1.0)
        case _:
            return Unavailable(f"AI Gateway: {detail}", retry_after_seconds=1.0)


def _reason(exc: grpc.aio.AioRpcError) -> ErrorReason:
    status = rpc_status.from_call(exc)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.reason in ErrorReason.__members__:
            return ErrorReason(info.reason)
    return ErrorReason.FAILED_PRECONDITION


def parse_json(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (bare, or in a ``` fence)."""
    for candidate in (text, *_FENCE.findall(text)):
        try:
            value = json.loads(candidate.strip())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise Unavailable("the AI model's answer was not the JSON asked for; retry", retry_after_seconds=1.0)


def ai_findings(data: dict[str, Any]) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """The findings and suggestions of a review answer; malformed entries are skipped."""
    findings = []
    for item in data.get("issues") or []:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            continue
        severity = item.get("severity") if item.get("severity") in SEVERITIES else "info"
        line = item.get("line")
        findings.append(
            Finding(
                severity=str(severity),
                line=line if isinstance(line, int) and line >= 0 else 0,
                column=0,
                message=item["message"][:1000],
                rule="ai/" + str(item.get("rule") or "suggestion")[:64],
                suggestion=str(item.get("suggestion") or "")[:4000],
                source="ai",
                security=item.get("security") is True,
            )
        )
    suggestions = tuple(str(s)[:2000] for s in data.get("suggestions") or [] if isinstance(s, str))
    return tuple(findings), suggestions
