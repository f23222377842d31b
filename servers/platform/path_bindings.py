"""REST path variables cannot be overridden: `DELETE /api/v1/tasks/X?id=Y` or a PUT to
`/tasks/X` with `"id": "Y"` in its body is refused (400, a field violation), for every RPC with a
variable in a google.api.http path, at once.

The transcoder fills one request message from the path, the query string and the body, the later
winning, so the server cannot tell which one an `id` came from. It does forward the path the
client called (`x-envoy-original-path`): the server matches it against the RPC's bindings and
checks that every path variable still holds what the path said.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, cast
from urllib.parse import unquote

import grpc
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from servers.platform.errors import FieldViolation, InvalidArgument

ORIGINAL_PATH_HEADER = "x-envoy-original-path"
_HTTP_KINDS = ("get", "put", "post", "delete", "patch")


def _segments_regex(text: str, fields: list[str]) -> str:
    out = []
    for segment in text.split("/"):
        if segment == "*":
            out.append("[^/]+")
        elif segment == "**":
            out.append(".*")
        elif segment.startswith("{") and segment.endswith("}"):
            field, _, sub = segment[1:-1].partition("=")
            fields.append(field)
            out.append(f"(?P<v{len(fields) - 1}>{_segments_regex(sub, []) if sub else '[^/]+'})")
        else:
            out.append(re.escape(segment))
    return "/".join(out)


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A path template -> (full-match regex with a group per variable, the variables' field paths)."""
    path, _, verb = template.partition(":")
    fields: list[str] = []
    regex = _segments_regex(path, fields) + (re.escape(":" + verb) if verb else "")
    return re.compile(regex), tuple(fields)


def _rules(rule: http_pb2.HttpRule) -> list[str]:
    pattern = rule.WhichOneof("pattern")
    templates = []
    if pattern == "custom":
        templates.append(rule.custom.path)
    elif pattern in _HTTP_KINDS:
        templates.append(getattr(rule, pattern))
    for extra in rule.additional_bindings:
        templates += _rules(extra)
    return templates


@cache
def path_bindings(full_method: str) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """The REST bindings with path variables of "/pkg.Service/Method"."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    try:
        options = descriptor_pool.Default().FindMethodByName(f"{service}.{method}").GetOptions()
    except KeyError:
        return ()
    extension = cast(Any, annotations_pb2.http)  # the .pyi types extensions loosely
    if not options.HasExtension(extension):
        return ()
    compiled = (_compile(t) for t in _rules(options.Extensions[extension]) if "{" in t)
    return tuple(binding for binding in compiled if binding[1])


def _field(message: Message, path: str) -> Any:
    value: Any = message
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _json_name(path: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), path)


def path_violations(full_method: str, original_path: str, request: Message) -> list[FieldViolation]:
    """What in `request` contradicts the variables of the path the client called."""
    path = original_path.split("?", 1)[0]
    for pattern, fields in path_bindings(full_method):
        match = pattern.fullmatch(path)
        if match is None:
            continue
        return [
            FieldViolation(
                _json_name(field),
                f"the path names {unquote(said)!r}; the query string or body must not name another",
            )
            for index, field in enumerate(fields)
            if str(_field(request, field)) != unquote(said := match.group(f"v{index}"))
        ]
    return []


def check_path_bindings(method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
    """The path-binding step: refuses a transcoded request whose path variables were
    overridden by its query string or body (INVALID_ARGUMENT)."""
    if isinstance(request, Message):
        original = next(
            (v for k, v in context.invocation_metadata() or () if k == ORIGINAL_PATH_HEADER), None
        )
        if original:
            violations = path_violations(method, str(original), request)
            if violations:
                raise InvalidArgument("a path variable was given another value", violations)
