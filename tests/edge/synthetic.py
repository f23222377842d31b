"""A synthetic proto file added to the real descriptor set, to exercise route
derivation on shapes the current protos may not have yet: path variables,
literal-vs-variable ordering, custom verbs, `**`, server streaming, a missing
access option, a larger request size limit, and a service that is not routed."""

from __future__ import annotations

from pathlib import Path

from aether.common.v1 import access_pb2
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from servers.edge.descriptors import load_descriptor_set

PACKAGE = "aether.edgetest.v1"
ROUTED = f"{PACKAGE}.EdgeTestService"
UNROUTED = f"{PACKAGE}.UnroutedService"
UPLOAD_LIMIT = 2 * 1024 * 1024
"""UploadThing's (aether.common.v1.max_request_bytes): twice the default request size."""


def _method(
    name: str,
    rule: http_pb2.HttpRule,
    *,
    public: bool | None = False,
    permissions: tuple[str, ...] = (),
    rate_limit: tuple[int, int] | None = None,
    server_streaming: bool = False,
    max_request_bytes: int | None = None,
) -> descriptor_pb2.MethodDescriptorProto:
    method = descriptor_pb2.MethodDescriptorProto(
        name=name,
        input_type=f".{PACKAGE}.Thing",
        output_type=f".{PACKAGE}.Thing",
        server_streaming=server_streaming,
    )
    method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    if public is not None:
        access = method.options.Extensions[access_pb2.access]
        access.public = public
        access.permissions.extend(permissions)
    if rate_limit is not None:
        limit = method.options.Extensions[access_pb2.rate_limit]
        limit.requests, limit.per_seconds = rate_limit
    if max_request_bytes is not None:
        method.options.Extensions[access_pb2.max_request_bytes] = max_request_bytes
    return method


def synthetic_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="aether/edgetest/v1/edgetest.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=["aether/common/v1/access.proto", "google/api/annotations.proto"],
    )
    thing = file.message_type.add(name="Thing")
    for number, field_name in enumerate(("id", "name", "display_name"), start=1):
        thing.field.add(
            name=field_name,
            number=number,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    routed = file.service.add(name="EdgeTestService")
    routed.method.extend(
        [
            _method(
                "GetThing", http_pb2.HttpRule(get="/api/v1/edgetest/things/{id}"), permissions=("x:read",)
            ),
            _method("GetStats", http_pb2.HttpRule(get="/api/v1/edgetest/things/stats"), public=True),
            _method(
                "CancelThing",
                http_pb2.HttpRule(post="/api/v1/edgetest/things/{id}:cancel", body="*"),
                rate_limit=(5, 10),
            ),
            _method(
                "WatchThings",
                http_pb2.HttpRule(
                    get="/api/v1/edgetest/things:watch",
                    additional_bindings=[http_pb2.HttpRule(get="/api/v1/edgetest/watch")],
                ),
                server_streaming=True,
            ),
            _method("GetFile", http_pb2.HttpRule(get="/api/v1/edgetest/{name=files/**}")),
            _method(
                "Rename",
                http_pb2.HttpRule(
                    custom=http_pb2.CustomHttpPattern(kind="PATCH", path="/api/v1/edgetest/things/{id}")
                ),
            ),
            _method(
                "UploadThing",
                http_pb2.HttpRule(post="/api/v1/edgetest/uploads", body="*"),
                public=True,
                max_request_bytes=UPLOAD_LIMIT,
            ),
            # No access option at all: must be treated as protected (fail closed).
            _method("Forgotten", http_pb2.HttpRule(get="/api/v1/edgetest/forgotten"), public=None),
        ]
    )
    unrouted = file.service.add(name="UnroutedService")
    unrouted.method.append(_method("Ping", http_pb2.HttpRule(get="/api/v1/unrouted/ping"), public=True))
    return file


def thing_class(descriptor: Path) -> type[message.Message]:
    """The synthetic Thing message (it has no generated code), from a descriptor set holding it."""
    pool = descriptor_pool.DescriptorPool()
    for file in load_descriptor_set(descriptor).file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Thing"))


def write_augmented_descriptor(base: Path, out: Path) -> Path:
    """The real descriptor set plus the synthetic file."""
    fds = load_descriptor_set(base)
    fds.file.append(synthetic_file())
    out.write_bytes(fds.SerializeToString())
    return out
