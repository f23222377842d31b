"""The HTTP filter chain of the edge listener and the filter configs routes refer to: the Lua
filter (request ids, error details, security headers), health and readiness, CORS, JWT
authentication, body buffer, gRPC-JSON transcoder, router.

Per-route configs are keyed by the filter names defined here (see :mod:`servers.edge.routes`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any as TypingAny

from servers.edge.clusters import JWKS_CLUSTER, cluster_name
from servers.edge.envoy_values import exact_header, seconds
from servers.edge.lua_filter import (
    LUA_FILTER,
    TRAILER_HEADERS_FILTER,
    lua_filter_config,
    trailer_headers_filter_config,
)
from servers.edge.settings import EdgeSettings

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.core.v3 import HttpUri
    from envoy_data_plane.envoy.extensions.filters.http.buffer.v3 import Buffer
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
        JwtCacheConfig,
        JwtHeader,
        JwtProvider,
        JwtRequirement,
        RemoteJwks,
    )
    from envoy_data_plane.envoy.extensions.filters.http.router.v3 import Router
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import HttpFilter
    from envoy_data_plane.envoy.type.matcher.v3 import StringMatcher
    from envoy_data_plane.envoy.type.v3 import Percent
    from envoy_data_plane.google.protobuf import Any

HEALTHZ_FILTER = "aether.healthz"
READYZ_FILTER = "aether.readyz"
CORS_FILTER = "envoy.filters.http.cors"
JWT_FILTER = "envoy.filters.http.jwt_authn"
BUFFER_FILTER = "envoy.filters.http.buffer"
TRANSCODER_FILTER = "envoy.filters.http.grpc_json_transcoder"
ROUTER_FILTER = "envoy.filters.http.router"

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
JWT_PROVIDER = "aether"
JWT_REQUIREMENT = "authenticated"
JWKS_PATH = "/.well-known/jwks.json"

CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "authorization, content-type, x-request-id, grpc-timeout, x-grpc-web, x-user-agent"
CORS_EXPOSE_HEADERS = (
    "x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, grpc-status, grpc-message"
)


def http_filters(
    descriptor_path: Path, services: Sequence[str], settings: EdgeSettings, *, max_request_body_size: int
) -> list[HttpFilter]:
    """The listener's filter chain, in order. ``max_request_body_size`` is the transcoder's own
    limit: the largest of the routes' limits, which the buffer filter enforces per route."""

    def hf(name: str, config: TypingAny) -> HttpFilter:
        return HttpFilter(name=name, typed_config=Any.pack(config))

    filters = [
        # First, so that every later filter's local reply passes its response side.
        hf(LUA_FILTER, lua_filter_config()),
        # Liveness: Envoy answers itself.
        hf(
            HEALTHZ_FILTER,
            HealthCheckFilter(pass_through_mode=False, headers=[exact_header(":path", HEALTHZ_PATH)]),
        ),
        # Readiness: 200 only while every upstream cluster has all its hosts healthy.
        hf(
            READYZ_FILTER,
            HealthCheckFilter(
                pass_through_mode=False,
                headers=[exact_header(":path", READYZ_PATH)],
                cluster_min_healthy_percentages={
                    cluster_name(service): Percent(value=100.0) for service in services
                },
            ),
        ),
    ]
    if settings.cors_allowed_origins:
        filters.append(hf(CORS_FILTER, Cors()))
    filters += [
        hf(JWT_FILTER, _jwt_authn(settings)),
        hf(BUFFER_FILTER, Buffer(max_request_bytes=settings.max_request_bytes)),
        hf(TRANSCODER_FILTER, transcoder(descriptor_path, services, max_request_body_size)),
        # Off unless a route enables it (the REST routes of unary RPCs, routes.py).
        HttpFilter(
            name=TRAILER_HEADERS_FILTER,
            typed_config=Any.pack(trailer_headers_filter_config()),
            disabled=True,
        ),
        hf(ROUTER_FILTER, Router()),
    ]
    return filters


