"""The implemented domains, by the name used on the command line."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `aether health` and `--help` should not import the whole runtime
    from servers.platform.runtime import Domain

# name -> module exposing DOMAIN. Add a line here when a domain gets a server.
DOMAINS: dict[str, str] = {
    "auth": "servers.auth.main",
    "tasks": "servers.tasks.main",
    "analytics": "servers.analytics.main",
    "ai": "servers.ai.main",
    "code": "servers.code.main",
    "rag": "servers.rag.main",
    "integrations": "servers.integrations.main",
    "containers": "servers.containers.main",
}


def load(name: str) -> Domain:
    if name not in DOMAINS:
        raise SystemExit(f"unknown service {name!r}; choose from: {', '.join(DOMAINS)}")
    domain: Domain = importlib.import_module(DOMAINS[name]).DOMAIN
    return domain
