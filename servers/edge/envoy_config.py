"""Generate the Envoy edge bootstrap from the proto descriptor set.

One listener serves both REST/JSON (`/api/v1/...`, transcoded to gRPC by
`grpc_json_transcoder`) and native gRPC (`/pkg.Service/Method`, passed through).
Everything per RPC is derived from the descriptors (see `servers.edge.descriptors`):

* a REST route per google.api.http binding (incl. additional_bindings) and a
  native gRPC route, both to the cluster of the RPC's service;
* JWT required on both routes unless `(aether.common.v1.access).public`;
* a local rate limit on both routes from `(aether.common.v1.rate_limit)` or the
  default;
* request body limit: the transcoder's `max_request_body_size` on REST routes,
  a buffer filter with the same limit on gRPC routes.

Envoy's own replies (400/401/404/413/429/503 ...) carry a google.rpc.Status JSON
body through `local_reply_config`. See envoy/README.md for the full picture.
"""

from __future__ import annotations

import ipaddress
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any as TypingAny

from servers.edge.descriptors import Rpc, load_descriptor_set, rpcs
from servers.platform.errors import ERROR_DOMAIN, ErrorReason

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.accesslog.v3 import (
        AccessLog,
        AccessLogFilter,
        AndFilter,
        ComparisonFilter,
        ComparisonFilterOp,
        ExtensionFilter,
        HeaderFilter,
        OrFilter,
        ResponseFlagFilter,
        StatusCodeFilter,
    )
    from envoy_data_plane.envoy.config.bootstrap.v3 import Admin, Bootstrap, BootstrapStaticResources
    from envoy_data_plane.envoy.config.cluster.v3 import (
        Cluster,
        ClusterCommonLbConfig,
        ClusterDiscoveryType,
        ClusterDnsLookupFamily,
    )
    from envoy_data_plane.envoy.config.core.v3 import (
        Address,
        DataSource,
        HeaderValue,
        HeaderValueOption,
        HeaderValueOptionHeaderAppendAction,
        HealthCheck,
        HealthCheckGrpcHealthCheck,
        Http2ProtocolOptions,
        HttpUri,
        Node,
        RuntimeFractionalPercent,
        RuntimeUInt32,
        SocketAddress,
        SubstitutionFormatString,
    )
    from envoy_data_plane.envoy.config.endpoint.v3 import (
        ClusterLoadAssignment,
        Endpoint,
        LbEndpoint,
        LocalityLbEndpoints,
    )
    from envoy_data_plane.envoy.config.listener.v3 import Filter, FilterChain, Listener
    from envoy_data_plane.envoy.config.overload.v3 import OverloadManager, ResourceMonitor
    from envoy_data_plane.envoy.config.route.v3 import (
        HeaderMatcher,
        RetryPolicy,
        Route,
        RouteAction,
        RouteActionMaxStreamDuration,
        RouteConfiguration,
        RouteMatch,
        RouteMatchGrpcRouteMatchOptions,
        VirtualHost,
    )
    from envoy_data_plane.envoy.extensions.access_loggers.file.v3 import FileAccessLog
    from envoy_data_plane.envoy.extensions.access_loggers.filters.cel.v3 import ExpressionFilter
    from envoy_data_plane.envoy.extensions.common.ratelimit.v3 import XRateLimitHeadersRfcVersion
    from envoy_data_plane.envoy.extensions.filters.http.buffer.v3 import Buffer, BufferPerRoute
    from envoy_data_plane.envoy.extensions.filters.http.cors.v3 import Cors, CorsPolicy
    from envoy_data_plane.envoy.extensions.filters.http.grpc_json_transcoder.v3 import (
        GrpcJsonTranscoder,
        GrpcJsonTranscoderPrintOptions,
        GrpcJsonTranscoderRequestValidationOptions,
    )
    from envoy_data_plane.envoy.extensions.filters.http.health_check.v3 import (
        HealthCheck as HealthCheckFilter,
    )
    from envoy_data_plane.envoy.extensions.filters.http.jwt_authn.v3 import (
        JwksAsyncFetch,
        JwtAuthentication,
        JwtProvider,
        JwtRequirement,
        PerRouteConfig,
        RemoteJwks,
    )
    from envoy_data_plane.envoy.extensions.filters.http.local_ratelimit.v3 import LocalRateLimit
    from envoy_data_plane.envoy.extensions.filters.http.router.v3 import Router
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
        HttpConnectionManager,
        HttpConnectionManagerCodecType,
        HttpFilter,
        LocalReplyConfig,
        ResponseMapper,
    )
    from envoy_data_plane.envoy.extensions.resource_monitors.downstream_connections.v3 import (
        DownstreamConnectionsConfig,
    )
    from envoy_data_plane.envoy.extensions.upstreams.http.v3 import (
        HttpProtocolOptions,
        HttpProtocolOptionsExplicitHttpConfig,
    )
    from envoy_data_plane.envoy.type.matcher.v3 import RegexMatcher, StringMatcher
    from envoy_data_plane.envoy.type.v3 import (
        FractionalPercent,
        FractionalPercentDenominatorType,
        Percent,
        TokenBucket,
    )
    from envoy_data_plane.google.protobuf import Any, Struct

