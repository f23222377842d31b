"""Every response through the edge says `X-Content-Type-Options: nosniff`; token responses (and
every other API response without a Cache-Control of its own) `Cache-Control: no-store`; metrics
endpoints listen on loopback unless configured."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import grpc
from aether.auth.v1 import auth_service_pb2 as auth_pb
from aether.auth.v1 import auth_service_pb2_grpc as auth_grpc

from servers.embedded.ports import free_port
from servers.platform.telemetry import start_metrics_server
from tests.edge.conftest import RealEdge

PASSWORD = "Correct-Horse-42"


async def test_token_responses_are_no_store_and_every_response_nosniff(default_edge: RealEdge) -> None:
    email = f"headers-{uuid.uuid4().hex[:8]}@example.com"
    async with default_edge.client() as c:
        register = await c.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "H"}
        )
        login = await c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        refresh = await c.post("/api/v1/auth/refresh", json={"refreshToken": login.json()["refreshToken"]})
        for r in (register, login, refresh):
            assert r.status_code == 200, r.text
            assert r.headers["cache-control"] == "no-store"
        others = [
            await c.get("/api/v1/tasks"),  # Envoy's 401
            await c.get("/api/v1/nope"),  # Envoy's 404
            await c.post("/api/v1/auth/login", json={"email": email, "password": "wrong-Password-1"}),
            await c.get("/healthz"),
            await c.get("/.well-known/jwks.json"),
            login,
        ]
        for r in others:
            assert r.headers["x-content-type-options"] == "nosniff", r.request.url


async def test_native_grpc_replies_say_nosniff_too(default_edge: RealEdge) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{default_edge.port}") as channel:
        call = auth_grpc.AuthServiceStub(channel).GetJwks(auth_pb.GetJwksRequest(), timeout=10)
        await call
        assert dict(await call.initial_metadata())["x-content-type-options"] == "nosniff"


def test_metrics_listen_on_loopback_by_default() -> None:
    port = free_port()
    start_metrics_server(port)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    listening = {
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A"
    }
    assert f"0100007F:{port:04X}" in listening  # 127.0.0.1, not 0.0.0.0
    assert f"00000000:{port:04X}" not in listening
