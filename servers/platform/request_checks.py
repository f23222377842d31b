"""The validation step (`RequestValidator`): the `buf.validate` rules declared in
the protos, and checks every request message gets before its handler, whatever
its type, by walking the message (nested, repeated and map fields included) once:

- no string holds U+0000: PostgreSQL `text` cannot store it, so it would fail
  deep in a write as an internal error; it is refused up front instead;
- JSON values (google.protobuf.Struct / ListValue, e.g. analytics `metadata`)
  nest at most MAX_JSON_DEPTH levels.

A message too deeply nested for the protobuf decoder itself never reaches a
handler: `decode_leniently` turns the decoder's failure into UNDECODABLE, which
`request_violations` reports like any other violation (a 400, never library text).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import grpc
import protovalidate
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from servers.platform.errors import FieldViolation, InvalidArgument

# Levels of JSON objects/arrays a request may nest (docs/security.md).
MAX_JSON_DEPTH = 16
_JSON_TYPES = frozenset({"google.protobuf.Struct", "google.protobuf.ListValue", "google.protobuf.Value"})
NUL_MESSAGE = "must not contain the NUL character (U+0000)"
DEPTH_MESSAGE = f"nests JSON deeper than {MAX_JSON_DEPTH} levels"


class Undecodable:
    """Stands for a request the protobuf decoder refused (too deep or malformed)."""


UNDECODABLE = Undecodable()


def decode_leniently(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The handler with a request decoder that yields UNDECODABLE instead of
    raising (a raising decoder makes grpc answer UNKNOWN with the library's text)."""
    decode = handler.request_deserializer
    if decode is None or handler.request_streaming:
        return handler

    def lenient(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError:
            return UNDECODABLE

    return handler._replace(request_deserializer=lenient)


def request_violations(request: Any) -> list[FieldViolation]:
    """The NUL and depth violations of a request, with lowerCamelCase JSON paths."""
    if isinstance(request, Undecodable):
        return [FieldViolation("", f"request is malformed or {DEPTH_MESSAGE}")]
    violations: list[FieldViolation] = []
    if isinstance(request, Message) and _may_need_checks(request.DESCRIPTOR):
        _walk(request, "", violations)
    return violations


@cache
def _may_need_checks(descriptor: Descriptor) -> bool:
    """Whether a message type can hold a string or JSON value anywhere (most
    requests can; a request of ids and numbers only skips the walk)."""
    seen: set[str] = set()

    def visit(d: Descriptor) -> bool:
        if d.full_name in seen:
            return False
        seen.add(d.full_name)
        if d.full_name in _JSON_TYPES:
            return True
        for f in d.fields:
            if f.type == FieldDescriptor.TYPE_STRING:
                return True
            if f.message_type is not None and visit(f.message_type):
                return True
        return False

    return visit(descriptor)


def _walk(message: Message, path: str, out: list[FieldViolation]) -> None:
    if message.DESCRIPTOR.full_name in _JSON_TYPES:
        _walk_json(message, path, path, 0, out)
        return
    for field, value in message.ListFields():
        name = f"{path}.{field.json_name}" if path else field.json_name
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    out.append(FieldViolation(name, "keys " + NUL_MESSAGE))
                _check(value_field, item, _subscript(name, key), out)
        elif field.is_repeated:
            for index, item in enumerate(value):
                _check(field, item, f"{name}[{index}]", out)
        else:
            _check(field, value, name, out)


def _check(field: FieldDescriptor, value: Any, path: str, out: list[FieldViolation]) -> None:
    if field.type == FieldDescriptor.TYPE_STRING:
        if "\x00" in value:
            out.append(FieldViolation(path, NUL_MESSAGE))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        _walk(value, path, out)


def _walk_json(message: Any, path: str, root: str, depth: int, out: list[FieldViolation]) -> None:
    """A Struct, ListValue or Value, with JSON paths ("metadata.outer.inner[1]");
    a too-deep value is reported on the field that holds the JSON (`root`)."""
    kind = message.DESCRIPTOR.full_name
    if kind == "google.protobuf.Value":
        which = message.WhichOneof("kind")
        if which == "string_value" and "\x00" in message.string_value:
            out.append(FieldViolation(path, NUL_MESSAGE))
        elif which in ("struct_value", "list_value"):
            _walk_json(getattr(message, which), path, root, depth, out)
        return
    if depth + 1 > MAX_JSON_DEPTH:
        out.append(FieldViolation(root, DEPTH_MESSAGE))
        return
    if kind == "google.protobuf.Struct":
        for key, value in message.fields.items():
            if "\x00" in key:
                out.append(FieldViolation(path, "keys " + NUL_MESSAGE))
            _walk_json(value, f"{path}.{key}" if _is_plain(key) else path, root, depth + 1, out)
    else:
        for index, value in enumerate(message.values):
            _walk_json(value, f"{path}[{index}]", root, depth + 1, out)


def _subscript(name: str, key: object) -> str:
    return f"{name}[{key}]" if _is_plain(key) else name


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _is_plain(key: object) -> bool:
    """Map keys are named in a path only when they are short and printable (a
    client's odd key is not echoed back)."""
    return isinstance(key, int | bool) or (isinstance(key, str) and bool(_PLAIN_KEY.match(key)))


def _field_path(violation: Any) -> str:
    """JSON-style path of a violation ("context[0].role"), lowerCamelCase like the REST contract."""
    parts: list[str] = []
    if violation.proto.field is None:  # a message-level (CEL) rule names no field
        return ""
    for element in violation.proto.field.elements:
        name = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), element.field_name)
        parts.append(name)
        if element.subscript is not None:  # a repeated index or map key
            parts[-1] += f"[{element.subscript.value}]"
    return ".".join(parts)


class RequestValidator:
    """The validation step: the `buf.validate` rules declared in the protos."""

    def __init__(self) -> None:
        self._validator = protovalidate.Validator()

    def validate(self, request: Any) -> None:
        unsafe = request_violations(request)  # NUL characters, JSON depth: every message alike
        if unsafe:
            raise InvalidArgument(
                f"invalid request: {unsafe[0].field or 'body'}: {unsafe[0].description}", unsafe
            )
        if isinstance(request, Message):
            violations = self._validator.collect_violations(request)
            if violations:
                details = [FieldViolation(_field_path(v), v.proto.message) for v in violations]
                summary = "; ".join(f"{d.field}: {d.description}" for d in details)
                raise InvalidArgument(f"invalid request: {summary}", details)
