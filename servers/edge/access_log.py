"""The edge's access log: one JSON line per request (REST and native gRPC), with the request id,
the original REST method and path, the gRPC path and status, and the caller's user id."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.accesslog.v3 import AccessLog
    from envoy_data_plane.envoy.config.core.v3 import SubstitutionFormatString, TypedExtensionConfig
    from envoy_data_plane.envoy.extensions.access_loggers.file.v3 import FileAccessLog
    from envoy_data_plane.envoy.extensions.formatter.req_without_query.v3 import ReqWithoutQuery
    from envoy_data_plane.google.protobuf import Any, Struct

ACCESS_LOG_FORMAT: Mapping[str, str] = {
    "time": "%START_TIME%",
    "requestId": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
    # Without the query string: it is the client's, and may hold anything (a token, a password).
    "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "grpcPath": "%REQ_WITHOUT_QUERY(:PATH)%",
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


def access_log(path: str) -> AccessLog:
    """One JSON object per request, appended to ``path``."""
    return AccessLog(
        name="envoy.access_loggers.file",
        typed_config=Any.pack(
            FileAccessLog(
                path=path,
                log_format=SubstitutionFormatString(
                    json_format=Struct.from_dict(dict(ACCESS_LOG_FORMAT)),
                    formatters=[
                        TypedExtensionConfig(
                            name="envoy.formatter.req_without_query", typed_config=Any.pack(ReqWithoutQuery())
                        )
                    ],
                ),
            )
        ),
    )
