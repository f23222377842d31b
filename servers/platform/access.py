"""Per-RPC access rules and request sizes, read from the `aether.common.v1.access`
and `max_request_bytes` method options in the protos — the same options the Envoy
generator reads, so there is one list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from aether.common.v1 import access_pb2
from google.protobuf import descriptor_pool


@dataclass(frozen=True)
class AccessRule:
    public: bool
    permissions: frozenset[str]


# Infrastructure services (health, reflection) are public; everything else must
# declare its rule in the proto.
PUBLIC = AccessRule(public=True, permissions=frozenset())
_PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class MissingAccessRule(RuntimeError):
    """An Aether RPC without an access option: a bug in the proto, caught at startup."""


@cache
def access_rule(full_method: str) -> AccessRule:
    """Rule for "/pkg.Service/Method". Raises MissingAccessRule for an Aether
    RPC that does not declare one (fail closed)."""
    if full_method.startswith(_PUBLIC_PREFIXES):
        return PUBLIC
    service, _, method = full_method.lstrip("/").rpartition("/")
    descriptor = descriptor_pool.Default().FindMethodByName(f"{service}.{method}")
    options = descriptor.GetOptions()
    extension = cast(Any, access_pb2.access)  # the .pyi types extensions loosely
    if not options.HasExtension(extension):
        raise MissingAccessRule(f"{full_method} has no (aether.common.v1.access) option")
    rule = options.Extensions[extension]
    return AccessRule(public=rule.public, permissions=frozenset(rule.permissions))


def method_max_request_bytes(full_method: str, default: int) -> int:
    """The size limit of one RPC ("/pkg.Service/Method"): its declared
    `(aether.common.v1.max_request_bytes)`, else ``default``."""
    service, _, name = full_method.lstrip("/").rpartition("/")
    extension = cast(Any, access_pb2.max_request_bytes)
    try:
        options = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name).GetOptions()
    except KeyError:
        return default
    return int(options.Extensions[extension]) if options.HasExtension(extension) else default


def max_request_bytes(service_names: Iterable[str], default: int) -> int:
    """The receive limit a server of ``service_names`` needs: ``default``, or the largest
    `(aether.common.v1.max_request_bytes)` one of their RPCs declares, if larger.

    gRPC sets one limit per server, not per method; the edge holds each RPC to its own."""
    pool = descriptor_pool.Default()
    extension = cast(Any, access_pb2.max_request_bytes)
    declared = [
        int(method.GetOptions().Extensions[extension])
        for name in service_names
        for method in pool.FindServiceByName(name).methods
        if method.GetOptions().HasExtension(extension)
    ]
    return max([default, *declared])


def check_service_rules(service_full_name: str) -> None:
    """Fail fast at startup if any RPC of a service lacks an access rule."""
    service = descriptor_pool.Default().FindServiceByName(service_full_name)
    for method in service.methods:
        access_rule(f"/{service.full_name}/{method.name}")