# HTTP filter names. Per-route configs are keyed by these names.
HEALTHZ_FILTER = "aether.healthz"
READYZ_FILTER = "aether.readyz"
CORS_FILTER = "envoy.filters.http.cors"
RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit"
JWT_FILTER = "envoy.filters.http.jwt_authn"
BUFFER_FILTER = "envoy.filters.http.buffer"
TRANSCODER_FILTER = "envoy.filters.http.grpc_json_transcoder"
ROUTER_FILTER = "envoy.filters.http.router"

JWT_PROVIDER = "aether"
JWT_REQUIREMENT = "authenticated"
JWKS_CLUSTER = "aether_edge_jwks"
JWKS_PATH = "/.well-known/jwks.json"
LISTENER_NAME = "aether_edge"
SAFE_RETRY_ON = "connect-failure,refused-stream,reset-before-request"
ROUTE_CONFIG_NAME = "aether_edge_routes"
HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"

# Envoy local-reply HTTP status -> google.rpc.Code put into the Status body.
# 413 -> RESOURCE_EXHAUSTED (8): it is what a gRPC server answers for a message
# above its max receive size, so REST and native gRPC clients see the same code;
# INVALID_ARGUMENT would claim the content is wrong when only its size is.
LOCAL_REPLY_GRPC_CODES: Mapping[int, int] = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED
    429: 8,  # RESOURCE_EXHAUSTED
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
LOCAL_REPLY_DEFAULT_GRPC_CODE = 2  # UNKNOWN
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "authorization, content-type, x-request-id, grpc-timeout, x-grpc-web, x-user-agent"
CORS_EXPOSE_HEADERS = (
    "x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, grpc-status, grpc-message"
)


