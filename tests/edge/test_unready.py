"""Envoy whose upstream is down: readiness, 503s and JWT before the JWKS is known."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

from servers.edge import EdgeSettings, write_bootstrap
from tests.edge.conftest import DESCRIPTOR
from tests.edge.envoy_runner import free_port, running_envoy, wait_until
from tests.edge.fake_auth import SERVICE, SigningKey
from tests.helpers import rich_error


@pytest.fixture(scope="module")
def dead_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("dead-edge")
    port = free_port()
    settings = EdgeSettings(
        listen_port=port,
        upstreams={SERVICE: f"127.0.0.1:{free_port()}"},  # nothing listens there
        access_log_path=str(workdir / "access.log"),
    )
    config = write_bootstrap(DESCRIPTOR, settings, workdir / "envoy.json")
    with running_envoy(config, workdir) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30, "/healthz", proc)
        yield base


def test_alive_but_not_ready(dead_edge: str) -> None:
    assert httpx.get(f"{dead_edge}/healthz").status_code == 200
    r = httpx.get(f"{dead_edge}/readyz")
    assert r.status_code == 503
    assert r.json()["code"] == 14
    assert "no healthy host" in r.json()["message"]


def test_rest_call_is_503_status_json(dead_edge: str) -> None:
    r = httpx.post(f"{dead_edge}/api/v1/auth/register", json={"email": "a@example.com"})
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == 14
    assert body["message"] == "no healthy upstream"
    info = {d["@type"].rsplit(".", 1)[-1]: d for d in body["details"]}
    assert info["RequestInfo"]["requestId"] == r.headers["x-request-id"]
    assert info["ErrorInfo"] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "UNAVAILABLE",
        "domain": "aether.dev",
    }
    # Retry shortly, as a server's own outage reply says (servers.platform.errors.outage_status).
    assert info["RetryInfo"]["retryDelay"] == "1s"


def test_protected_route_is_401_until_the_jwks_is_known(dead_edge: str) -> None:
    token = SigningKey.generate().token()
    r = httpx.get(f"{dead_edge}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == 16
    assert r.json()["message"] == "Jwks remote fetch is failed"


def test_native_grpc_is_unavailable(dead_edge: str) -> None:
    with grpc.insecure_channel(dead_edge.removeprefix("http://")) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Register(auth_service_pb2.RegisterRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    rich = rich_error(err.value)
    assert (rich.reason, rich.retry_delay_seconds) == ("UNAVAILABLE", 1.0)
