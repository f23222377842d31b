"""Envoy's OpenTelemetry tracer, joined to the servers' spans.

With ``EdgeSettings.otlp_endpoint`` set, the connection manager starts a span per request (or
continues the client's W3C ``traceparent``), sends the gRPC servers its own span as their
parent in ``traceparent`` (OpenTelemetry's server interceptor continues it: one trace from the
edge through the service and its outbox events) and exports its spans over OTLP/HTTP to the
same collector as the servers. Without it nothing here is configured and a client's
``traceparent`` is passed through untouched.
"""

from __future__ import annotations

import warnings

from servers.edge.clusters import http1_cluster
from servers.edge.envoy_values import seconds
from servers.edge.settings import EdgeSettings, otlp_host_port

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.bootstrap.v3 import (
        Bootstrap,
        LayeredRuntime,
        RuntimeLayer,
        RuntimeLayerAdminLayer,
    )
    from envoy_data_plane.envoy.config.cluster.v3 import Cluster
    from envoy_data_plane.envoy.config.core.v3 import HttpService, HttpUri
    from envoy_data_plane.envoy.config.trace.v3 import OpenTelemetryConfig, TracingHttp
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
        HttpConnectionManager,
        HttpConnectionManagerTracing,
        RequestIdExtension,
    )
    from envoy_data_plane.envoy.extensions.request_id.uuid.v3 import UuidRequestIdConfig
    from envoy_data_plane.envoy.type.v3 import Percent
    from envoy_data_plane.google.protobuf import Any, Struct, Value

OTLP_CLUSTER = "aether_edge_otlp"
OTLP_TRACES_PATH = "/v1/traces"


def add_tracing(hcm: HttpConnectionManager, settings: EdgeSettings) -> None:
    """The tracer on the connection manager, if `settings` ask for one (before it is packed)."""
    if not settings.otlp_endpoint:
        return
    hcm.tracing = _tracing(settings)
    # The UUID request-id extension would write the sampling decision into the request id
    # (its 13th nibble), changing a client's x-request-id; ids are the client's or random.
    hcm.request_id_extension = RequestIdExtension(
        typed_config=Any.pack(UuidRequestIdConfig(pack_trace_reason=False))
    )


def add_tracing_resources(bootstrap: Bootstrap, settings: EdgeSettings) -> None:
    """What the tracer needs besides the connection manager: the collector's cluster and the
    flush interval."""
    if not settings.otlp_endpoint:
        return
    assert bootstrap.static_resources is not None
    bootstrap.static_resources.clusters.append(otlp_cluster(settings))
    bootstrap.layered_runtime = _runtime(settings)


def otlp_cluster(settings: EdgeSettings) -> Cluster:
    return http1_cluster(OTLP_CLUSTER, _authority(settings), settings)


def _authority(settings: EdgeSettings) -> str:
    host, port = otlp_host_port(settings.otlp_endpoint)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tracing(settings: EdgeSettings) -> HttpConnectionManagerTracing:
    authority = _authority(settings)
    exporter = OpenTelemetryConfig(
        http_service=HttpService(
            http_uri=HttpUri(
                uri=f"http://{authority}{OTLP_TRACES_PATH}", cluster=OTLP_CLUSTER, timeout=seconds(5)
            )
        ),
        service_name=settings.trace_service_name,
    )
    return HttpConnectionManagerTracing(
        random_sampling=Percent(value=settings.trace_sampling_percent),
        provider=TracingHttp(name="envoy.tracers.opentelemetry", typed_config=Any.pack(exporter)),
    )


def _runtime(settings: EdgeSettings) -> LayeredRuntime:
    """The tracer's flush interval is a runtime key; the admin layer keeps /runtime_modify
    working as it does without a layered runtime."""
    flush = {
        "tracing.opentelemetry.flush_interval_ms": Value(
            number_value=float(max(1, round(settings.trace_flush_seconds * 1000)))
        ),
    }
    return LayeredRuntime(
        layers=[
            RuntimeLayer(name="aether_edge_tracing", static_layer=Struct(fields=flush)),
            RuntimeLayer(name="admin", admin_layer=RuntimeLayerAdminLayer()),
        ]
    )
