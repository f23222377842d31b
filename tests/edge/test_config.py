"""The generated bootstrap: derived from the descriptors, and valid for Envoy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from servers.edge import (
    EdgeSettings,
    build_bootstrap,
    cluster_name,
    load_descriptor_set,
    rpcs,
    write_bootstrap,
)
from servers.edge.filters import (
    JWT_FILTER,
    JWT_REQUIREMENT,
    TRANSCODER_FILTER,
)
from servers.edge.http_template import TemplateError, parse_template
from servers.platform.errors import ERROR_DOMAIN
from tests.edge.conftest import DESCRIPTOR
from tests.edge.envoy_runner import validate
from tests.edge.fake_auth import SERVICE as AUTH
from tests.edge.synthetic import ROUTED, UNROUTED

TYPE = "type.googleapis.com/envoy.extensions"


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["staticResources"]["listeners"][0]
    hcm: dict[str, Any] = listener["filterChains"][0]["filters"][0]["typedConfig"]
    return hcm


def _routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    routes = _hcm(config)["routeConfig"]["virtualHosts"][0]["routes"]
    return {r["name"]: r for r in routes}


def _route_list(config: dict[str, Any]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = _hcm(config)["routeConfig"]["virtualHosts"][0]["routes"]
    return routes


def _hcm_listener_address(config: dict[str, Any]) -> dict[str, Any]:
    address: dict[str, Any] = config["staticResources"]["listeners"][0]["address"]["socketAddress"]
    return address


def _filter(config: dict[str, Any], name: str) -> dict[str, Any]:
    for f in _hcm(config)["httpFilters"]:
        if f["name"] == name:
            typed: dict[str, Any] = f["typedConfig"]
            return typed
    raise KeyError(name)


@pytest.fixture(scope="module")
def auth_only() -> dict[str, Any]:
    return build_bootstrap(DESCRIPTOR, EdgeSettings(upstreams={AUTH: "127.0.0.1:50051"}))


@pytest.fixture(scope="module")
def augmented(augmented_descriptor: Path) -> dict[str, Any]:
    settings = EdgeSettings(upstreams={AUTH: "127.0.0.1:50051", ROUTED: "localhost:50052"})
    return build_bootstrap(augmented_descriptor, settings)


# --------------------------------------------------------------------------- envoy --mode validate


def test_current_descriptor_passes_envoy_validate(tmp_path: Path) -> None:
    settings = EdgeSettings(
        upstreams={AUTH: "127.0.0.1:50051"},
        admin_port=9901,
        cors_allowed_origins=["https://app.example.com"],
    )
    out = write_bootstrap(DESCRIPTOR, settings, tmp_path / "envoy.json")
    json.loads(out.read_text())
    result = validate(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_every_service_routed_passes_envoy_validate(tmp_path: Path, augmented_descriptor: Path) -> None:
    """Every service of the real set (whatever domains exist now) plus the synthetic shapes."""
    fds = load_descriptor_set(augmented_descriptor)
    services = {r.service for r in rpcs(fds)} - {UNROUTED}
    upstreams = {s: f"localhost:{50051 + i}" for i, s in enumerate(sorted(services))}
    out = write_bootstrap(augmented_descriptor, EdgeSettings(upstreams=upstreams), tmp_path / "envoy.json")
    result = validate(out)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- derived routes


def test_every_auth_rpc_has_a_rest_and_a_grpc_route(auth_only: dict[str, Any]) -> None:
    routes = _routes(auth_only)
    auth_rpcs = rpcs(load_descriptor_set(DESCRIPTOR), [AUTH])
    assert {r.name for r in auth_rpcs} >= {"Register", "Login", "GetMe", "GetJwks"}
    for rpc in auth_rpcs:
        rest = routes[f"rest:{AUTH}.{rpc.name}:0"]
        grpc = routes[f"grpc:{AUTH}.{rpc.name}"]
        assert rest["route"]["cluster"] == grpc["route"]["cluster"] == cluster_name(AUTH)
        assert grpc["match"]["path"] == f"/{AUTH}/{rpc.name}"
        assert grpc["match"]["grpc"] == {}
        binding = rpc.bindings[0]
        assert rest["match"]["headers"] == [{"name": ":method", "stringMatch": {"exact": binding.method}}]
    register = routes[f"rest:{AUTH}.Register:0"]["match"]
    assert register["path"] == "/api/v1/auth/register"
    assert register["headers"][0]["stringMatch"]["exact"] == "POST"
    assert routes[f"rest:{AUTH}.GetMe:0"]["match"]["headers"][0]["stringMatch"]["exact"] == "GET"


def test_additional_bindings_get_their_own_route(auth_only: dict[str, Any]) -> None:
    routes = _routes(auth_only)
    assert routes[f"rest:{AUTH}.GetJwks:0"]["match"]["path"] == "/api/v1/auth/jwks"
    assert routes[f"rest:{AUTH}.GetJwks:1"]["match"]["path"] == "/.well-known/jwks.json"


def test_unrouted_service_is_answered_by_envoy_itself(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    assert [n for n in routes if UNROUTED in n] == [f"unserved:{UNROUTED}"]
    unserved = routes[f"unserved:{UNROUTED}"]
    assert unserved["directResponse"]["status"] == 501  # UNIMPLEMENTED, NOT_CONFIGURED
    assert "only a contract" in unserved["directResponse"]["body"]["inlineString"]
    assert any(ROUTED in n for n in routes)
    services = _filter(augmented, TRANSCODER_FILTER)["services"]
    assert sorted(services) == sorted([AUTH, ROUTED])
    clusters = {c["name"] for c in augmented["staticResources"]["clusters"]}
    assert cluster_name(UNROUTED) not in clusters


def test_path_variables_become_one_segment_regexes(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    get_thing = routes[f"rest:{ROUTED}.GetThing:0"]["match"]["safeRegex"]["regex"]
    assert re.fullmatch(get_thing, "/api/v1/edgetest/things/abc")
    assert not re.fullmatch(get_thing, "/api/v1/edgetest/things/a/b")
    cancel = routes[f"rest:{ROUTED}.CancelThing:0"]["match"]["safeRegex"]["regex"]
    assert re.fullmatch(cancel, "/api/v1/edgetest/things/abc:cancel")
    files = routes[f"rest:{ROUTED}.GetFile:0"]["match"]["safeRegex"]["regex"]
    assert re.fullmatch(files, "/api/v1/edgetest/files/a/b/c.txt")
    rename = routes[f"rest:{ROUTED}.Rename:0"]["match"]
    assert rename["headers"][0]["stringMatch"]["exact"] == "PATCH"


def test_literal_routes_come_before_variable_ones(augmented: dict[str, Any]) -> None:
    order = [r["name"] for r in _route_list(augmented)]
    assert order.index(f"rest:{ROUTED}.GetStats:0") < order.index(f"rest:{ROUTED}.GetThing:0")
    assert order.index(f"rest:{ROUTED}.CancelThing:0") < order.index(f"rest:{ROUTED}.GetThing:0")
    # Every REST route precedes the native gRPC routes, and the catch-alls come last.
    first_grpc = min(i for i, n in enumerate(order) if n.startswith("grpc:"))
    assert all(n.startswith(("grpc:", "unserved:")) for n in order[first_grpc:-2])
    assert order[-2:] == ["grpc-reflection", "grpc-unknown"]


def test_public_rpcs_need_no_jwt_and_the_others_do(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    public = {f"{AUTH}.Register", f"{AUTH}.Login", f"{AUTH}.Refresh", f"{AUTH}.GetJwks", f"{ROUTED}.GetStats"}
    protected = {f"{AUTH}.GetMe", f"{AUTH}.Validate", f"{AUTH}.Logout", f"{ROUTED}.GetThing"}
    # An RPC without any access option is protected (fail closed).
    protected.add(f"{ROUTED}.Forgotten")
    for name, route in routes.items():
        if not name.startswith(("rest:", "grpc:")):
            continue
        rpc = name.split(":")[1]
        jwt = route["typedPerFilterConfig"][JWT_FILTER]
        if rpc in public:
            assert jwt.get("disabled") is True, name
        elif rpc in protected:
            assert jwt.get("requirementName") == JWT_REQUIREMENT, name
            assert not jwt.get("disabled"), name


def test_jwt_provider(auth_only: dict[str, Any]) -> None:
    jwt = _filter(auth_only, JWT_FILTER)
    provider = jwt["providers"]["aether"]
    assert provider["issuer"] == "aether-auth"
    assert provider["audiences"] == ["aether"]
    assert provider["forward"] is True
    remote = provider["remoteJwks"]
    assert remote["httpUri"]["uri"] == "http://127.0.0.1:8080/.well-known/jwks.json"
    assert remote["cacheDuration"] == "300s"
    assert remote["asyncFetch"]["fastListener"] is True
    assert jwt["requirementMap"][JWT_REQUIREMENT] == {"providerName": "aether"}


def test_no_route_has_an_edge_rate_limit(augmented: dict[str, Any]) -> None:
    """Rate limits are per caller, in the servers (servers/platform/rate_limits.py): no bucket per
    route at the edge for everybody; the edge passes the client's address instead."""
    assert "local_ratelimit" not in json.dumps(augmented)
    hcm = _hcm(augmented)
    (vhost,) = hcm["routeConfig"]["virtualHosts"]
    [added] = vhost["requestHeadersToAdd"]
    assert added["header"] == {
        "key": "x-aether-client-address",
        "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    }
    assert added["appendAction"] == "OVERWRITE_IF_EXISTS_OR_ADD"  # a client's own value is replaced
    assert hcm.get("xffNumTrustedHops", 0) == 0


def test_transcoder_options(auth_only: dict[str, Any]) -> None:
    t = _filter(auth_only, TRANSCODER_FILTER)
    assert t["protoDescriptor"] == str(DESCRIPTOR.resolve())
    assert t["convertGrpcStatus"] is True
    assert t["queryParamUnescapePlus"] is True
    assert t["matchIncomingRequestRoute"] is True
    assert t["requestValidationOptions"]["rejectUnknownMethod"] is True
    # JSON names, and zero values printed so responses always have the contract's shape.
    assert t["printOptions"] == {"alwaysPrintPrimitiveFields": True, "streamNewlineDelimited": True}


def test_streaming_rpcs_have_no_route_timeout(augmented: dict[str, Any]) -> None:
    routes = _routes(augmented)
    assert routes[f"rest:{ROUTED}.WatchThings:0"]["route"]["timeout"] == "0s"
    assert routes[f"grpc:{ROUTED}.WatchThings"]["route"]["timeout"] == "0s"
    assert routes[f"rest:{AUTH}.GetMe:0"]["route"]["timeout"] == "60s"


def test_rate_limit_trailers_become_headers_on_unary_rest_routes_only(augmented: dict[str, Any]) -> None:
    """The default-off second Lua filter buffers a reply: a stream must never meet it."""
    from servers.edge.lua_filter import TRAILER_HEADERS_FILTER

    routes = _routes(augmented)
    names = [f["name"] for f in _hcm(augmented)["httpFilters"]]
    assert names[-2:] == [TRAILER_HEADERS_FILTER, "envoy.filters.http.router"]
    enabled = {
        name for name, r in routes.items() if TRAILER_HEADERS_FILTER in r.get("typedPerFilterConfig", {})
    }
    assert f"rest:{AUTH}.GetMe:0" in enabled
    assert f"rest:{ROUTED}.WatchThings:0" not in enabled
    assert f"rest:{ROUTED}.WatchThings:0:sse" not in enabled
    assert not {name for name in enabled if not name.startswith("rest:")}


def test_every_binding_of_a_server_stream_has_an_sse_route_before_its_plain_one(
    augmented: dict[str, Any],
) -> None:
    order = [r["name"] for r in _route_list(augmented)]
    routes = _routes(augmented)
    for index in (0, 1):  # WatchThings has an additional binding
        plain, sse = (
            routes[f"rest:{ROUTED}.WatchThings:{index}"],
            routes[f"rest:{ROUTED}.WatchThings:{index}:sse"],
        )
        assert order.index(sse["name"]) == order.index(plain["name"]) - 1
        assert sse["match"]["headers"] == [
            *plain["match"]["headers"],
            {"name": "accept", "stringMatch": {"contains": "text/event-stream", "ignoreCase": True}},
        ]
        assert {**sse["match"], "headers": None} == {**plain["match"], "headers": None}
        assert sse["route"] == plain["route"]
        transcoder = sse["typedPerFilterConfig"][TRANSCODER_FILTER]
        assert transcoder["printOptions"]["streamSseStyleDelimited"] is True
        # Otherwise the listener's config: the same services, names and limits.
        listener = _filter(augmented, TRANSCODER_FILTER)
        assert {k: v for k, v in transcoder.items() if k not in ("printOptions", "@type")} == {
            k: v for k, v in listener.items() if k not in ("printOptions", "@type")
        }
    assert not [n for n in order if n.endswith(":sse") and "WatchThings" not in n]
    # HTTP/1.1 clients get a stream's trailers: a mid-stream error's grpc-status.
    assert _hcm(augmented)["httpProtocolOptions"] == {"enableTrailers": True}


def test_every_server_stream_of_the_real_protos_has_sse_routes() -> None:
    routed = rpcs(load_descriptor_set(DESCRIPTOR))
    upstreams = {s: "127.0.0.1:50051" for s in {r.service for r in routed}}
    names = set(_routes(build_bootstrap(DESCRIPTOR, EdgeSettings(upstreams=upstreams))))
    streams = {
        f"rest:{r.full_name}:{i}:sse" for r in routed if r.server_streaming for i in range(len(r.bindings))
    }
    assert {
        "rest:aether.ai.v1.AiService.StreamChat:0:sse",
        "rest:aether.rag.v1.RagService.IngestDocument:0:sse",
    } <= streams
    assert {n for n in names if n.endswith(":sse")} == streams


def test_clusters_are_http2_with_grpc_health_checks(augmented: dict[str, Any]) -> None:
    clusters = {c["name"]: c for c in augmented["staticResources"]["clusters"]}
    auth, routed = clusters[cluster_name(AUTH)], clusters[cluster_name(ROUTED)]
    assert auth["type"] == "STATIC"
    assert routed["type"] == "STRICT_DNS"
    for cluster, service in ((auth, AUTH), (routed, ROUTED)):
        options = cluster["typedExtensionProtocolOptions"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ]
        # A few requests per connection, so a GRPC_WORKERS server's workers all get connections.
        assert options["explicitHttpConfig"]["http2ProtocolOptions"] == {"maxConcurrentStreams": 4}
        (check,) = cluster["healthChecks"]
        assert check["grpcHealthCheck"] == {"serviceName": service}
        assert check["noTrafficInterval"] == "1s"
    jwks = clusters["aether_edge_jwks"]
    assert "typedExtensionProtocolOptions" not in jwks
    assert "healthChecks" not in jwks


def test_readyz_needs_every_upstream_cluster(augmented: dict[str, Any]) -> None:
    ready = _filter(augmented, "aether.readyz")
    assert ready["passThroughMode"] is False
    assert ready["clusterMinHealthyPercentages"] == {
        cluster_name(AUTH): {"value": 100.0},
        cluster_name(ROUTED): {"value": 100.0},
    }
    live = _filter(augmented, "aether.healthz")
    assert "clusterMinHealthyPercentages" not in live


def test_local_replies_are_google_rpc_status(auth_only: dict[str, Any]) -> None:
    mappers = _hcm(auth_only)["localReplyConfig"]["mappers"]
    by_status: dict[int, int] = {}
    for mapper in mappers:
        body = mapper.get("bodyFormatOverride")
        filters = mapper["filter"].get("andFilter", {}).get("filters", [])
        status = [f["statusCodeFilter"]["comparison"] for f in filters if "statusCodeFilter" in f]
        if not body or not status or status[0].get("op", "EQ") != "EQ" or "body" in mapper:
            continue
        if any("extensionFilter" in f for f in filters):
            continue
        assert body["contentType"] == "application/json"
        fmt = body["jsonFormat"]
        assert fmt["message"] == "%LOCAL_REPLY_BODY%"
        assert fmt["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
        assert fmt["details"][0]["domain"] == ERROR_DOMAIN
        assert fmt["details"][1] == {
            "@type": "type.googleapis.com/google.rpc.RequestInfo",
            "requestId": "%REQ(X-REQUEST-ID)%",
        }
        by_status.setdefault(status[0]["value"]["defaultValue"], int(fmt["code"]))
    assert by_status == {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 429: 8, 501: 12, 503: 14, 504: 4}
    catch_all = [m for m in mappers if "GE" in json.dumps(m["filter"])]
    assert catch_all and catch_all[0]["bodyFormatOverride"]["jsonFormat"]["code"] == 2


def test_hcm_request_ids_and_access_log(auth_only: dict[str, Any]) -> None:
    hcm = _hcm(auth_only)
    assert hcm["generateRequestId"] is True
    assert hcm["preserveExternalRequestId"] is True
    assert hcm["useRemoteAddress"] is True
    (log,) = hcm["accessLog"]
    assert log["typedConfig"]["path"] == "/dev/stdout"
    fields = log["typedConfig"]["logFormat"]["jsonFormat"]
    for key in ("requestId", "method", "path", "status", "grpcStatus", "durationMs", "upstreamCluster"):
        assert key in fields


def test_admin_only_on_loopback() -> None:
    without = build_bootstrap(DESCRIPTOR, EdgeSettings(upstreams={AUTH: "127.0.0.1:1"}))
    assert "admin" not in without
    public = "0.0.0.0"  # noqa: S104 - the listener may be public, the admin never is
    with_admin = build_bootstrap(
        DESCRIPTOR, EdgeSettings(listen_host=public, admin_port=9901, upstreams={AUTH: "127.0.0.1:1"})
    )
    assert _hcm_listener_address(with_admin) == {"address": public, "portValue": 8080}
    assert with_admin["admin"]["address"]["socketAddress"] == {"address": "127.0.0.1", "portValue": 9901}


def test_cors_only_when_origins_are_configured(auth_only: dict[str, Any]) -> None:
    assert "envoy.filters.http.cors" not in [f["name"] for f in _hcm(auth_only)["httpFilters"]]
    config = build_bootstrap(
        DESCRIPTOR, EdgeSettings(upstreams={AUTH: "127.0.0.1:1"}, cors_allowed_origins=["https://a.example"])
    )
    policy = _hcm(config)["routeConfig"]["virtualHosts"][0]["typedPerFilterConfig"]["envoy.filters.http.cors"]
    assert policy["allowOriginStringMatch"] == [{"exact": "https://a.example"}]
    assert _route_list(config)[0]["name"] == "cors-preflight"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"upstreams": {AUTH: "nohost"}},
        {"upstreams": {AUTH: "127.0.0.1:1"}, "xff_num_trusted_hops": -1},
        {"upstreams": {AUTH: "127.0.0.1:1"}, "cors_allowed_origins": ["*"]},
        {"upstreams": {AUTH: "127.0.0.1:1"}, "admin_port": 70000},
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EdgeSettings(**kwargs)


def test_unknown_upstream_service_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in the descriptor set"):
        build_bootstrap(DESCRIPTOR, EdgeSettings(upstreams={"aether.nope.v1.NopeService": "127.0.0.1:1"}))


# --------------------------------------------------------------------------- path templates


@pytest.mark.parametrize(
    ("template", "matches", "rejects"),
    [
        ("/api/v1/tasks", ["/api/v1/tasks"], ["/api/v1/tasks/x"]),
        ("/api/v1/tasks/{id}", ["/api/v1/tasks/abc"], ["/api/v1/tasks", "/api/v1/tasks/a/b"]),
        ("/api/v1/tasks/{id}/complete", ["/api/v1/tasks/1/complete"], ["/api/v1/tasks/1/2/complete"]),
        ("/v1/{name=projects/*/things/*}", ["/v1/projects/p/things/t"], ["/v1/projects/p/things"]),
        ("/v1/{name=files/**}", ["/v1/files/a/b/c"], ["/v1/other/a"]),
        ("/v1/{id}:cancel", ["/v1/abc:cancel"], ["/v1/abc"]),
        ("/v1/a.b/{x.y}", ["/v1/a.b/z"], ["/v1/aXb/z"]),
    ],
)
def test_templates(template: str, matches: list[str], rejects: list[str]) -> None:
    parsed = parse_template(template)
    for path in matches:
        assert re.fullmatch(parsed.regex, path), path
    for path in rejects:
        assert not re.fullmatch(parsed.regex, path), path


@pytest.mark.parametrize("template", ["api/v1", "/v1/{id", "/v1/}x", "/v1//x", "/v1/{a b}", "/v1/x:"])
def test_bad_templates(template: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(template)


def test_cli_writes_the_bootstrap(tmp_path: Path) -> None:
    from servers.edge.__main__ import main

    out = tmp_path / "cli.json"
    argv = ["--upstream", f"{AUTH}=127.0.0.1:50051", "--listen", "127.0.0.1:18080", "--out", str(out)]
    assert main(argv) == 0
    config = json.loads(out.read_text())
    assert _hcm_listener_address(config) == {"address": "127.0.0.1", "portValue": 18080}
    assert f"grpc:{AUTH}.GetMe" in _routes(config)


def test_two_rpcs_on_one_rest_binding_are_rejected() -> None:
    from servers.edge.descriptors import HttpBinding, Rpc
    from servers.edge.routes import build_routes

    def rpc(name: str, template: str) -> Rpc:
        binding = HttpBinding(method="GET", path=parse_template(template), body="")
        return Rpc(ROUTED, name, False, (), None, False, False, False, (binding,))

    settings = EdgeSettings(upstreams={ROUTED: "127.0.0.1:1"})
    build_routes([rpc("A", "/v1/things/{id}"), rpc("B", "/v1/things/stats")], settings)
    with pytest.raises(ValueError, match="already bound"):
        build_routes([rpc("A", "/v1/things/{id}"), rpc("B", "/v1/things/{name}")], settings)
