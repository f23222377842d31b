"""docker-compose.yml stays in step with the registry of implemented servers."""

from __future__ import annotations

from pathlib import Path

import yaml

from servers import registry

COMPOSE = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())


def test_every_implemented_domain_runs_in_compose_and_is_routed_by_envoy() -> None:
    services = COMPOSE["services"]
    envoy_args = services["envoy"]["command"]
    for name in registry.DOMAINS:
        assert services[name]["command"] == ["aether", "serve", name]
        assert any(arg.startswith("--upstream=aether.") and f"={name}:50051" in arg for arg in envoy_args), (
            name
        )


def test_compose_has_the_whole_topology() -> None:
    assert {"postgres", "redis", "rabbitmq", "chromadb", "jaeger", "prometheus", "grafana", "envoy"} <= set(
        COMPOSE["services"]
    )
