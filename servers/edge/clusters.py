"""Envoy clusters: one per routed proto service (HTTP/2, gRPC health-checked) and the JWKS one."""

from __future__ import annotations

import ipaddress
import warnings

from servers.edge.envoy_values import seconds, socket_address
from servers.edge.settings import EdgeSettings, split_host_port

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.cluster.v3 import (
        Cluster,
        ClusterCommonLbConfig,
        ClusterDiscoveryType,
        ClusterDnsLookupFamily,
    )
    from envoy_data_plane.envoy.config.core.v3 import (
        HealthCheck,
        HealthCheckGrpcHealthCheck,
        Http2ProtocolOptions,
    )
    from envoy_data_plane.envoy.config.endpoint.v3 import (
        ClusterLoadAssignment,
        Endpoint,
        LbEndpoint,
        LocalityLbEndpoints,
    )
    from envoy_data_plane.envoy.extensions.upstreams.http.v3 import (
        HttpProtocolOptions,
        HttpProtocolOptionsExplicitHttpConfig,
    )
    from envoy_data_plane.envoy.type.v3 import Percent
    from envoy_data_plane.google.protobuf import Any

JWKS_CLUSTER = "aether_edge_jwks"


def cluster_name(service: str) -> str:
    """Envoy cluster of a proto service ("aether.auth.v1.AuthService" -> "aether_auth_v1_AuthService")."""
    return service.replace(".", "_")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def build_clusters(settings: EdgeSettings) -> list[Cluster]:
    """A cluster per upstream service, then the JWKS cluster."""
    clusters = [
        _cluster(cluster_name(service), address, grpc_service=service, settings=settings)
        for service, address in settings.upstreams.items()
    ]
    clusters.append(http1_cluster(JWKS_CLUSTER, settings.jwks_address, settings))
    return clusters


def http1_cluster(name: str, address: str, settings: EdgeSettings) -> Cluster:
    """A plain HTTP/1.1 cluster without health checks (the JWKS and OTLP collector ones)."""
    return _cluster(name, address, grpc_service=None, settings=settings)


def _cluster(name: str, address: str, *, grpc_service: str | None, settings: EdgeSettings) -> Cluster:
    host, port = split_host_port(address)
    static = _is_ip(host)
    cluster = Cluster(
        name=name,
        type=ClusterDiscoveryType.STATIC if static else ClusterDiscoveryType.STRICT_DNS,
        connect_timeout=seconds(2),
        load_assignment=ClusterLoadAssignment(
            cluster_name=name,
            endpoints=[
                LocalityLbEndpoints(
                    lb_endpoints=[LbEndpoint(endpoint=Endpoint(address=socket_address(host, port)))]
                )
            ],
        ),
    )
    if not static:
        cluster.dns_lookup_family = ClusterDnsLookupFamily.V4_PREFERRED
    if grpc_service is None:  # the JWKS or collector cluster: plain HTTP/1.1, no health check
        return cluster
    cluster.typed_extension_protocol_options = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": Any.pack(
            HttpProtocolOptions(
                # No HTTP/2 keepalive pings: grpc servers GOAWAY ("too_many_pings") a
                # client that pings idle connections more often than every 5 minutes.
                explicit_http_config=HttpProtocolOptionsExplicitHttpConfig(
                    http2_protocol_options=Http2ProtocolOptions(
                        max_concurrent_streams=settings.upstream_streams_per_connection
                    )
                )
            )
        )
    }
    cluster.health_checks = [
        HealthCheck(
            timeout=seconds(settings.health_check_timeout_seconds),
            interval=seconds(settings.health_check_interval_seconds),
            no_traffic_interval=seconds(1),
            unhealthy_interval=seconds(1),
            unhealthy_threshold=2,
            healthy_threshold=1,
            grpc_health_check=HealthCheckGrpcHealthCheck(service_name=grpc_service),
        )
    ]
    # No panic routing: a host failing its gRPC health check (e.g. NOT_SERVING while
    # draining) gets no traffic even when it is the only one; callers get a fast 503.
    cluster.common_lb_config = ClusterCommonLbConfig(healthy_panic_threshold=Percent(value=0.0))
    return cluster
