"""Generate the Envoy edge bootstrap from the proto descriptor set.

One listener serves both REST/JSON (`/api/v1/...`, transcoded to gRPC by `grpc_json_transcoder`)
and native gRPC (`/pkg.Service/Method`, passed through). Everything per RPC is derived from the
descriptors (see `servers.edge.descriptors`):

* a REST route per google.api.http binding (incl. additional_bindings) and a native gRPC route,
  both to the cluster of the RPC's service (`servers.edge.routes`, `servers.edge.clusters`);
* JWT required on both routes unless `(aether.common.v1.access).public`;
* the client's address in `x-aether-client-address` (for the servers' per-caller rate limits,
  `servers.platform.rate_limits`; a client's own value is overwritten);
* a request body limit on both routes from `(aether.common.v1.max_request_bytes)` or the default
  (the buffer filter's per-route config).

The filter chain is in `servers.edge.filters`; Envoy's own replies (400/401/404/413/429/503 ...)
carry a google.rpc.Status JSON body (`servers.edge.local_replies`). See envoy/README.md.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any as TypingAny

from servers.edge.access_log import access_log
from servers.edge.clusters import build_clusters
from servers.edge.descriptors import Rpc, load_descriptor_set, rpcs, service_names
from servers.edge.envoy_values import socket_address
from servers.edge.filters import CORS_FILTER, cors_policy, http_filters, transcoder
from servers.edge.local_replies import local_reply_config
from servers.edge.routes import build_routes
from servers.edge.settings import EdgeSettings
from servers.edge.static_routes import largest_static_body, static_routes
from servers.edge.tracing import add_tracing, add_tracing_resources
from servers.platform.client_address import CLIENT_ADDRESS_HEADER

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.bootstrap.v3 import Admin, Bootstrap, BootstrapStaticResources
    from envoy_data_plane.envoy.config.core.v3 import (
        HeaderValue,
        HeaderValueOption,
        HeaderValueOptionHeaderAppendAction,
        Http1ProtocolOptions,
        Node,
    )
    from envoy_data_plane.envoy.config.listener.v3 import Filter, FilterChain, Listener
    from envoy_data_plane.envoy.config.overload.v3 import OverloadManager, ResourceMonitor
    from envoy_data_plane.envoy.config.route.v3 import RouteConfiguration, VirtualHost
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
        HttpConnectionManager,
        HttpConnectionManagerCodecType,
    )
    from envoy_data_plane.envoy.extensions.resource_monitors.downstream_connections.v3 import (
        DownstreamConnectionsConfig,
    )
    from envoy_data_plane.google.protobuf import Any

LISTENER_NAME = "aether_edge"
ROUTE_CONFIG_NAME = "aether_edge_routes"


def build_bootstrap_message(descriptor_path: Path, settings: EdgeSettings) -> Bootstrap:
    """The typed (envoy-data-plane) bootstrap."""
    descriptor_path = Path(descriptor_path).resolve()
    if not settings.upstreams:
        raise ValueError("EdgeSettings.upstreams is empty: nothing to route")
    services = list(settings.upstreams)
    descriptors = load_descriptor_set(descriptor_path)
    routed = rpcs(descriptors, services)
    unserved = [name for name in service_names(descriptors) if name not in settings.upstreams]

    hcm = _http_connection_manager(descriptor_path, routed, services, unserved, settings)
    add_tracing(hcm, settings)
    listener = Listener(
        name=LISTENER_NAME,
        address=socket_address(settings.listen_host, settings.listen_port),
        filter_chains=[
            FilterChain(
                filters=[
                    Filter(name="envoy.filters.network.http_connection_manager", typed_config=Any.pack(hcm))
                ],
            )
        ],
    )
    bootstrap = Bootstrap(
        node=Node(id="aether-edge", cluster="aether-edge"),
        static_resources=BootstrapStaticResources(listeners=[listener], clusters=build_clusters(settings)),
        overload_manager=OverloadManager(
            resource_monitors=[
                ResourceMonitor(
                    name="envoy.resource_monitors.global_downstream_max_connections",
                    typed_config=Any.pack(
                        DownstreamConnectionsConfig(
                            max_active_downstream_connections=settings.max_downstream_connections
                        )
                    ),
                )
            ]
        ),
    )
    add_tracing_resources(bootstrap, settings)
    if settings.admin_port is not None:
        bootstrap.admin = Admin(address=socket_address("127.0.0.1", settings.admin_port))
    return bootstrap


def build_bootstrap(descriptor_path: Path, settings: EdgeSettings) -> dict[str, TypingAny]:
    """JSON-ready Envoy bootstrap (a dict) derived from `descriptor_path` and `settings`."""
    result: dict[str, TypingAny] = build_bootstrap_message(descriptor_path, settings).to_dict()
    return result


def write_bootstrap(descriptor_path: Path | str, settings: EdgeSettings, out: Path | str) -> Path:
    """Write the bootstrap as JSON (valid YAML too) to `out` and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = build_bootstrap(Path(descriptor_path), settings)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(out)
    return out


def _http_connection_manager(
    descriptor_path: Path,
    routed: Sequence[Rpc],
    services: Sequence[str],
    unserved: Sequence[str],
    settings: EdgeSettings,
) -> HttpConnectionManager:
    routes = build_routes(
        routed, settings, unserved, lambda limit, sse: transcoder(descriptor_path, services, limit, sse=sse)
    )
    # The edge's own files go before the RPC routes, after the CORS preflight route (if any).
    first = 1 if settings.cors_allowed_origins else 0
    routes[first:first] = static_routes()
    virtual_host = VirtualHost(
        name="aether",
        domains=["*"],
        routes=routes,
        # With use_remote_address, the downstream address is the connection's peer, or the
        # X-Forwarded-For entry xff_num_trusted_hops from the right.
        request_headers_to_add=[
            HeaderValueOption(
                header=HeaderValue(
                    key=CLIENT_ADDRESS_HEADER, value="%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
                ),
                append_action=HeaderValueOptionHeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
            )
        ],
    )
    if settings.cors_allowed_origins:
        virtual_host.typed_per_filter_config = {CORS_FILTER: Any.pack(cors_policy(settings))}
    return HttpConnectionManager(
        codec_type=HttpConnectionManagerCodecType.AUTO,
        # HTTP/1.1 REST clients get a stream's trailers (chunked encoding): after a mid-stream
        # error, grpc-status / grpc-message (and grpc-status-details-bin) say what went wrong;
        # the 200 and the messages before it are already sent. HTTP/2 clients get them anyway.
        http_protocol_options=Http1ProtocolOptions(enable_trailers=True),
        stat_prefix="aether_edge",
        route_config=RouteConfiguration(
            name=ROUTE_CONFIG_NAME,
            virtual_hosts=[virtual_host],
            max_direct_response_body_size_bytes=largest_static_body(),
        ),
        http_filters=http_filters(
            descriptor_path, services, settings, max_request_body_size=settings.max_request_bytes
        ),
        access_log=[access_log(settings.access_log_path)],
        local_reply_config=local_reply_config(),
        generate_request_id=True,
        preserve_external_request_id=True,
        always_set_request_id_in_response=True,
        use_remote_address=True,
        xff_num_trusted_hops=settings.xff_num_trusted_hops,
        normalize_path=True,
        merge_slashes=True,
        server_name="aether-edge",
    )
