"""Envoy's own error replies (400/401/404/413/429/503 ...) as the clients expect them.

REST clients get a google.rpc.Status JSON body (with the request id, and ErrorInfo on 429); native
gRPC clients keep Envoy's trailers-only replies with a few grpc-status codes corrected.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from servers.edge.envoy_values import exact_header
from servers.edge.filters import HEALTHZ_PATH, READYZ_PATH
from servers.platform.errors import ERROR_DOMAIN, ErrorReason

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.accesslog.v3 import (
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
    from envoy_data_plane.envoy.config.core.v3 import (
        DataSource,
        HeaderValue,
        HeaderValueOption,
        HeaderValueOptionHeaderAppendAction,
        RuntimeUInt32,
        SubstitutionFormatString,
    )
    from envoy_data_plane.envoy.config.route.v3 import HeaderMatcher
    from envoy_data_plane.envoy.extensions.access_loggers.filters.cel.v3 import ExpressionFilter
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
        LocalReplyConfig,
        ResponseMapper,
    )
    from envoy_data_plane.envoy.type.matcher.v3 import StringMatcher
    from envoy_data_plane.google.protobuf import Any, Struct

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
    return _header_filter(exact_header(":path", path))


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


def local_reply_config() -> LocalReplyConfig:
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
