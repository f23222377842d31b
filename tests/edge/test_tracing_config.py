"""The edge's tracer in the generated bootstrap: only with a collector configured, pointed at it,
and valid for Envoy. tests/api/test_tracing.py shows the trace through a real Envoy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from servers.edge import EdgeSettings, build_bootstrap, write_bootstrap
from servers.edge.tracing import OTLP_CLUSTER
from tests.edge.conftest import DESCRIPTOR
from tests.edge.envoy_runner import validate
from tests.edge.fake_auth import SERVICE as AUTH

COLLECTOR = "http://otel-collector:4318"


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    hcm: dict[str, Any] = config["staticResources"]["listeners"][0]["filterChains"][0]["filters"][0][
        "typedConfig"
    ]
    return hcm


def _clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["staticResources"]["clusters"]}


def test_no_tracer_without_a_collector() -> None:
    config = build_bootstrap(DESCRIPTOR, EdgeSettings(upstreams={AUTH: "127.0.0.1:50051"}))
    assert "tracing" not in _hcm(config) and "requestIdExtension" not in _hcm(config)
    assert OTLP_CLUSTER not in _clusters(config)
    assert "layeredRuntime" not in config


def test_tracer_exports_to_the_collector_over_otlp_http() -> None:
    settings = EdgeSettings(
        upstreams={AUTH: "127.0.0.1:50051"}, otlp_endpoint=COLLECTOR, trace_flush_seconds=1
    )
    config = build_bootstrap(DESCRIPTOR, settings)
    tracing = _hcm(config)["tracing"]
    assert tracing["provider"]["name"] == "envoy.tracers.opentelemetry"
    exporter = tracing["provider"]["typedConfig"]
    assert exporter["serviceName"] == "aether-edge"
    assert exporter["httpService"]["httpUri"]["uri"] == f"{COLLECTOR}/v1/traces"
    assert exporter["httpService"]["httpUri"]["cluster"] == OTLP_CLUSTER
    assert tracing["randomSampling"]["value"] == 100.0
    # A client's x-request-id is not rewritten with the sampling decision.
    assert _hcm(config)["requestIdExtension"]["typedConfig"]["packTraceReason"] is False

    cluster = _clusters(config)[OTLP_CLUSTER]
    assert cluster["type"] == "STRICT_DNS"  # a host name, resolved by Envoy
    address = cluster["loadAssignment"]["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]
    assert address["socketAddress"] == {"address": "otel-collector", "portValue": 4318}
    layers = {layer["name"]: layer for layer in config["layeredRuntime"]["layers"]}
    assert layers["aether_edge_tracing"]["staticLayer"] == {"tracing.opentelemetry.flush_interval_ms": 1000.0}
    assert "adminLayer" in layers["admin"]


def test_traced_bootstrap_passes_envoy_validate(tmp_path: Path) -> None:
    settings = EdgeSettings(upstreams={AUTH: "127.0.0.1:50051"}, otlp_endpoint=COLLECTOR, admin_port=9901)
    result = validate(write_bootstrap(DESCRIPTOR, settings, tmp_path / "envoy.json"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "endpoint",
    [
        "otel-collector:4318",
        "https://otel-collector:4318",
        "http://otel-collector:4318/v1/traces",
        "http://x:0",
    ],
)
def test_bad_collector_urls_are_rejected(endpoint: str) -> None:
    with pytest.raises(ValueError, match="otlp_endpoint"):
        EdgeSettings(upstreams={AUTH: "127.0.0.1:50051"}, otlp_endpoint=endpoint)


def test_cli_takes_the_servers_collector_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from servers.edge.__main__ import main

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    out = tmp_path / "cli.json"
    assert main(["--upstream", f"{AUTH}=127.0.0.1:50051", "--out", str(out)]) == 0
    exporter = _hcm(json.loads(out.read_text()))["tracing"]["provider"]["typedConfig"]
    assert exporter["httpService"]["httpUri"]["uri"] == "http://127.0.0.1:4318/v1/traces"
