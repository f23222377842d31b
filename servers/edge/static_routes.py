"""Files the edge serves itself (direct responses, no upstream, no JWT): the generated OpenAPI
document at /api/v1/openapi.json and the API docs page (vendored Swagger UI) at /api/docs."""

from __future__ import annotations

import warnings
from pathlib import Path

from servers.edge.envoy_values import exact_header
from servers.edge.filters import JWT_FILTER, TRANSCODER_FILTER

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.core.v3 import (
        DataSource,
        HeaderValue,
        HeaderValueOption,
        HeaderValueOptionHeaderAppendAction,
    )
    from envoy_data_plane.envoy.config.route.v3 import DirectResponseAction, FilterConfig, Route, RouteMatch
    from envoy_data_plane.envoy.extensions.filters.http.jwt_authn.v3 import PerRouteConfig
    from envoy_data_plane.google.protobuf import Any

STATIC = Path(__file__).resolve().parent / "static"
OPENAPI = Path(__file__).resolve().parents[2] / "gen" / "openapi" / "openapi.json"
SWAGGER_UI = STATIC / "swagger-ui"

# path -> (file, content type)
FILES = {
    "/api/v1/openapi.json": (OPENAPI, "application/json"),
    "/api/docs": (STATIC / "docs.html", "text/html; charset=utf-8"),
    "/api/docs/swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "/api/docs/swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css; charset=utf-8"),
}


def largest_static_body() -> int:
    """Envoy's cap on direct-response bodies (4 KiB by default) must fit the largest file."""
    return max(file.stat().st_size for file, _ in FILES.values())


def static_routes() -> list[Route]:
    """One GET route per file; Envoy reads the files when it loads the configuration."""
    return [
        Route(
            name=f"static:{path}",
            match=RouteMatch(path=path, headers=[exact_header(":method", "GET")]),
            direct_response=DirectResponseAction(status=200, body=DataSource(filename=str(file))),
            response_headers_to_add=[
                HeaderValueOption(
                    header=HeaderValue(key="content-type", value=content_type),
                    append_action=HeaderValueOptionHeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
                )
            ],
            # Not an RPC: no JWT, and the transcoder (which rejects unknown methods) stays out.
            typed_per_filter_config={
                JWT_FILTER: Any.pack(PerRouteConfig(disabled=True)),
                TRANSCODER_FILTER: Any.pack(FilterConfig(disabled=True)),
            },
        )
        for path, (file, content_type) in FILES.items()
    ]