def cors_policy(settings: EdgeSettings) -> CorsPolicy:
    """The virtual host's CORS policy: exactly the configured origins, no credentials."""
    return CorsPolicy(
        allow_origin_string_match=[StringMatcher(exact=o) for o in settings.cors_allowed_origins],
        allow_methods=CORS_ALLOW_METHODS,
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age="86400",
        allow_credentials=False,
        forward_not_matching_preflights=False,
    )


def _jwt_authn(settings: EdgeSettings) -> JwtAuthentication:
    provider = JwtProvider(
        issuer=settings.jwt_issuer,
        audiences=[settings.jwt_audience],
        require_expiration=True,
        # Only the Authorization header: without this Envoy also takes ?access_token=, which
        # puts tokens in URLs (logs, proxies, browser history).
        from_headers=[JwtHeader(name="Authorization", value_prefix="Bearer ")],
        # Servers verify the token again (defence in depth), so pass it on.
        forward=True,
        payload_in_metadata="jwt_payload",
        # A token verified once is not verified again while cached (a client sends the same
        # one with every call): the signature check is most of the filter's CPU. Expiry is
        # still checked on every hit; revocation is the servers' check, not the edge's.
        jwt_cache_config=JwtCacheConfig(jwt_cache_size=settings.jwt_cache_size),
        remote_jwks=RemoteJwks(
            http_uri=HttpUri(
                uri=f"http://{settings.jwks_address}{JWKS_PATH}",
                cluster=JWKS_CLUSTER,
                timeout=seconds(5),
            ),
            cache_duration=seconds(settings.jwks_cache_seconds),
            # fast_listener: the JWKS is served through this very listener, so it
            # must not wait for the first fetch; failed fetches are retried every second.
            async_fetch=JwksAsyncFetch(fast_listener=True, failed_refetch_duration=seconds(1)),
        ),
    )
    return JwtAuthentication(
        providers={JWT_PROVIDER: provider},
        requirement_map={JWT_REQUIREMENT: JwtRequirement(provider_name=JWT_PROVIDER)},
        bypass_cors_preflight=True,
    )


def transcoder(
    descriptor_path: Path, services: Sequence[str], max_request_body_size: int, *, sse: bool = False
) -> GrpcJsonTranscoder:
    """The transcoder's config. Its body limit is the one Envoy enforces on a REST body (the
    buffer filter's per-route limit does not hold once the transcoder has set its own), so the
    listener's carries the default and a route with a larger limit gets its own copy.

    ``sse``: server streams framed as Server-Sent Events (``data: <json>\\n\\n``, content-type
    text/event-stream) instead of newline-delimited JSON; the config of the streams' SSE routes
    (servers.edge.routes)."""
    return GrpcJsonTranscoder(
        proto_descriptor=str(descriptor_path),
        services=list(services),
        print_options=GrpcJsonTranscoderPrintOptions(
            # lowerCamelCase JSON names. Zero values are printed too (`"valid": false`,
            # `"overdue": 0`), so every response has the contract's full shape; only
            # unset messages and `optional` fields are left out.
            preserve_proto_field_names=False,
            always_print_primitive_fields=True,
            # NDJSON: one message per line (content-type application/json, Envoy's choice).
            stream_newline_delimited=True,
            stream_sse_style_delimited=sse,
        ),
        convert_grpc_status=True,
        # HTML forms and most clients encode spaces in query strings as "+".
        query_param_unescape_plus=True,
        # The REST route (its JWT / rate-limit / body-limit config) stays the route of the request.
        match_incoming_request_route=True,
        request_validation_options=GrpcJsonTranscoderRequestValidationOptions(
            reject_unknown_method=True,
            # A misspelt filter (?staus=done) must not silently list everything.
            reject_unknown_query_parameters=True,
        ),
        max_request_body_size=max_request_body_size,
    )
