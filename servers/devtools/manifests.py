"""Render the Kubernetes manifests (`aether manifests`, also run by `aether gen`).

One Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget per domain in
`servers/registry.py`, plus the Envoy edge, so a new domain is deployed by the same
command that generates its code. Everything environment-specific (where PostgreSQL,
Redis and RabbitMQ are, keys, provider credentials) stays out of the rendered file: it
comes from the ConfigMap `aether-config` and the Secret `aether-secrets`, which
deploy/k8s/kustomization.yaml and docs/kubernetes.md show how to provide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from servers import registry
from servers.devtools.manifest_pods import UID, adapt
from servers.embedded.dev import proto_upstreams
from servers.platform.readiness import LIVENESS_SERVICE
from servers.platform.settings import EDGE_ENVIRONMENT, PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "deploy" / "k8s" / "aether.yaml"

IMAGE = "aether:latest"  # kustomization.yaml `images:` points it at a registry
GRPC_PORT = 50051
METRICS_PORT = 9464
EDGE_PORT = 8080

# Settings every server reads from the shared ConfigMap/Secret (servers/platform/settings.py).
CONFIG = "aether-config"
SECRETS = "aether-secrets"
# Optional per-domain Secret, e.g. aether-ai-secrets with GEMINI_API_KEY (servers/ai/config.py).
DOMAIN_SECRETS = "aether-{domain}-secrets"


def _domain_env(domain: str) -> dict[str, str]:
    """Settings only one domain has."""
    if domain == "analytics":  # the services its live health report checks
        targets = ",".join(f"{d}=aether-{d}:{GRPC_PORT}" for d in registry.DOMAINS)
        return {"HEALTH_TARGETS": targets}
    return {}


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "aether", "app.kubernetes.io/component": component}


def _container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _deployment(component: str, container: dict[str, Any], *, metrics: bool) -> dict[str, Any]:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)} if metrics else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"aether-{component}", "labels": _labels(component)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": _labels(component)},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": _labels(component), "annotations": annotations},
                "spec": {
                    "automountServiceAccountToken": False,
                    # Servers drain in-flight RPCs for SHUTDOWN_GRACE_SECONDS (10 s) on SIGTERM.
                    "terminationGracePeriodSeconds": 30,
                    "containers": [
                        {
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "securityContext": _container_security(),
                            # The pod's own emptyDir: Envoy's config and Python's temp files.
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                            **container,
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _env_from(domain: str) -> list[dict[str, Any]]:
    return [
        {"configMapRef": {"name": CONFIG}},
        {"secretRef": {"name": SECRETS}},
        {"secretRef": {"name": DOMAIN_SECRETS.format(domain=domain), "optional": True}},
    ]


def _server(domain: str) -> list[dict[str, Any]]:
    # Native gRPC probes (Kubernetes >= 1.24) ask grpc.health.v1, which every server answers.
    probe = {"grpc": {"port": GRPC_PORT}, "periodSeconds": 10}
    container = {
        "name": domain,
        "args": ["aether", "serve", domain],
        "ports": [
            {"name": "grpc", "containerPort": GRPC_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "env": [
            {"name": "GRPC_HOST", "value": "0.0.0.0"},  # noqa: S104 (the pod's IP, for probes and peers)
            {"name": "GRPC_PORT", "value": str(GRPC_PORT)},
            {"name": "METRICS_PORT", "value": str(METRICS_PORT)},
            {"name": "METRICS_HOST", "value": "0.0.0.0"},  # noqa: S104 (Prometheus scrapes the pod IP)
            {"name": "OTEL_SERVICE_NAME", "value": f"aether-{domain}"},
            *({"name": k, "value": v} for k, v in _domain_env(domain).items()),
        ],
        "envFrom": _env_from(domain),
        "readinessProbe": {**probe, "initialDelaySeconds": 2},
        # Liveness asks a health name that stays SERVING while PostgreSQL or Redis is down (when
        # readiness does not): restarting the pod would not bring them back.
        "livenessProbe": {
            "grpc": {"port": GRPC_PORT, "service": LIVENESS_SERVICE},
            "periodSeconds": 10,
            "initialDelaySeconds": 15,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "192Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
    }
    ports = [
        {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
    ]
    deployment = _deployment(domain, container, metrics=True)
    adapt(domain, deployment)  # the code sandbox's namespaces, the Docker Manager's engine
    return [deployment, _service(domain, ports), *_scaling(domain)]


def _edge(service_names: list[str]) -> list[dict[str, Any]]:
    addresses = {domain: f"aether-{domain}:{GRPC_PORT}" for domain in registry.DOMAINS}
    upstreams = proto_upstreams(addresses, service_names)
    probe = {"tcpSocket": {"port": EDGE_PORT}, "periodSeconds": 10}
    container = {
        "name": "envoy",
        "args": [
            "aether",
            "edge",
            f"--listen=0.0.0.0:{EDGE_PORT}",
            *(f"--upstream={service}={address}" for service, address in upstreams.items()),
            f"--jwks-upstream=127.0.0.1:{EDGE_PORT}",
            "--out=/tmp/envoy.json",
            "--run",
        ],
        "ports": [{"name": "http", "containerPort": EDGE_PORT}],
        # The servers' collector (the ConfigMap's), for Envoy's spans; absent = no tracing.
        "env": [
            {"name": name, "valueFrom": {"configMapKeyRef": {"name": CONFIG, "key": name, "optional": True}}}
            for name in EDGE_ENVIRONMENT
        ],
        "readinessProbe": {**probe, "initialDelaySeconds": 2},
        "livenessProbe": {**probe, "initialDelaySeconds": 15},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "2", "memory": "512Mi"},
        },
    }
    ports = [{"name": "http", "port": EDGE_PORT, "targetPort": "http", "appProtocol": "http"}]
    return [
        _deployment("edge", container, metrics=False),
        _service("edge", ports, kind="LoadBalancer"),
        *_scaling("edge"),
    ]


def _service(component: str, ports: list[dict[str, Any]], kind: str = "ClusterIP") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"aether-{component}", "labels": _labels(component)},
        "spec": {"type": kind, "selector": _labels(component), "ports": ports},
    }


def _scaling(component: str) -> list[dict[str, Any]]:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"aether-{component}"}
    return [
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"aether-{component}", "labels": _labels(component)},
            "spec": {
                "scaleTargetRef": target,
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": f"aether-{component}", "labels": _labels(component)},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": _labels(component)}},
        },
    ]


def _config() -> dict[str, Any]:
    """Where the dependencies and sibling services are: defaults for an in-cluster install,
    replaced per environment (kustomization.yaml's configMapGenerator merges over it)."""
    data = {
        "REDIS_URL": "redis://redis:6379/0",
        "AMQP_URL": "amqp://guest:guest@rabbitmq:5672/",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
        "LOG_JSON": "true",
        # Where the service-to-service client finds each domain (PlatformSettings.<domain>_addr).
        **{
            f"{domain.upper()}_ADDR": f"aether-{domain}:{GRPC_PORT}"
            for domain in registry.DOMAINS
            if f"{domain}_addr" in PlatformSettings.model_fields
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG, "labels": _labels("config")},
        "data": data,
    }


def render(service_names: list[str]) -> str:
    """The manifests for the registered domains whose services are in ``service_names``."""
    documents = [_config()]
    for domain in registry.DOMAINS:
        documents.extend(_server(domain))
    documents.extend(_edge(service_names))
    header = "# Generated by `aether gen` (servers/devtools/manifests.py) from servers/registry.py.\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True, width=120)


def write(descriptor: Path) -> Path:
    from servers.edge.descriptors import load_descriptor_set, service_names

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(service_names(load_descriptor_set(descriptor))))
    return OUT
