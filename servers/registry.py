"""The implemented domains, by the name used on the command line."""

from __future__ import annotations

import importlib

from servers.platform.runtime import Domain

# name -> module exposing DOMAIN. Add a line here when a domain gets a server.
DOMAINS: dict[str, str] = {
    "auth": "servers.auth.main",
    "tasks": "servers.tasks.main",
    "analytics": "servers.analytics.main",
    "ai": "servers.ai.main",
    "containers": "servers.containers.main",
}


def load(name: str) -> Domain:
    if name not in DOMAINS:
        raise SystemExit(f"unknown service {name!r}; choose from: {', '.join(DOMAINS)}")
    domain: Domain = importlib.import_module(DOMAINS[name]).DOMAIN
    return domain
