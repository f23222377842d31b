"""Envoy's own error replies (400/401/404/413/429/503 ...) as the clients expect them.

REST clients get a google.rpc.Status JSON body, native gRPC clients a trailers-only reply with the
right grpc-status and (via servers.edge.lua_filter) grpc-status-details-bin; both carry ErrorInfo
and RequestInfo, like an error a server makes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any as TypingAny

from servers.edge.envoy_values import exact_header
from servers.edge.filters import HEALTHZ_PATH, READYZ_PATH
from servers.edge.lua_filter import ERROR_REASON_HEADER
from servers.platform.errors import ERROR_DOMAIN, OUTAGE_RETRY_SECONDS, ErrorReason

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

# Envoy local-reply HTTP status -> (google.rpc.Code, ErrorInfo.reason) of the reply.
# 413 -> RESOURCE_EXHAUSTED (8): it is what a gRPC server answers for a message
# above its max receive size, so REST and native gRPC clients see the same code;
# INVALID_ARGUMENT would claim the content is wrong when only its size is.
# 501 is a contract-only service (servers.edge.routes): UNIMPLEMENTED, NOT_CONFIGURED.
LOCAL_REPLIES: Mapping[int, tuple[int, ErrorReason]] = {
    400: (3, ErrorReason.VALIDATION_ERROR),  # INVALID_ARGUMENT
    401: (16, ErrorReason.UNAUTHENTICATED),
    403: (7, ErrorReason.PERMISSION_DENIED),
    404: (5, ErrorReason.NOT_FOUND),
    413: (8, ErrorReason.VALIDATION_ERROR),  # RESOURCE_EXHAUSTED
    429: (8, ErrorReason.RATE_LIMIT_EXCEEDED),
    501: (12, ErrorReason.NOT_CONFIGURED),
    503: (14, ErrorReason.UNAVAILABLE),
    504: (4, ErrorReason.UNAVAILABLE),  # DEADLINE_EXCEEDED
}
LOCAL_REPLY_GRPC_CODES: Mapping[int, int] = {status: code for status, (code, _) in LOCAL_REPLIES.items()}
LOCAL_REPLY_DEFAULT = (2, ErrorReason.INTERNAL)  # UNKNOWN
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
EDGE_JSON_DEPTH = 100
"""Levels of objects and arrays (the body's own included) Envoy's transcoder parses in a REST
body (its protobuf writer's recursion limit, measured on 1.40; docs/security.md): a deeper body,
like a malformed one, is refused there (TRANSCODE_FAILURE) before any server sees it."""
BODY_MESSAGE = (
    "the request body is not JSON this method accepts: malformed, a value of the wrong type, "
    f"or nested deeper than {EDGE_JSON_DEPTH} levels"
)
QUERY_MESSAGE = (
    "a query parameter is not a field of this method's request, or its value is not of the field's type"
)
TOO_LARGE_MESSAGE = (
    "request too large: above this method's size limit "
    "(1 MiB unless its (aether.common.v1.max_request_bytes) says otherwise)"
)


def _status_body(code: int, reason: ErrorReason) -> SubstitutionFormatString:
    details: list[Mapping[str, str]] = [
        {"@type": ERROR_INFO, "reason": reason.value, "domain": ERROR_DOMAIN},
        {"@type": REQUEST_INFO, "requestId": "%REQ(X-REQUEST-ID)%"},
    ]
    if code == 14:  # UNAVAILABLE: retry shortly, as a server's own outage reply says
        details.append({"@type": RETRY_INFO, "retryDelay": f"{round(OUTAGE_RETRY_SECONDS)}s"})
    return SubstitutionFormatString(
        json_format=Struct.from_dict({"code": code, "message": "%LOCAL_REPLY_BODY%", "details": details}),
        content_type="application/json",
    )


def _transcode_failure_body(message: str) -> SubstitutionFormatString:
    """A REST request the transcoder could not turn into the request message: a field violation
    on the request (field "") as a server's own validation would give, the parser's words only
    in ErrorInfo.metadata.parserMessage (library text is no client message)."""
    details: list[Mapping[str, TypingAny]] = [
        {
            "@type": ERROR_INFO,
            "reason": ErrorReason.VALIDATION_ERROR.value,
            "domain": ERROR_DOMAIN,
            "metadata": {"parserMessage": "%LOCAL_REPLY_BODY%"},
        },
        {"@type": BAD_REQUEST, "fieldViolations": [{"field": "", "description": message}]},
        {"@type": REQUEST_INFO, "requestId": "%REQ(X-REQUEST-ID)%"},
    ]
    return SubstitutionFormatString(
        json_format=Struct.from_dict({"code": 3, "message": message, "details": details}),
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


def _code_details_start(prefix: str) -> AccessLogFilter:
    return AccessLogFilter(
        extension_filter=ExtensionFilter(
            name="envoy.access_loggers.extension_filters.cel",
            typed_config=Any.pack(
                ExpressionFilter(expression=f"response.code_details.startsWith('{prefix}')")
            ),
        )
    )


# jwt_authn answers 403 for a token whose audience is wrong; it is as invalid a
# token as a bad signature for us, so it becomes 401 like every other JWT failure.
JWT_FORBIDDEN = _code_details_start("jwt_authn_access_denied")


# The transcoder could not read a REST body: `grpc_json_transcode_failure{CODE}` (its response
# side's failure has the same details, as a 502). The early_ variant: the path or query string of
# a request without a body (an unknown query parameter, a value of the wrong type).
TRANSCODE_FAILURE = _code_details_start("grpc_json_transcode_failure{")
EARLY_TRANSCODE_FAILURE = _code_details_start("early_grpc_json_transcode_failure{")

# Native gRPC local replies: Envoy sends grpc-status from the HTTP code
# (401->16, 403->7, 404->12, 429->14, 503->14); these fix the codes whose default
# mapping is wrong for a client. 404 stays UNIMPLEMENTED (an unknown method).
NATIVE_GRPC_STATUS_OVERRIDES: Mapping[int, int] = {
    400: 3,  # default INTERNAL
    413: 8,  # default UNKNOWN; RESOURCE_EXHAUSTED like a server's own max-message check
    429: 8,  # default UNAVAILABLE
    501: 12,  # default UNKNOWN
    504: 4,  # default UNAVAILABLE
}


def _header(key: str, value: str) -> HeaderValueOption:
    return HeaderValueOption(
        header=HeaderValue(key=key, value=value),
        append_action=HeaderValueOptionHeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def _native_grpc(status: int, reason: ErrorReason, message: str | None = None) -> ResponseMapper:
    """A native gRPC local reply: the right grpc-status, and the reason the Lua filter turns
    into grpc-status-details-bin (servers.edge.lua_filter)."""
    headers = [_header(ERROR_REASON_HEADER, reason.value)]
    if status in NATIVE_GRPC_STATUS_OVERRIDES:
        headers.append(_header("grpc-status", str(NATIVE_GRPC_STATUS_OVERRIDES[status])))
    return ResponseMapper(
        filter=_and(IS_NATIVE_GRPC, _status_filter(ComparisonFilterOp.EQ, status)),
        headers_to_add=headers,
        body=None if message is None else DataSource(inline_string=message),
    )


def local_reply_config() -> LocalReplyConfig:
    """Envoy's own error replies as a server would have made them: REST gets a google.rpc.Status
    JSON body, native gRPC a trailers-only reply with grpc-status-details-bin; both with ErrorInfo
    (reason, ERROR_DOMAIN) and RequestInfo. The first mapper that matches applies."""
    mappers: list[ResponseMapper] = [
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, 403), JWT_FORBIDDEN),
            status_code=401,
            body_format_override=_status_body(*LOCAL_REPLIES[401]),
        ),
        ResponseMapper(
            filter=_and(IS_NATIVE_GRPC, _status_filter(ComparisonFilterOp.EQ, 403), JWT_FORBIDDEN),
            status_code=401,
            headers_to_add=[_header(ERROR_REASON_HEADER, ErrorReason.UNAUTHENTICATED.value)],
        ),
        # The health-check filter's 503 has an empty body.
        ResponseMapper(
            filter=_and(_path_filter(READYZ_PATH), _status_filter(ComparisonFilterOp.EQ, 503)),
            body=DataSource(inline_string="not ready: an upstream service has no healthy host"),
            body_format_override=_status_body(*LOCAL_REPLIES[503]),
        ),
        ResponseMapper(
            filter=_and(_path_filter(HEALTHZ_PATH), _status_filter(ComparisonFilterOp.EQ, 503)),
            body=DataSource(inline_string="not alive: Envoy is draining"),
            body_format_override=_status_body(*LOCAL_REPLIES[503]),
        ),
        # Route not found: Envoy's body is empty; say what happened.
        ResponseMapper(
            filter=_and(IS_REST, AccessLogFilter(response_flag_filter=ResponseFlagFilter(flags=["NR"]))),
            body=DataSource(inline_string="no route for this method and path"),
            body_format_override=_status_body(*LOCAL_REPLIES[404]),
        ),
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, 413)),
            body=DataSource(inline_string=TOO_LARGE_MESSAGE),
            body_format_override=_status_body(*LOCAL_REPLIES[413]),
        ),
        _native_grpc(413, LOCAL_REPLIES[413][1], TOO_LARGE_MESSAGE),
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, 400), TRANSCODE_FAILURE),
            body_format_override=_transcode_failure_body(BODY_MESSAGE),
        ),
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, 400), EARLY_TRANSCODE_FAILURE),
            body_format_override=_transcode_failure_body(QUERY_MESSAGE),
        ),
    ]
    for status, (code, reason) in LOCAL_REPLIES.items():
        mappers.append(
            ResponseMapper(
                filter=_and(IS_REST, _status_filter(ComparisonFilterOp.EQ, status)),
                body_format_override=_status_body(code, reason),
            )
        )
        mappers.append(_native_grpc(status, reason))
    mappers.append(
        ResponseMapper(
            filter=_and(IS_REST, _status_filter(ComparisonFilterOp.GE, 400)),
            body_format_override=_status_body(*LOCAL_REPLY_DEFAULT),
        )
    )
    mappers.append(
        ResponseMapper(
            filter=_and(IS_NATIVE_GRPC, _status_filter(ComparisonFilterOp.GE, 400)),
            headers_to_add=[_header(ERROR_REASON_HEADER, LOCAL_REPLY_DEFAULT[1].value)],
        )
    )
    return LocalReplyConfig(mappers=mappers)
