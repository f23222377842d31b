"""Contract-wide checks on the protos: every RPC declares who may call it and
its REST mapping."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, cast

import aether
from google.api import annotations_pb2
from google.protobuf import descriptor_pool

from servers.platform.access import access_rule


def _services() -> list[Any]:
    for module in pkgutil.walk_packages(aether.__path__, "aether."):
        if module.name.endswith("_pb2"):
            importlib.import_module(module.name)
    pool = descriptor_pool.Default()
    found = []
    for module in pkgutil.walk_packages(aether.__path__, "aether."):
        if module.name.endswith("_service_pb2"):
            file = pool.FindFileByName(module.name.replace(".", "/").removesuffix("_pb2") + ".proto")
            found += list(file.services_by_name.values())
    return found


def test_all_eight_domains_have_a_service() -> None:
    packages = {s.full_name.split(".")[1] for s in _services()}
    assert packages == {"auth", "tasks", "analytics", "ai", "code", "integrations", "rag", "containers"}


def test_every_rpc_has_an_access_rule_and_a_rest_route() -> None:
    http = cast(Any, annotations_pb2.http)
    for service in _services():
        for method in service.methods:
            rule = access_rule(f"/{service.full_name}/{method.name}")  # raises if missing
            assert rule.public or rule.permissions or service.full_name.startswith("aether.auth."), (
                method.full_name
            )
            route = method.GetOptions().Extensions[http]
            path = getattr(route, route.WhichOneof("pattern"))
            assert path.startswith("/api/v1/"), method.full_name


def test_only_the_spec_public_endpoints_are_public() -> None:
    public = {
        f"{s.name}.{m.name}"
        for s in _services()
        for m in s.methods
        if access_rule(f"/{s.full_name}/{m.name}").public
    }
    assert public == {
        "AuthService.Register",
        "AuthService.Login",
        "AuthService.Refresh",
        "AuthService.GetJwks",
        "AnalyticsService.GetHealth",
        "IntegrationService.ReceiveWebhook",
    }
