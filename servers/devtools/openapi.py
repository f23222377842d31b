"""OpenAPI 3.1 of the REST surface, from the descriptor set (`aether gen` writes
gen/openapi/openapi.json; Envoy serves it at /api/v1/openapi.json).

Each google.api.http binding is an operation: path variables are path parameters, the
body ("*" or one field) the JSON request body, every other scalar field of a GET/DELETE
a query parameter (JSON names, as the transcoder reads them). Server-streaming RPCs answer
with newline-delimited JSON sent as application/json (the transcoder's stream_newline_delimited),
or Server-Sent Events as text/event-stream when asked (servers/edge/routes.py). Every error is a
google.rpc.Status body. RPCs without access.public need a bearer JWT.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import descriptor_pb2

from servers.devtools.openapi_schemas import Catalog, F, Schema, SchemaBuilder, clean_comment
from servers.edge.descriptors import HttpBinding, Rpc, rpcs

_VARIABLE = re.compile(r"\{([A-Za-z_][\w.]*)(=[^}]*)?\}")
_QUERY_MESSAGES = frozenset(
    {".google.protobuf.Timestamp", ".google.protobuf.Duration", ".google.protobuf.FieldMask"}
)
STATUS = "google.rpc.Status"
_HTTP_STATUS = {
    "400": "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE",
    "401": "UNAUTHENTICATED: missing, invalid or expired bearer token",
    "403": "PERMISSION_DENIED",
    "404": "NOT_FOUND",
    "409": "ALREADY_EXISTS or ABORTED",
    "413": "request body over the RPC's limit",
    "429": "RESOURCE_EXHAUSTED (rate limit; RetryInfo in details)",
    "503": "UNAVAILABLE",
}


def build_openapi(descriptor_set: bytes) -> dict[str, Any]:
    """The OpenAPI document of every RPC with a google.api.http binding in the set."""
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(descriptor_set)
    catalog = Catalog.of(fds)
    schemas = SchemaBuilder(catalog)
    request_types = {
        f".{file.package}.{service.name}.{method.name}": (method.input_type, method.output_type)
        for file in fds.file
        for service in file.service
        for method in service.method
    }
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    for rpc in rpcs(fds):
        if not rpc.bindings:
            continue
        input_type, output_type = request_types[f".{rpc.full_name}"]
        tags[rpc.service] = clean_comment(catalog.comments.get(f".{rpc.service}", ""))
        for index, binding in enumerate(rpc.bindings):
            path, variables = _path(binding.path.template)
            operation = _operation(rpc, index, binding, variables, input_type, output_type, catalog, schemas)
            paths.setdefault(path, {})[binding.method.lower()] = operation
    schemas.ref(f".{STATUS}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Aether API",
            "version": "v1",
            "description": (
                "The REST mapping (Envoy gRPC-JSON transcoding) of Aether's gRPC API, generated "
                "from protos/ by `aether gen`. JSON uses lowerCamelCase names; 64-bit integers "
                "are strings; every error body is a google.rpc.Status with typed details."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": name.rsplit(".", 1)[1], "description": text} for name, text in sorted(tags.items())
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}],
    }


def _path(template: str) -> tuple[str, list[str]]:
    """`/api/v1/tasks/{id}` with its variables (field paths); `{name=x/*}` becomes `{name}`."""
    variables = [match.group(1) for match in _VARIABLE.finditer(template)]
    return _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", template), variables


def _operation(
    rpc: Rpc,
    index: int,
    binding: HttpBinding,
    variables: list[str],
    input_type: str,
    output_type: str,
    catalog: Catalog,
    schemas: SchemaBuilder,
) -> dict[str, Any]:
    comment = clean_comment(catalog.comments.get(f".{rpc.full_name}", ""))
    fields = {item.name: (item, schema) for item, schema in schemas.fields(input_type)}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(fields, name)}
        for name in variables
    ]
    top_level_vars = {name.split(".")[0] for name in variables}
    operation: dict[str, Any] = {
        "operationId": f"{rpc.service.rsplit('.', 1)[1]}_{rpc.name}" + (f"_{index}" if index else ""),
        "tags": [rpc.service.rsplit(".", 1)[1]],
        "summary": comment.split("\n", 1)[0] if comment else rpc.name,
        "description": f"{comment}\n\ngRPC: `{rpc.grpc_path}`".strip(),
    }
    if binding.body == "*":
        operation["requestBody"] = _json_body(schemas.message(input_type, without=frozenset(top_level_vars)))
    else:
        if binding.body:
            operation["requestBody"] = _json_body(fields[binding.body][1])
        for name, (item, schema) in fields.items():
            if name in top_level_vars or name == binding.body or not _query_param(item):
                continue
            parameters.append({"name": item.json_name, "in": "query", "required": False, "schema": schema})
            if item.label == F.LABEL_REPEATED:
                parameters[-1].update(style="form", explode=True)
    if parameters:
        operation["parameters"] = parameters
    success = schemas.ref(output_type)
    if rpc.server_streaming:
        operation["responses"] = {"200": _stream_response(success)}
    else:
        operation["responses"] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": success}}}
        }
    status = {"$ref": f"#/components/schemas/{STATUS}"}
    for code, text in _HTTP_STATUS.items():
        operation["responses"][code] = {
            "description": text,
            "content": {"application/json": {"schema": status}},
        }
    operation["responses"]["default"] = {
        "description": "Any other error, as google.rpc.Status",
        "content": {"application/json": {"schema": status}},
    }
    if rpc.public:
        operation["security"] = []
    return operation


STREAM_DESCRIPTION = (
    "A stream, each message sent as the server sends it. By default newline-delimited JSON: one "
    "message per line, sent as `application/json` (Envoy's content type for it, not "
    "`application/x-ndjson`). With `Accept: text/event-stream`, Server-Sent Events: "
    "`data: <message>` and a blank line per message. An error before the first message is a "
    "google.rpc.Status body with its HTTP status; an error after it ends the stream with the "
    "`grpc-status` and `grpc-message` trailers (the 200 is already sent)."
)


def _stream_response(message: Schema) -> dict[str, Any]:
    """A server stream's 200: NDJSON (`application/json`, the schema of one line) or SSE (the
    schema of one event, its `data` one message as JSON)."""
    event = {
        "type": "object",
        "properties": {
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": message}
        },
        "required": ["data"],
    }
    return {
        "description": STREAM_DESCRIPTION,
        "content": {"application/json": {"schema": message}, "text/event-stream": {"schema": event}},
    }


def _json_body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_schema(fields: dict[str, tuple[Any, Schema]], variable: str) -> Schema:
    item = fields.get(variable.split(".")[0])
    if item is None or "." in variable:
        return {"type": "string"}
    schema = {key: value for key, value in item[1].items() if key != "readOnly"}
    return schema if schema.get("type") in {"string", "integer"} else {"type": "string"}


def _query_param(item: descriptor_pb2.FieldDescriptorProto) -> bool:
    if item.type == F.TYPE_MESSAGE:
        return item.type_name in _QUERY_MESSAGES and item.label != F.LABEL_REPEATED
    return item.type != F.TYPE_GROUP
