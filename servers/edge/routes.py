"""Envoy routes derived from the RPCs: a REST route per google.api.http binding and a native gRPC
route per RPC, each with its JWT requirement and body limit (per-route filter configs).

A server-streaming RPC's binding gets a second REST route just before the plain one, taken when
the request's Accept names text/event-stream: the same RPC with a transcoder config that frames
the stream as Server-Sent Events; every other request gets newline-delimited JSON."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any as TypingAny

from servers.edge.clusters import JWKS_CLUSTER, cluster_name
from servers.edge.descriptors import Rpc
from servers.edge.envoy_values import exact_header, seconds
from servers.edge.filters import BUFFER_FILTER, JWT_FILTER, JWT_REQUIREMENT, TRANSCODER_FILTER
from servers.edge.lua_filter import TRAILER_HEADERS_FILTER, trailer_headers_route_config
from servers.edge.settings import EdgeSettings

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.core.v3 import DataSource
    from envoy_data_plane.envoy.config.route.v3 import (
        DirectResponseAction,
        HeaderMatcher,
        RetryPolicy,
        Route,
        RouteAction,
        RouteActionMaxStreamDuration,
        RouteMatch,
        RouteMatchGrpcRouteMatchOptions,
    )
    from envoy_data_plane.envoy.extensions.filters.http.buffer.v3 import Buffer, BufferPerRoute
    from envoy_data_plane.envoy.extensions.filters.http.jwt_authn.v3 import PerRouteConfig
    from envoy_data_plane.envoy.type.matcher.v3 import RegexMatcher, StringMatcher
    from envoy_data_plane.google.protobuf import Any

REFLECTION_MESSAGE = (
    "server reflection is not served at the edge: use the descriptor set, "
    "e.g. grpcurl -protoset gen/descriptors/aether.binpb"
)
UNKNOWN_METHOD_MESSAGE = "unknown method: no such RPC is served here"

# Retries that cannot have reached the server (safe for non-idempotent RPCs).
SAFE_RETRY_ON = "connect-failure,refused-stream,reset-before-request"


def body_limit(rpc: Rpc, settings: EdgeSettings) -> int:
    """Largest request body (REST) or message (native gRPC) the edge lets through to ``rpc``."""
    return rpc.max_request_bytes or settings.max_request_bytes


# A transcoder config holding REST bodies to the given limit, SSE-framed streams or not
# (filters.transcoder, bound to the descriptor set), for the routes whose limit is above the
# listener's and for the SSE routes of server streams.
TranscoderFor = Callable[[int, bool], TypingAny]

SSE_MEDIA_TYPE = "text/event-stream"


def build_routes(
    all_rpcs: Sequence[Rpc],
    settings: EdgeSettings,
    unserved: Sequence[str] = (),
    transcoder_for: TranscoderFor | None = None,
) -> list[Route]:
    """Envoy routes, most specific REST templates first, then the native gRPC routes, then
    immediate answers for the rest of native gRPC: `unserved` services (contracts only),
    reflection and unknown methods (a stream must not wait for a body the buffer filter holds)."""
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
        rest.extend(_rest_routes(rpc, settings, transcoder_for))
    rest.sort(key=lambda item: item[0])
    routes = [_preflight_route()] if settings.cors_allowed_origins else []
    routes.extend(route for _, route in rest)
    routes.extend(_grpc_route(rpc, settings) for rpc in all_rpcs)
    for service in unserved:
        message = f"{service} is only a contract: this deployment does not serve it"
        routes.append(_grpc_reply(f"unserved:{service}", f"/{service}/", 501, message))
    routes.append(_grpc_reply("grpc-reflection", "/grpc.reflection.", 501, REFLECTION_MESSAGE))
    routes.append(_grpc_reply("grpc-unknown", "/", 404, UNKNOWN_METHOD_MESSAGE))
    return routes


def _grpc_reply(name: str, prefix: str, status: int, message: str) -> Route:
    """A native gRPC route Envoy answers at once (no JWT, no body buffering)."""
    return Route(
        name=name,
        match=RouteMatch(prefix=prefix, grpc=RouteMatchGrpcRouteMatchOptions()),
        direct_response=DirectResponseAction(status=status, body=DataSource(inline_string=message)),
        typed_per_filter_config={
            JWT_FILTER: Any.pack(PerRouteConfig(disabled=True)),
            BUFFER_FILTER: Any.pack(BufferPerRoute(disabled=True)),
        },
    )


def _per_route(
    rpc: Rpc, settings: EdgeSettings, transcoder_for: TranscoderFor | None = None, *, sse: bool = False
) -> dict[str, Any]:
    jwt = PerRouteConfig(disabled=True) if rpc.public else PerRouteConfig(requirement_name=JWT_REQUIREMENT)
    # The buffer filter holds every body to its RPC's limit (413 above it), REST and native gRPC
    # alike. The transcoder's own limit cannot: it sees one chunk of the JSON at a time, so a large
    # body arriving in small chunks would pass it.
    buffer = BufferPerRoute(buffer=Buffer(max_request_bytes=body_limit(rpc, settings)))
    per_route = {
        JWT_FILTER: Any.pack(jwt),
        BUFFER_FILTER: Any.pack(buffer),
    }
    limit = body_limit(rpc, settings)
    if transcoder_for is not None and (sse or limit > settings.max_request_bytes):
        per_route[TRANSCODER_FILTER] = Any.pack(transcoder_for(max(limit, settings.max_request_bytes), sse))
    return per_route


def _route_action(rpc: Rpc, settings: EdgeSettings) -> RouteAction:
    streaming = rpc.server_streaming or rpc.client_streaming
    return RouteAction(
        cluster=cluster_name(rpc.service),
        # Streams can run for long: no overall timeout (the HCM stream idle timeout still applies).
        timeout=seconds(0 if streaming else settings.unary_timeout_seconds),
        # A native gRPC caller's grpc-timeout is honoured as the stream's deadline.
        max_stream_duration=RouteActionMaxStreamDuration(grpc_timeout_header_max=seconds(0)),
        retry_policy=RetryPolicy(retry_on=SAFE_RETRY_ON, num_retries=2),
    )


def _rest_routes(
    rpc: Rpc, settings: EdgeSettings, transcoder_for: TranscoderFor | None = None
) -> list[tuple[tuple[TypingAny, ...], Route]]:
    out = []
    for index, binding in enumerate(rpc.bindings):
        template = binding.path
        # SSE first (0): the plain route (1) would take its requests too.
        variants = [True, False] if rpc.server_streaming else [False]
        for sse in variants:
            headers = [exact_header(":method", binding.method)]
            if sse:
                headers.append(_accepts_sse())
            match = RouteMatch(headers=headers)
            if template.literal:
                match.path = template.template
            else:
                match.safe_regex = RegexMatcher(regex=template.regex)
            per_route = _per_route(rpc, settings, transcoder_for, sse=sse)
            if not (rpc.server_streaming or rpc.client_streaming):  # a stream is never buffered
                per_route[TRAILER_HEADERS_FILTER] = Any.pack(trailer_headers_route_config())
            route = Route(
                name=f"rest:{rpc.full_name}:{index}" + (":sse" if sse else ""),
                match=match,
                route=_route_action(rpc, settings),
                typed_per_filter_config=per_route,
            )
            out.append(((*template.sort_key(), 0 if sse else 1), route))
    return out


def _accepts_sse() -> HeaderMatcher:
    """Accept naming text/event-stream (alone or among others, any case): an SSE client, or
    `curl -H 'accept: text/event-stream'`."""
    return HeaderMatcher(name="accept", string_match=StringMatcher(contains=SSE_MEDIA_TYPE, ignore_case=True))


def _grpc_route(rpc: Rpc, settings: EdgeSettings) -> Route:
    return Route(
        name=f"grpc:{rpc.full_name}",
        match=RouteMatch(path=rpc.grpc_path, grpc=RouteMatchGrpcRouteMatchOptions()),
        route=_route_action(rpc, settings),
        typed_per_filter_config=_per_route(rpc, settings),
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
                exact_header(":method", "OPTIONS"),
                HeaderMatcher(name="origin", present_match=True),
                HeaderMatcher(name="access-control-request-method", present_match=True),
            ],
        ),
        route=RouteAction(cluster=JWKS_CLUSTER),
        typed_per_filter_config={JWT_FILTER: Any.pack(PerRouteConfig(disabled=True))},
    )