def _default_upstreams() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the generated edge depends on besides the descriptor set."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    admin_port: int | None = None
    """Envoy admin on 127.0.0.1 only; None = no admin interface."""
    upstreams: Mapping[str, str] = field(default_factory=_default_upstreams)
    """Full proto service name ("aether.auth.v1.AuthService") -> "host:port" of its grpc.aio server."""
    jwks_upstream: str = ""
    """"host:port" serving GET /.well-known/jwks.json (normally Envoy's own listener: the
    JWKS route is transcoded to AuthService.GetJwks). Empty = this listener."""
    jwt_issuer: str = "aether-auth"
    jwt_audience: str = "aether"
    cors_allowed_origins: Sequence[str] = ()
    """Exact origins ("https://app.example.com") allowed by CORS; empty = no CORS."""
    max_request_bytes: int = 1_048_576
    default_rate_limit: tuple[int, int] = (600, 60)
    """(requests, per_seconds) for RPCs without a rate_limit option."""
    rate_limit_overrides: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per-deployment limits by gRPC path ("/aether.auth.v1.AuthService/Login"), over the protos' options."""
    access_log_path: str = "/dev/stdout"
    unary_timeout_seconds: float = 60.0
    """Upstream timeout of unary RPCs; server-streaming RPCs have none (stream idle timeout applies)."""
    jwks_cache_seconds: int = 300
    """How long Envoy caches the JWK set. A new signing key must be published this long before use."""
    health_check_interval_seconds: float = 2.0
    max_downstream_connections: int = 50_000
    """Overload-manager cap on open client connections (Envoy warns when there is none)."""
    upstream_streams_per_connection: int = 4
    """Concurrent requests Envoy puts on one HTTP/2 connection to a server before it
    opens another. The kernel spreads a GRPC_WORKERS server's connections, not its
    requests, over the workers: without this cap, Envoy's one connection per thread
    can leave a worker idle while another queues."""

    def __post_init__(self) -> None:
        for name, port in (("listen_port", self.listen_port), ("admin_port", self.admin_port)):
            if port is not None and not 0 < port < 65536:
                raise ValueError(f"{name} out of range: {port}")
        for service, address in self.upstreams.items():
            split_host_port(address, what=f"upstream of {service}")
        if self.jwks_upstream:
            split_host_port(self.jwks_upstream, what="jwks_upstream")
        requests, per_seconds = self.default_rate_limit
        if requests <= 0 or per_seconds <= 0:
            raise ValueError("default_rate_limit needs requests > 0 and per_seconds > 0")
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        for origin in self.cors_allowed_origins:
            if not origin or origin == "*" or origin.endswith("/"):
                raise ValueError(f"CORS origins are exact, like https://app.example.com; got {origin!r}")

    @property
    def jwks_address(self) -> str:
        return self.jwks_upstream or f"{_connect_host(self.listen_host)}:{self.listen_port}"


