"""JSON Schemas (OpenAPI 3.1) of proto messages as Envoy's transcoder prints and parses them
(proto3 JSON mapping): lowerCamelCase names, int64 as strings, enums by name, well-known
types in their JSON forms; comments become descriptions and google.api.field_behavior
becomes required / readOnly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

F = descriptor_pb2.FieldDescriptorProto
Schema = dict[str, Any]

_SCALARS: dict[int, Schema] = {
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    F.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    # 64-bit integers are JSON strings (a double cannot hold them exactly).
    F.TYPE_INT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]+$"},
    F.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]+$"},
    F.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]+$"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]+$"},
    F.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]+$"},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
}

_WRAPPERS = {
    "DoubleValue": F.TYPE_DOUBLE,
    "FloatValue": F.TYPE_FLOAT,
    "Int64Value": F.TYPE_INT64,
    "UInt64Value": F.TYPE_UINT64,
    "Int32Value": F.TYPE_INT32,
    "UInt32Value": F.TYPE_UINT32,
    "BoolValue": F.TYPE_BOOL,
    "StringValue": F.TYPE_STRING,
    "BytesValue": F.TYPE_BYTES,
}
_WELL_KNOWN: dict[str, Schema] = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    ".google.protobuf.FieldMask": {"type": "string"},
    ".google.protobuf.Empty": {"type": "object"},
    ".google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array", "items": {}},
    ".google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    **{f".google.protobuf.{name}": _SCALARS[kind] for name, kind in _WRAPPERS.items()},
}

# SourceCodeInfo path tags (descriptor.proto field numbers).
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM, _VALUE, _METHOD = 2, 3, 4, 2, 2


def clean_comment(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines()).strip()


@dataclass
class Catalog:
    """Every message, enum and comment of a descriptor set, by full name (".pkg.Name")."""

    messages: dict[str, descriptor_pb2.DescriptorProto] = field(default_factory=dict)
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    """Full name of a message, field ("Msg.field"), enum, value, service or method -> comment."""

    @classmethod
    def of(cls, fds: descriptor_pb2.FileDescriptorSet) -> Catalog:
        catalog = cls()
        for file in fds.file:
            by_path = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
            prefix = f".{file.package}" if file.package else ""
            for i, message in enumerate(file.message_type):
                catalog._add_message(message, f"{prefix}.{message.name}", (_MESSAGE, i), by_path)
            for i, enum in enumerate(file.enum_type):
                catalog._add_enum(enum, f"{prefix}.{enum.name}", (_ENUM, i), by_path)
            for i, service in enumerate(file.service):
                name = f"{prefix}.{service.name}"
                catalog.comments[name] = by_path.get((_SERVICE, i), "")
                for j, method in enumerate(service.method):
                    catalog.comments[f"{name}.{method.name}"] = by_path.get((_SERVICE, i, _METHOD, j), "")
        return catalog

    def _add_message(self, message: Any, name: str, path: tuple[int, ...], by_path: dict) -> None:
        self.messages[name] = message
        self.comments[name] = by_path.get(path, "")
        for j, item in enumerate(message.field):
            self.comments[f"{name}.{item.name}"] = by_path.get((*path, _FIELD, j), "")
        for j, nested in enumerate(message.nested_type):
            self._add_message(nested, f"{name}.{nested.name}", (*path, _NESTED, j), by_path)
        for j, enum in enumerate(message.enum_type):
            self._add_enum(enum, f"{name}.{enum.name}", (*path, _NESTED_ENUM, j), by_path)

    def _add_enum(self, enum: Any, name: str, path: tuple[int, ...], by_path: dict) -> None:
        self.enums[name] = enum
        self.comments[name] = by_path.get(path, "")
        for j, value in enumerate(enum.value):
            self.comments[f"{name}.{value.name}"] = by_path.get((*path, _VALUE, j), "")


def _behaviors(item: descriptor_pb2.FieldDescriptorProto) -> set[str]:
    options = descriptor_pb2.FieldOptions()
    options.ParseFromString(item.options.SerializeToString())
    values = options.Extensions[field_behavior_pb2.field_behavior]
    return {field_behavior_pb2.FieldBehavior.Name(v) for v in values}


def component_name(full_name: str) -> str:
    return full_name.lstrip(".")


class SchemaBuilder:
    """Builds components.schemas on demand: only the types reachable from an operation."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.components: dict[str, Schema] = {}

    def ref(self, type_name: str) -> Schema:
        if type_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[type_name])
        name = component_name(type_name)
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursive messages
            if type_name in self.catalog.enums:
                self.components[name] = self._enum(type_name)
            else:
                self.components[name] = self.message(type_name)
        return {"$ref": f"#/components/schemas/{name}"}

    def _enum(self, type_name: str) -> Schema:
        enum = self.catalog.enums[type_name]
        values = "\n".join(
            f"- `{v.name}`: {clean_comment(self.catalog.comments.get(f'{type_name}.{v.name}', ''))}"
            for v in enum.value
        )
        description = clean_comment(self.catalog.comments.get(type_name, ""))
        return {
            "type": "string",
            "enum": [v.name for v in enum.value],
            "description": f"{description}\n\n{values}".strip(),
        }

    def fields(self, type_name: str) -> Iterator[tuple[descriptor_pb2.FieldDescriptorProto, Schema]]:
        for item in self.catalog.messages[type_name].field:
            yield item, self.field_schema(type_name, item)

    def message(self, type_name: str, *, without: frozenset[str] = frozenset()) -> Schema:
        """The object schema of a message, leaving out the fields named in `without`."""
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for item, schema in self.fields(type_name):
            if item.name in without:
                continue
            properties[item.json_name] = schema
            if "REQUIRED" in _behaviors(item):
                required.append(item.json_name)
        out: Schema = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        description = clean_comment(self.catalog.comments.get(type_name, ""))
        if description:
            out["description"] = description
        return out

    def field_schema(self, owner: str, item: descriptor_pb2.FieldDescriptorProto) -> Schema:
        schema = self._value(item)
        map_entry = self._map_entry(item)
        if map_entry is not None:
            schema = {"type": "object", "additionalProperties": self._value(map_entry.field[1])}
        elif item.label == F.LABEL_REPEATED:
            schema = {"type": "array", "items": schema}
        behaviors = _behaviors(item)
        description = clean_comment(self.catalog.comments.get(f"{owner}.{item.name}", ""))
        extra: Schema = {}
        if description:
            extra["description"] = description
        if "OUTPUT_ONLY" in behaviors:
            extra["readOnly"] = True
        if "INPUT_ONLY" in behaviors:
            extra["writeOnly"] = True
        if not extra:
            return schema
        # A $ref cannot carry siblings in every tool: wrap it.
        return {"allOf": [schema], **extra} if "$ref" in schema else {**schema, **extra}

    def _map_entry(self, item: descriptor_pb2.FieldDescriptorProto) -> Any:
        if item.type != F.TYPE_MESSAGE or item.label != F.LABEL_REPEATED:
            return None
        entry = self.catalog.messages.get(item.type_name)
        return entry if entry is not None and entry.options.map_entry else None

    def _value(self, item: descriptor_pb2.FieldDescriptorProto) -> Schema:
        if item.type in (F.TYPE_MESSAGE, F.TYPE_ENUM, F.TYPE_GROUP):
            return self.ref(item.type_name)
        return dict(_SCALARS[item.type])
