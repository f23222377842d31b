"""Read services, RPCs and their edge options from a FileDescriptorSet (buf image).

The options read per RPC are `google.api.http` (REST bindings),
`aether.common.v1.access` (public or not), `aether.common.v1.rate_limit` and
`aether.common.v1.max_request_bytes`.
They are re-parsed from the serialized MethodOptions, so this works for any
descriptor set, whatever was compiled into the generated Python modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether.common.v1 import access_pb2
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from servers.edge.http_template import PathTemplate, parse_template

_HTTP_KINDS = ("get", "put", "post", "delete", "patch")

# The generated .pyi types these as plain FieldDescriptors, which mypy rejects as
# Extensions[] keys; they are extension descriptors at run time.
_ACCESS: Any = access_pb2.access
_RATE_LIMIT: Any = access_pb2.rate_limit
_MAX_REQUEST_BYTES: Any = access_pb2.max_request_bytes
_HTTP: Any = annotations_pb2.http


@dataclass(frozen=True)
class HttpBinding:
    """One REST binding of an RPC (the main google.api.http rule or an additional binding)."""

    method: str
    """HTTP method, upper case."""
    path: PathTemplate
    body: str


@dataclass(frozen=True)
class Rpc:
    """An RPC and the options the edge acts on."""

    service: str
    """Full proto service name, e.g. "aether.auth.v1.AuthService"."""
    name: str
    """Method name, e.g. "Login"."""
    public: bool
    """access.public: no JWT required. An RPC without the access option is NOT public."""
    permissions: tuple[str, ...]
    rate_limit: tuple[int, int] | None
    """(requests, per_seconds) from the rate_limit option, or None."""
    server_rate_limit_headers: bool
    """rate_limit.server_headers: the server sends X-RateLimit-*, the edge must not."""
    client_streaming: bool
    server_streaming: bool
    bindings: tuple[HttpBinding, ...]
    max_request_bytes: int | None = None
    """The max_request_bytes option (largest request body / message), or None for the default."""

    @property
    def grpc_path(self) -> str:
        """The native gRPC :path, "/pkg.Service/Method"."""
        return f"/{self.service}/{self.name}"

    @property
    def full_name(self) -> str:
        return f"{self.service}.{self.name}"


def load_descriptor_set(path: Path | str) -> descriptor_pb2.FileDescriptorSet:
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(Path(path).read_bytes())
    return fds


def _options(method: descriptor_pb2.MethodDescriptorProto) -> descriptor_pb2.MethodOptions:
    # Re-parse so that the extensions are decoded with the registered extension
    # descriptors (access_pb2 / annotations_pb2 are imported above).
    options = descriptor_pb2.MethodOptions()
    options.ParseFromString(method.options.SerializeToString())
    return options


def _bindings(rule: http_pb2.HttpRule, rpc: str) -> Iterator[HttpBinding]:
    pattern = rule.WhichOneof("pattern")
    if pattern is not None:
        if pattern == "custom":
            method, template = rule.custom.kind.upper(), rule.custom.path
        elif pattern in _HTTP_KINDS:
            method, template = pattern.upper(), getattr(rule, pattern)
        else:  # pragma: no cover - future HttpRule pattern kinds
            raise ValueError(f"{rpc}: unsupported google.api.http pattern {pattern!r}")
        try:
            yield HttpBinding(method=method, path=parse_template(template), body=rule.body)
        except ValueError as exc:
            raise ValueError(f"{rpc}: {exc}") from exc
    for extra in rule.additional_bindings:
        yield from _bindings(extra, rpc)


def _services(
    fds: descriptor_pb2.FileDescriptorSet,
) -> Iterator[tuple[str, descriptor_pb2.ServiceDescriptorProto]]:
    for file in fds.file:
        prefix = f"{file.package}." if file.package else ""
        for service in file.service:
            yield prefix + service.name, service


def service_names(fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    """Every service in the set, by full name."""
    return [name for name, _ in _services(fds)]


def rpcs(fds: descriptor_pb2.FileDescriptorSet, services: Iterable[str] | None = None) -> list[Rpc]:
    """The RPCs of `services` (all services when None), in descriptor order.

    Raises ValueError if a requested service is not in the descriptor set.
    """
    wanted = None if services is None else set(services)
    found: set[str] = set()
    out: list[Rpc] = []
    for full_name, service in _services(fds):
        if wanted is not None and full_name not in wanted:
            continue
        found.add(full_name)
        for method in service.method:
            options = _options(method)
            name = f"{full_name}.{method.name}"
            access = options.Extensions[_ACCESS]
            rate_limit = None
            server_headers = False
            if options.HasExtension(_RATE_LIMIT):
                limit = options.Extensions[_RATE_LIMIT]
                if limit.requests <= 0 or limit.per_seconds <= 0:
                    raise ValueError(f"{name}: rate_limit needs requests > 0 and per_seconds > 0")
                rate_limit = (int(limit.requests), int(limit.per_seconds))
                server_headers = limit.server_headers
            max_request_bytes = None
            if options.HasExtension(_MAX_REQUEST_BYTES):
                max_request_bytes = int(options.Extensions[_MAX_REQUEST_BYTES])
                if max_request_bytes <= 0:
                    raise ValueError(f"{name}: max_request_bytes must be positive")
            bindings: tuple[HttpBinding, ...] = ()
            if options.HasExtension(_HTTP):
                bindings = tuple(_bindings(options.Extensions[_HTTP], name))
            out.append(
                Rpc(
                    service=full_name,
                    name=method.name,
                    public=bool(options.HasExtension(_ACCESS) and access.public),
                    permissions=tuple(access.permissions),
                    rate_limit=rate_limit,
                    server_rate_limit_headers=server_headers,
                    client_streaming=method.client_streaming,
                    server_streaming=method.server_streaming,
                    bindings=bindings,
                    max_request_bytes=max_request_bytes,
                )
            )
    if wanted is not None and wanted - found:
        raise ValueError(f"services not in the descriptor set: {sorted(wanted - found)}")
    return out