def split_host_port(address: str, *, what: str = "address") -> tuple[str, int]:
    """ "host:port" or "[v6]:port" -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what}: expected host:port, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _connect_host(listen_host: str) -> str:
    if listen_host in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard bind to loopback
        return "127.0.0.1"
    if listen_host == "::":
        return "[::1]"
    return f"[{listen_host}]" if ":" in listen_host else listen_host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def cluster_name(service: str) -> str:
    """Envoy cluster of a proto service ("aether.auth.v1.AuthService" -> "aether_auth_v1_AuthService")."""
    return service.replace(".", "_")


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _percent100(runtime_key: str) -> RuntimeFractionalPercent:
    return RuntimeFractionalPercent(
        default_value=FractionalPercent(numerator=100, denominator=FractionalPercentDenominatorType.HUNDRED),
        runtime_key=runtime_key,
    )


def _socket(host: str, port: int) -> Address:
    return Address(socket_address=SocketAddress(address=host, port_value=port))


def _exact_header(name: str, value: str) -> HeaderMatcher:
    return HeaderMatcher(name=name, string_match=StringMatcher(exact=value))


# --------------------------------------------------------------------------- clusters


def _cluster(name: str, address: str, *, grpc_service: str | None, settings: EdgeSettings) -> Cluster:
    host, port = split_host_port(address)
    static = _is_ip(host)
    cluster = Cluster(
        name=name,
        type=ClusterDiscoveryType.STATIC if static else ClusterDiscoveryType.STRICT_DNS,
        connect_timeout=_seconds(2),
        load_assignment=ClusterLoadAssignment(
            cluster_name=name,
            endpoints=[
                LocalityLbEndpoints(lb_endpoints=[LbEndpoint(endpoint=Endpoint(address=_socket(host, port)))])
            ],
        ),
    )
    if not static:
        cluster.dns_lookup_family = ClusterDnsLookupFamily.V4_PREFERRED
    if grpc_service is None:  # the JWKS cluster: plain HTTP/1.1, no health check
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
            timeout=_seconds(1),
            interval=_seconds(settings.health_check_interval_seconds),
            no_traffic_interval=_seconds(1),
            unhealthy_interval=_seconds(1),
            unhealthy_threshold=2,
            healthy_threshold=1,
            grpc_health_check=HealthCheckGrpcHealthCheck(service_name=grpc_service),
        )
    ]
    # No panic routing: a host failing its gRPC health check (e.g. NOT_SERVING while
    # draining) gets no traffic even when it is the only one; callers get a fast 503.
    cluster.common_lb_config = ClusterCommonLbConfig(healthy_panic_threshold=Percent(value=0.0))
    return cluster


# --------------------------------------------------------------------------- routes


def _rate_limit_config(requests: int, per_seconds: int, headers: bool = True) -> LocalRateLimit:
    return LocalRateLimit(
        stat_prefix="edge_rate_limit",
        token_bucket=TokenBucket(
            max_tokens=requests, tokens_per_fill=requests, fill_interval=_seconds(per_seconds)
        ),
        filter_enabled=_percent100("edge.rate_limit.enabled"),
        filter_enforced=_percent100("edge.rate_limit.enforced"),
        enable_x_ratelimit_headers=(
            XRateLimitHeadersRfcVersion.DRAFT_VERSION_03 if headers else XRateLimitHeadersRfcVersion.OFF
        ),
        # Native gRPC callers get RESOURCE_EXHAUSTED instead of UNAVAILABLE.
        rate_limited_as_resource_exhausted=True,
    )


def _per_route(rpc: Rpc, settings: EdgeSettings, *, grpc: bool) -> dict[str, Any]:
    requests, per_seconds = (
        settings.rate_limit_overrides.get(rpc.grpc_path) or rpc.rate_limit or settings.default_rate_limit
    )
    jwt = PerRouteConfig(disabled=True) if rpc.public else PerRouteConfig(requirement_name=JWT_REQUIREMENT)
    # REST bodies are limited by the transcoder (it 413s before transcoding); native
    # gRPC bodies pass the transcoder untouched, so the buffer filter limits them.
    buffer = (
        BufferPerRoute(buffer=Buffer(max_request_bytes=settings.max_request_bytes))
        if grpc
        else BufferPerRoute(disabled=True)
    )
    return {
        RATE_LIMIT_FILTER: Any.pack(
            _rate_limit_config(requests, per_seconds, headers=not rpc.server_rate_limit_headers)
        ),
        JWT_FILTER: Any.pack(jwt),
        BUFFER_FILTER: Any.pack(buffer),
    }


def _route_action(rpc: Rpc, settings: EdgeSettings) -> RouteAction:
    streaming = rpc.server_streaming or rpc.client_streaming
    return RouteAction(
        cluster=cluster_name(rpc.service),
        # Streams can run for long: no overall timeout (the HCM stream idle timeout still applies).
        timeout=_seconds(0 if streaming else settings.unary_timeout_seconds),
        # A native gRPC caller's grpc-timeout is honoured as the stream's deadline.
        max_stream_duration=RouteActionMaxStreamDuration(grpc_timeout_header_max=_seconds(0)),
        # Only retries that cannot have reached the server (safe for non-idempotent RPCs).
        retry_policy=RetryPolicy(retry_on=SAFE_RETRY_ON, num_retries=2),
    )


def _rest_routes(rpc: Rpc, settings: EdgeSettings) -> list[tuple[tuple[TypingAny, ...], Route]]:
    out = []
    for index, binding in enumerate(rpc.bindings):
        template = binding.path
        match = RouteMatch(headers=[_exact_header(":method", binding.method)])
        if template.literal:
            match.path = template.template
        else:
            match.safe_regex = RegexMatcher(regex=template.regex)
        route = Route(
            name=f"rest:{rpc.full_name}:{index}",
            match=match,
            route=_route_action(rpc, settings),
            typed_per_filter_config=_per_route(rpc, settings, grpc=False),
        )
        out.append((template.sort_key(), route))
    return out


def _grpc_route(rpc: Rpc, settings: EdgeSettings) -> Route:
    return Route(
        name=f"grpc:{rpc.full_name}",
        match=RouteMatch(path=rpc.grpc_path, grpc=RouteMatchGrpcRouteMatchOptions()),
        route=_route_action(rpc, settings),
        typed_per_filter_config=_per_route(rpc, settings, grpc=True),
    )


def _preflight_route() -> Route:
    """CORS preflights (OPTIONS with Origin and Access-Control-Request-Method).

    The CORS filter only acts on requests whose route forwards (a direct_response
    route has no route entry), so this route names a cluster; it is never used:
    with forward_not_matching_preflights off, the CORS filter answers every
    preflight itself (allowed origin: 200 with Access-Control-* headers; other
    origins: 200 without them, so the browser blocks the call).
    """
    return Route(
        name="cors-preflight",
        match=RouteMatch(
            prefix="/",
            headers=[
                _exact_header(":method", "OPTIONS"),
                HeaderMatcher(name="origin", present_match=True),
                HeaderMatcher(name="access-control-request-method", present_match=True),
            ],
        ),
        route=RouteAction(cluster=JWKS_CLUSTER),
        typed_per_filter_config={JWT_FILTER: Any.pack(PerRouteConfig(disabled=True))},
    )


def build_routes(all_rpcs: Sequence[Rpc], settings: EdgeSettings) -> list[Route]:
    """Envoy routes, most specific REST templates first, then the native gRPC routes."""
    seen: dict[tuple[str, str], str] = {}
    for rpc in all_rpcs:
        for binding in rpc.bindings:
            key = (binding.method, binding.path.regex)
            if key in seen and seen[key] != rpc.full_name:
                raise ValueError(
                    f"{binding.method} {binding.path.template} of {rpc.full_name} "
                    f"is already bound to {seen[key]}"
                )
            seen[key] = rpc.full_name
    rest: list[tuple[tuple[TypingAny, ...], Route]] = []
    for rpc in all_rpcs:
        rest.extend(_rest_routes(rpc, settings))
    rest.sort(key=lambda item: item[0])
    routes = [_preflight_route()] if settings.cors_allowed_origins else []
    routes.extend(route for _, route in rest)
    routes.extend(_grpc_route(rpc, settings) for rpc in all_rpcs)
    return routes


# --------------------------------------------------------------------------- HTTP filters


def _jwt_authn(settings: EdgeSettings) -> JwtAuthentication:
    provider = JwtProvider(
        issuer=settings.jwt_issuer,
        audiences=[settings.jwt_audience],
        require_expiration=True,
        # Servers verify the token again (defence in depth), so pass it on.
        forward=True,
        payload_in_metadata="jwt_payload",
        remote_jwks=RemoteJwks(
            http_uri=HttpUri(
                uri=f"http://{settings.jwks_address}{JWKS_PATH}",
                cluster=JWKS_CLUSTER,
                timeout=_seconds(5),
            ),
            cache_duration=_seconds(settings.jwks_cache_seconds),
            # fast_listener: the JWKS is served through this very listener, so it
            # must not wait for the first fetch; failed fetches are retried every second.
            async_fetch=JwksAsyncFetch(fast_listener=True, failed_refetch_duration=_seconds(1)),
        ),
    )
    return JwtAuthentication(
        providers={JWT_PROVIDER: provider},
        requirement_map={JWT_REQUIREMENT: JwtRequirement(provider_name=JWT_PROVIDER)},
        bypass_cors_preflight=True,
    )


def _transcoder(descriptor_path: Path, services: Sequence[str], settings: EdgeSettings) -> GrpcJsonTranscoder:
    return GrpcJsonTranscoder(
        proto_descriptor=str(descriptor_path),
        services=list(services),
        print_options=GrpcJsonTranscoderPrintOptions(
            # lowerCamelCase JSON names. Zero values are printed too (`"valid": false`,
            # `"overdue": 0`), so every response has the contract's full shape; only
            # unset messages and `optional` fields are left out.
            preserve_proto_field_names=False,
            always_print_primitive_fields=True,
            stream_newline_delimited=True,
        ),
        convert_grpc_status=True,
        # HTML forms and most clients encode spaces in query strings as "+".
        query_param_unescape_plus=True,
        # The REST route (its JWT / rate-limit config) stays the route of the request.
        match_incoming_request_route=True,
        request_validation_options=GrpcJsonTranscoderRequestValidationOptions(
            reject_unknown_method=True,
            # A misspelt filter (?staus=done) must not silently list everything.
            reject_unknown_query_parameters=True,
        ),
        max_request_body_size=settings.max_request_bytes,
    )


def _http_filters(descriptor_path: Path, services: Sequence[str], settings: EdgeSettings) -> list[HttpFilter]:
    def hf(name: str, config: TypingAny) -> HttpFilter:
        return HttpFilter(name=name, typed_config=Any.pack(config))

    filters = [
        # Liveness: Envoy answers itself.
        hf(
            HEALTHZ_FILTER,
            HealthCheckFilter(pass_through_mode=False, headers=[_exact_header(":path", HEALTHZ_PATH)]),
        ),
        # Readiness: 200 only while every upstream cluster has all its hosts healthy.
        hf(
            READYZ_FILTER,
            HealthCheckFilter(
                pass_through_mode=False,
                headers=[_exact_header(":path", READYZ_PATH)],
                cluster_min_healthy_percentages={
                    cluster_name(service): Percent(value=100.0) for service in services
                },
            ),
        ),
    ]
    if settings.cors_allowed_origins:
        filters.append(hf(CORS_FILTER, Cors()))
    filters += [
        # No token bucket at filter level: only routes with a per-route config are limited.
        hf(RATE_LIMIT_FILTER, LocalRateLimit(stat_prefix="edge_rate_limit")),
        hf(JWT_FILTER, _jwt_authn(settings)),
        hf(BUFFER_FILTER, Buffer(max_request_bytes=settings.max_request_bytes)),
        hf(TRANSCODER_FILTER, _transcoder(descriptor_path, services, settings)),
        hf(ROUTER_FILTER, Router()),
    ]
    return filters


# --------------------------------------------------------------------------- local replies


def _status_body(code: int, extra_details: Sequence[Mapping[str, str]] = ()) -> SubstitutionFormatString:
    details: list[Mapping[str, str]] = [
        {"@type": REQUEST_INFO, "requestId": "%REQ(X-REQUEST-ID)%"},
        *extra_details,
    ]
    return SubstitutionFormatString(
        json_format=Struct.from_dict({"code": code, "message": "%LOCAL_REPLY_BODY%", "details": details}),
        content_type="application/json",
    )


def _status_filter(op: ComparisonFilterOp, status: int) -> AccessLogFilter:
    return AccessLogFilter(
        status_code_filter=StatusCodeFilter(
            comparison=ComparisonFilter(
                op=op, value=RuntimeUInt32(default_value=status, runtime_key=f"edge.local_reply.{status}")
            )
        )
    )


def _header_filter(matcher: HeaderMatcher) -> AccessLogFilter:
    return AccessLogFilter(header_filter=HeaderFilter(header=matcher))


def _and(*filters: AccessLogFilter) -> AccessLogFilter:
    return AccessLogFilter(and_filter=AndFilter(filters=list(filters)))


def _or(*filters: AccessLogFilter) -> AccessLogFilter:
    return AccessLogFilter(or_filter=OrFilter(filters=list(filters)))


def _path_filter(path: str) -> AccessLogFilter:
    return _header_filter(_exact_header(":path", path))


def _grpc_content_type(*, invert: bool) -> AccessLogFilter:
    return _header_filter(
        HeaderMatcher(
            name="content-type",
            string_match=StringMatcher(prefix="application/grpc"),
            invert_match=invert,
            treat_missing_header_as_empty=True,
        )
    )


# The transcoder rewrites a REST request's content-type to application/grpc and
# records the original path in x-envoy-original-path; the local-reply mappers see
# the request headers as they are when the reply is made. So: REST = not a gRPC
# content-type, or transcoded.
_TRANSCODED = _header_filter(HeaderMatcher(name="x-envoy-original-path", present_match=True))
IS_REST = _or(_grpc_content_type(invert=True), _TRANSCODED)
IS_NATIVE_GRPC = _and(
    _grpc_content_type(invert=False),
    _header_filter(HeaderMatcher(name="x-envoy-original-path", present_match=True, invert_match=True)),
)

# jwt_authn answers 403 for a token whose audience is wrong; it is as invalid a
# token as a bad signature for us, so it becomes 401 like every other JWT failure.
JWT_FORBIDDEN = AccessLogFilter(
    extension_filter=ExtensionFilter(
        name="envoy.access_loggers.extension_filters.cel",
        typed_config=Any.pack(
            ExpressionFilter(expression="response.code_details.startsWith('jwt_authn_access_denied')")
        ),
    )
)

# Native gRPC local replies: Envoy sends grpc-status from the HTTP code
# (401->16, 403->7, 404->12, 429->8 with rate_limited_as_resource_exhausted,
# 503->14); these fix the codes whose default mapping is wrong for a client.
NATIVE_GRPC_STATUS_OVERRIDES: Mapping[int, int] = {
    400: 3,  # default INTERNAL
    413: 8,  # default UNKNOWN; RESOURCE_EXHAUSTED like a server's own max-message check
    504: 4,  # default UNAVAILABLE
}


def _local_reply_config() -> LocalReplyConfig:
    """Envoy's own error replies as google.rpc.Status JSON for REST clients.

    Native gRPC requests keep Envoy's trailers-only replies (grpc-status and a
    plain grpc-message); a JSON body would otherwise end up percent-encoded in
    grpc-message.
    """
    mappers: list[ResponseMapper] = [
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, 403), JWT_FORBIDDEN),
            status_code=401,
            body_format_override=_status_body(LOCAL_REPLY_GRPC_CODES[401]),
        ),
        ResponseMapper(
            filter=_and(IS_NATIVE_GRPC, _status_filter(ComparisonFilterOp.EQ, 403), JWT_FORBIDDEN),
            status_code=401,
        ),
        # The health-check filter's 503 has an empty body.
        ResponseMapper(
            filter=_and(_path_filter(READYZ_PATH), _status_filter(ComparisonFilterOp.EQ, 503)),
            body=DataSource(inline_string="not ready: an upstream service has no healthy host"),
            body_format_override=_status_body(LOCAL_REPLY_GRPC_CODES[503]),
        ),
        ResponseMapper(
            filter=_and(_path_filter(HEALTHZ_PATH), _status_filter(ComparisonFilterOp.EQ, 503)),
            body=DataSource(inline_string="not alive: Envoy is draining"),
            body_format_override=_status_body(LOCAL_REPLY_GRPC_CODES[503]),
        ),
        # Route not found: Envoy's body is empty; say what happened.
        ResponseMapper(
            filter=_and(IS_REST, AccessLogFilter(response_flag_filter=ResponseFlagFilter(flags=["NR"]))),
            body=DataSource(inline_string="no route for this method and path"),
            body_format_override=_status_body(LOCAL_REPLY_GRPC_CODES[404]),
        ),
    ]
    for status, code in LOCAL_REPLY_GRPC_CODES.items():
        extra: list[Mapping[str, str]] = []
        if status == 429:
            reason = ErrorReason.RATE_LIMIT_EXCEEDED.value
            extra = [{"@type": ERROR_INFO, "reason": reason, "domain": ERROR_DOMAIN}]
        mappers.append(
            ResponseMapper(
                filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, status)),
                body_format_override=_status_body(code, extra),
            )
        )
    mappers.append(
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.GE, 400)),
            body_format_override=_status_body(LOCAL_REPLY_DEFAULT_GRPC_CODE),
        )
    )
    for status, code in NATIVE_GRPC_STATUS_OVERRIDES.items():
        mappers.append(
            ResponseMapper(
                filter=_and(IS_NATIVE_GRPC, _status_filter(ComparisonFilterOp.EQ, status)),
                headers_to_add=[
                    HeaderValueOption(
                        header=HeaderValue(key="grpc-status", value=str(code)),
                        append_action=HeaderValueOptionHeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
                    )
                ],
            )
        )
    return LocalReplyConfig(mappers=mappers)


# --------------------------------------------------------------------------- access log

ACCESS_LOG_FORMAT: Mapping[str, str] = {
    "time": "%START_TIME%",
    "requestId": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "grpcPath": "%REQ(:PATH)%",
    "protocol": "%PROTOCOL%",
    "status": "%RESPONSE_CODE%",
    "grpcStatus": "%GRPC_STATUS_NUMBER%",
    "responseFlags": "%RESPONSE_FLAGS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "durationMs": "%DURATION%",
    "upstreamCluster": "%UPSTREAM_CLUSTER%",
    "upstreamHost": "%UPSTREAM_HOST%",
    "route": "%ROUTE_NAME%",
    "bytesReceived": "%BYTES_RECEIVED%",
    "bytesSent": "%BYTES_SENT%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "userAgent": "%REQ(USER-AGENT)%",
    "userId": "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%",
}


def _access_log(path: str) -> AccessLog:
    return AccessLog(
        name="envoy.access_loggers.file",
        typed_config=Any.pack(
            FileAccessLog(
                path=path,
                log_format=SubstitutionFormatString(json_format=Struct.from_dict(dict(ACCESS_LOG_FORMAT))),
            )
        ),
    )


# --------------------------------------------------------------------------- bootstrap


def _http_connection_manager(
    descriptor_path: Path, routed: Sequence[Rpc], services: Sequence[str], settings: EdgeSettings
) -> HttpConnectionManager:
    virtual_host = VirtualHost(name="aether", domains=["*"], routes=build_routes(routed, settings))
    if settings.cors_allowed_origins:
        virtual_host.typed_per_filter_config = {
            CORS_FILTER: Any.pack(
                CorsPolicy(
                    allow_origin_string_match=[StringMatcher(exact=o) for o in settings.cors_allowed_origins],
                    allow_methods=CORS_ALLOW_METHODS,
                    allow_headers=CORS_ALLOW_HEADERS,
                    expose_headers=CORS_EXPOSE_HEADERS,
                    max_age="86400",
                    allow_credentials=False,
                    forward_not_matching_preflights=False,
                )
            )
        }
    return HttpConnectionManager(
        codec_type=HttpConnectionManagerCodecType.AUTO,
        stat_prefix="aether_edge",
        route_config=RouteConfiguration(name=ROUTE_CONFIG_NAME, virtual_hosts=[virtual_host]),
        http_filters=_http_filters(descriptor_path, services, settings),
        access_log=[_access_log(settings.access_log_path)],
        local_reply_config=_local_reply_config(),
        generate_request_id=True,
        preserve_external_request_id=True,
        always_set_request_id_in_response=True,
        use_remote_address=True,
        normalize_path=True,
        merge_slashes=True,
        server_name="aether-edge",
    )


def build_bootstrap_message(descriptor_path: Path, settings: EdgeSettings) -> Bootstrap:
    """The typed (envoy-data-plane) bootstrap."""
    descriptor_path = Path(descriptor_path).resolve()
    if not settings.upstreams:
        raise ValueError("EdgeSettings.upstreams is empty: nothing to route")
    services = list(settings.upstreams)
    routed = rpcs(load_descriptor_set(descriptor_path), services)

    hcm = _http_connection_manager(descriptor_path, routed, services, settings)
    listener = Listener(
        name=LISTENER_NAME,
        address=_socket(settings.listen_host, settings.listen_port),
        filter_chains=[
            FilterChain(
                filters=[
                    Filter(name="envoy.filters.network.http_connection_manager", typed_config=Any.pack(hcm))
                ],
            )
        ],
    )
    clusters = [
        _cluster(cluster_name(service), address, grpc_service=service, settings=settings)
        for service, address in settings.upstreams.items()
    ]
    clusters.append(_cluster(JWKS_CLUSTER, settings.jwks_address, grpc_service=None, settings=settings))
    bootstrap = Bootstrap(
        node=Node(id="aether-edge", cluster="aether-edge"),
        static_resources=BootstrapStaticResources(listeners=[listener], clusters=clusters),
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
    if settings.admin_port is not None:
        bootstrap.admin = Admin(address=_socket("127.0.0.1", settings.admin_port))
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
