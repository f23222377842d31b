"""A real Envoy (generated bootstrap) in front of a fake grpc.aio AuthService."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.edge.conftest import ALLOWED_ORIGIN, MAX_REQUEST_BYTES, Edge
from tests.edge.fake_auth import WEAK_PASSWORD

STRONG = "Correct-Horse-42"


def _status(response: httpx.Response, code: int) -> dict[str, Any]:
    """Assert a google.rpc.Status JSON body with `code` and return it."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body.get("message"), str)
    return body


def _request_id(body: dict[str, Any]) -> str:
    infos = [d for d in body["details"] if d["@type"] == "type.googleapis.com/google.rpc.RequestInfo"]
    assert len(infos) == 1, body
    request_id: str = infos[0]["requestId"]
    return request_id


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def channel(edge: Edge) -> Any:
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> auth_service_pb2_grpc.AuthServiceStub:
    return auth_service_pb2_grpc.AuthServiceStub(channel)


# --------------------------------------------------------------------------- health


def test_healthz_and_readyz(edge: Edge) -> None:
    with edge.client() as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200


# --------------------------------------------------------------------------- transcoding


def test_rest_register_is_transcoded_with_lower_camel_case(edge: Edge) -> None:
    with edge.client() as c:
        r = c.post(
            "/api/v1/auth/register", json={"email": "Ada@Example.com", "password": STRONG, "name": "Ada"}
        )
    assert r.status_code == 200, r.text
    assert r.json() == {"userId": "user-1", "email": "ada@example.com"}
    assert r.headers["x-request-id"]


def test_jwks_is_served_on_both_bindings(edge: Edge) -> None:
    with edge.client() as c:
        for path in ("/.well-known/jwks.json", "/api/v1/auth/jwks"):
            r = c.get(path)
            assert r.status_code == 200, r.text
            (key,) = r.json()["keys"]
            assert key["kid"] == edge.key.kid
            assert key["kty"] == "OKP" and key["crv"] == "Ed25519"


def test_server_error_details_come_back_as_status_json(edge: Edge) -> None:
    with edge.client() as c:
        r = c.post(
            "/api/v1/auth/register", json={"email": "a@example.com", "password": WEAK_PASSWORD, "name": "A"}
        )
    assert r.status_code == 400
    body = _status(r, 3)
    assert body["message"] == "password is too weak"
    by_type = {d["@type"].rsplit("/", 1)[1]: d for d in body["details"]}
    assert by_type["google.rpc.ErrorInfo"]["reason"] == "VALIDATION_ERROR"
    violations = by_type["google.rpc.BadRequest"]["fieldViolations"]
    assert [(v["field"], v["description"]) for v in violations] == [("password", "too weak")]


# --------------------------------------------------------------------------- Envoy's own errors


def test_unknown_path_is_404_status_json(edge: Edge) -> None:
    with edge.client() as c:
        r = c.get("/api/v1/nope")
    assert r.status_code == 404
    body = _status(r, 5)
    assert _request_id(body) == r.headers["x-request-id"]


def test_client_request_id_is_kept(edge: Edge) -> None:
    with edge.client() as c:
        r = c.get("/api/v1/nope", headers={"x-request-id": "client-chosen-id-1"})
    assert r.headers["x-request-id"] == "client-chosen-id-1"
    assert _request_id(_status(r, 5)) == "client-chosen-id-1"


