"""The deployment files stay in step with the registry of implemented servers and say only
true things: docker-compose.yml runs and routes every domain, the Kubernetes manifests are
fresh and valid (strict schema of the Kubernetes version kubernetes-validate ships), and every
environment variable either gives an Aether server is one of its settings."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from servers import registry
from servers.devtools import manifests
from servers.devtools.codegen import DESCRIPTOR
from servers.edge.descriptors import load_descriptor_set, service_names
from servers.platform.settings import EDGE_ENVIRONMENT, PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


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


def _documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifests.OUT.read_text()) if doc]


def test_manifests_are_fresh() -> None:
    rendered = manifests.render(service_names(load_descriptor_set(DESCRIPTOR)))
    assert manifests.OUT.read_text() == rendered, "deploy/k8s/aether.yaml is stale: run `aether gen`"


@pytest.mark.parametrize("document", _documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_every_registered_domain_is_deployed_behind_the_edge() -> None:
    docs = _documents()
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert deployments == {f"aether-{d}" for d in registry.DOMAINS} | {"aether-edge"}
    edge = next(d for d in docs if d["metadata"]["name"] == "aether-edge" and d["kind"] == "Deployment")
    args = edge["spec"]["template"]["spec"]["containers"][0]["args"]
    routed = {arg.split("=", 2)[1] for arg in args if arg.startswith("--upstream=")}
    for domain in registry.DOMAINS:
        assert any(name.startswith(f"aether.{domain}.") for name in routed), domain


def _pod(name: str) -> dict[str, Any]:
    deployment = next(d for d in _documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_only_the_code_pod_may_make_namespaces_and_it_stays_unprivileged() -> None:
    for domain in registry.DOMAINS:
        spec = _pod(f"aether-{domain}")
        security = spec["containers"][0]["securityContext"]
        assert security["runAsNonRoot"] and security["capabilities"] == {"drop": ["ALL"]}
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"]
        assert "privileged" not in security
        if domain == "code":  # bubblewrap: its own user namespace, a fresh /proc, no syscall filter
            assert spec["hostUsers"] is False
            assert security["procMount"] == "Unmasked"
            assert security["seccompProfile"] == {"type": "Unconfined"}
            assert security["appArmorProfile"] == {"type": "Unconfined"}
        else:
            assert "hostUsers" not in spec and "procMount" not in security
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_docker_manager_reaches_its_own_engine_over_a_pod_local_socket() -> None:
    spec = _pod("aether-containers")
    (dockerd,) = spec["initContainers"]
    assert dockerd["restartPolicy"] == "Always"  # a native sidecar
    assert dockerd["securityContext"] == {"privileged": True}
    assert not any("tcp://" in arg for arg in dockerd["args"])
    server = spec["containers"][0]
    host = next(env["value"] for env in server["env"] if env["name"] == "DOCKER_HOST")
    socket_dir = host.removeprefix("unix://").rsplit("/", 1)[0]
    shared = {m["name"] for m in dockerd["volumeMounts"] if m["mountPath"] == socket_dir}
    assert shared and shared == {m["name"] for m in server["volumeMounts"] if m["mountPath"] == socket_dir}
    assert not any("hostPath" in volume for volume in spec["volumes"])  # never the node's engine
    assert f"--group={server['securityContext']['runAsGroup']}" in dockerd["args"]


def _setting_names(domain: str) -> set[str]:
    """Environment names of every setting the domain's server reads: PlatformSettings and the
    domain's own subclasses of it (pydantic-settings matches names case-insensitively)."""
    importlib.import_module(registry.DOMAINS[domain])
    classes = [PlatformSettings]
    pending = list(PlatformSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(f"servers.{domain}."):
            classes.append(cls)
    names = set()
    for cls in classes:
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            names.add((alias if isinstance(alias, str) else name).upper())
    return names


def _compose_servers() -> dict[str, dict[str, str]]:
    """`aether serve <domain>` services of docker-compose.yml -> their environment."""
    servers = {}
    for service in COMPOSE["services"].values():
        command = service.get("command") or []
        if command[:2] == ["aether", "serve"]:
            servers[command[2]] = service.get("environment") or {}
    return servers


def _manifest_servers() -> dict[str, set[str]]:
    docs = _documents()
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == manifests.CONFIG)
    servers = {}
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        container = doc["spec"]["template"]["spec"]["containers"][0]
        if container["args"][:2] != ["aether", "serve"]:
            continue
        names = {env["name"] for env in container.get("env", [])}
        if any(ref.get("configMapRef", {}).get("name") == manifests.CONFIG for ref in container["envFrom"]):
            names |= set(config["data"])
        servers[container["args"][2]] = names
    return servers


@pytest.mark.parametrize("domain", sorted(registry.DOMAINS))
def test_environment_names_are_real_settings(domain: str) -> None:
    known = _setting_names(domain)
    compose_unknown = set(_compose_servers().get(domain, {})) - known
    manifest_unknown = _manifest_servers()[domain] - known
    assert not compose_unknown, f"docker-compose.yml sets what {domain} never reads: {compose_unknown}"
    assert not manifest_unknown, f"deploy/k8s sets what {domain} never reads: {manifest_unknown}"


def test_edge_environment_names_are_what_aether_edge_reads() -> None:
    """Envoy's container reads only the servers' collector setting (the rest are flags)."""
    assert set(COMPOSE["services"]["envoy"].get("environment") or {}) <= set(EDGE_ENVIRONMENT)
    container = _pod("aether-edge")["containers"][0]
    assert "envFrom" not in container
    assert {env["name"] for env in container["env"]} <= set(EDGE_ENVIRONMENT)


def test_prometheus_scrapes_every_server() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for group in jobs["aether"]["static_configs"] for t in group["targets"]}
    port = COMPOSE["x-server"]["environment"]["METRICS_PORT"]
    assert targets == {f"{name}:{port}" for name in _compose_servers()}


def test_dashboard_queries_only_metrics_that_exist() -> None:
    """Every aether_* series a Grafana panel asks for is one the servers export."""
    import re

    from prometheus_client import REGISTRY

    for module in registry.DOMAINS.values():
        importlib.import_module(module)
    importlib.import_module("servers.ai.metrics")
    exported = set()
    for family in REGISTRY.collect():
        exported |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    dashboard = (ROOT / "deploy" / "grafana" / "dashboards" / "aether.json").read_text()
    asked = set(re.findall(r"\baether_\w+", dashboard))
    assert asked, "the dashboard has no aether_* query"
    assert asked <= exported, asked - exported