def test_unrouted_service_is_404(edge: Edge, channel: grpc.Channel) -> None:
    with edge.client() as c:
        r = c.get("/api/v1/unrouted/ping")
    assert r.status_code == 404
    _status(r, 5)
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary("/aether.edgetest.v1.UnroutedService/Ping")(b"", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_me_without_token_is_401(edge: Edge) -> None:
    with edge.client() as c:
        r = c.get("/api/v1/auth/me")
    assert r.status_code == 401
    body = _status(r, 16)
    assert body["message"] == "Jwt is missing"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_me_with_a_valid_token(edge: Edge) -> None:
    token = edge.key.token(sub="user-42")
    with edge.client() as c:
        r = c.get("/api/v1/auth/me", headers=_bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "user-42",
        "email": "user-42@example.com",
        "name": "Test User",
        "roles": ["user"],
        "permissions": [],  # zero values are printed: the full shape, always
        "disabled": False,
    }
    # forward: true -- the server sees (and verifies) the token too.
    assert edge.servicer.seen_metadata[-1]["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize("case", ["tampered", "wrong-audience", "wrong-issuer", "expired", "garbage"])
def test_bad_tokens_are_401(edge: Edge, case: str) -> None:
    token = {
        "tampered": lambda: edge.key.token()[:-4] + "AAAA",
        "wrong-audience": lambda: edge.key.token(audience="someone-else"),
        "wrong-issuer": lambda: edge.key.token(issuer="someone-else"),
        "expired": lambda: edge.key.token(ttl=-3600),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    with edge.client() as c:
        r = c.get("/api/v1/auth/me", headers=_bearer(token))
    assert r.status_code == 401, r.text
    _status(r, 16)


def test_oversize_rest_body_is_413(edge: Edge) -> None:
    big = {"email": "a@example.com", "password": STRONG, "name": "x" * (MAX_REQUEST_BYTES + 100)}
    with edge.client() as c:
        r = c.post("/api/v1/auth/register", json=big)
    assert r.status_code == 413
    _status(r, 8)


def test_oversize_native_grpc_is_resource_exhausted(
    edge: Edge, stub: auth_service_pb2_grpc.AuthServiceStub
) -> None:
    # Bigger than one HTTP/2 frame (16 KiB): see envoy/README.md on the gRPC body limit.
    request = auth_service_pb2.RegisterRequest(email="a@example.com", password=STRONG, name="x" * 64_000)
    with pytest.raises(grpc.RpcError) as err:
        stub.Register(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# --------------------------------------------------------------------------- native gRPC


def test_native_grpc_on_the_same_port(edge: Edge, stub: auth_service_pb2_grpc.AuthServiceStub) -> None:
    user = stub.GetMe(
        auth_service_pb2.GetMeRequest(), metadata=_bearer(edge.key.token(sub="g1")).items(), timeout=5
    )
    assert user.id == "g1"
    with pytest.raises(grpc.RpcError) as err:
        stub.GetMe(auth_service_pb2.GetMeRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "Jwt is missing"  # plain message, not a JSON body


def test_native_grpc_rich_errors_pass_through(stub: auth_service_pb2_grpc.AuthServiceStub) -> None:
    request = auth_service_pb2.RegisterRequest(email="b@example.com", password=WEAK_PASSWORD, name="B")
    with pytest.raises(grpc.RpcError) as err:
        stub.Register(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    assert bad.field_violations[0].field == "password"


# --------------------------------------------------------------------------- CORS


def test_cors_preflight_and_simple_requests(edge: Edge) -> None:
    preflight = {"access-control-request-method": "GET", "access-control-request-headers": "authorization"}
    with edge.client() as c:
        ok = c.options("/api/v1/auth/me", headers={"origin": ALLOWED_ORIGIN, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "authorization" in ok.headers["access-control-allow-headers"]
        evil = c.options("/api/v1/auth/me", headers={"origin": "http://evil.test", **preflight})
        assert "access-control-allow-origin" not in evil.headers
        simple = c.get("/api/v1/auth/jwks", headers={"origin": ALLOWED_ORIGIN})
        assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "x-ratelimit-remaining" in simple.headers["access-control-expose-headers"]
        other = c.get("/api/v1/auth/jwks", headers={"origin": "http://evil.test"})
        assert not [h for h in other.headers if h.startswith("access-control-")]
        # Error replies carry CORS headers too, or the browser hides them from the app.
        denied = c.get("/api/v1/auth/me", headers={"origin": ALLOWED_ORIGIN})
        assert denied.status_code == 401
        assert denied.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


# --------------------------------------------------------------------------- access log


def test_access_log_is_json_lines(edge: Edge) -> None:
    with edge.client() as c:
        r = c.get("/api/v1/auth/jwks", headers={"x-request-id": "log-me-please"})
    assert r.status_code == 200
    deadline = time.monotonic() + 5
    entry = None
    while entry is None and time.monotonic() < deadline:
        if edge.access_log.exists():
            for line in edge.access_log.read_text().splitlines():
                record = json.loads(line)
                if record.get("requestId") == "log-me-please":
                    entry = record
        time.sleep(0.1)
    assert entry is not None
    assert entry["method"] == "GET"  # the original method, not the transcoded POST
    assert entry["path"] == "/api/v1/auth/jwks"
    assert entry["status"] == 200
    assert entry["grpcStatus"] == 0
    assert entry["upstreamCluster"] == "aether_auth_v1_AuthService"
    assert isinstance(entry["durationMs"], int)


# --------------------------------------------------------------------------- derived routes, live


def test_literal_route_wins_over_path_variable(edge: Edge) -> None:
    # GetStats (/things/stats, public) must not be taken by GetThing (/things/{id}, protected).
    with edge.client() as c:
        r = c.get("/api/v1/edgetest/things/stats")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "stats", "name": "", "displayName": "statistics"}


def test_path_variable_is_bound_and_json_names_are_lower_camel(edge: Edge) -> None:
    with edge.client() as c:
        assert c.get("/api/v1/edgetest/things/abc").status_code == 401
        r = c.get("/api/v1/edgetest/things/abc", headers=_bearer(edge.key.token()))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "abc", "name": "things/abc", "displayName": "Thing abc"}


def test_server_stream_is_ndjson(edge: Edge) -> None:
    with edge.client() as c:
        for path in ("/api/v1/edgetest/things:watch", "/api/v1/edgetest/watch"):
            r = c.get(path, headers=_bearer(edge.key.token()))
            assert r.status_code == 200, r.text
            lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
            assert [x["id"] for x in lines] == ["0", "1", "2"]


def test_native_grpc_server_stream(edge: Edge, channel: grpc.Channel) -> None:
    watch = channel.unary_stream("/aether.edgetest.v1.EdgeTestService/WatchThings")
    replies = list(watch(b"", metadata=_bearer(edge.key.token()).items(), timeout=5))
    assert len(replies) == 3
