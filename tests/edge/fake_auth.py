"""Minimal in-process gRPC upstreams (grpc.aio) for the edge tests only.

A fake AuthService -- NOT the real auth server: just enough behaviour to see
what Envoy does in front of a gRPC server (transcoding, JWKS, rich errors,
health) -- and a fake of the synthetic EdgeTestService (path variables,
streaming, request size limits).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc, user_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from servers.platform.settings import JWT_AUDIENCE, JWT_ISSUER
from tests.edge.synthetic import ROUTED, thing_class

SERVICE = "aether.auth.v1.AuthService"
WEAK_PASSWORD = "weak"  # Register with it -> INVALID_ARGUMENT with BadRequest details


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=f"test-{uuid.uuid4().hex[:8]}", private=Ed25519PrivateKey.generate())

    def jwk(self) -> user_pb2.Jwk:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return user_pb2.Jwk(kty="OKP", kid=self.kid, use="sig", alg="EdDSA", crv="Ed25519", x=_b64url(raw))

    def token(
        self, sub: str = "user-1", *, issuer: str = JWT_ISSUER, audience: str = JWT_AUDIENCE, ttl: int = 300
    ) -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "email": f"{sub}@example.com",
            "roles": ["user"],
            "permissions": ["tasks:read"],
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})


class FakeAuthService(auth_service_pb2_grpc.AuthServiceServicer):
    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.seen_metadata: list[dict[str, str]] = []
        self.gates = Gates()  # of the EdgeTestService fake served beside it

    async def Register(
        self, request: auth_service_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> auth_service_pb2.RegisterResponse:
        if request.password == WEAK_PASSWORD:
            info = error_details_pb2.ErrorInfo(reason="VALIDATION_ERROR", domain="aether.dev")
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="password", description="too weak")
                ]
            )
            details = []
            for message in (info, bad):
                packed = any_pb2.Any()
                packed.Pack(message)
                details.append(packed)
            status = status_pb2.Status(
                code=code_pb2.INVALID_ARGUMENT, message="password is too weak", details=details
            )
            await context.abort_with_status(rpc_status.to_status(status))
        return auth_service_pb2.RegisterResponse(user_id="user-1", email=request.email.lower())

    async def GetMe(
        self, request: auth_service_pb2.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.seen_metadata.append(metadata)
        token = metadata.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token,
                self.key.private.public_key(),
                algorithms=["EdDSA"],
                audience=JWT_AUDIENCE,
                issuer=JWT_ISSUER,
            )
        except jwt.PyJWTError:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid token")
        return user_pb2.User(id=claims["sub"], email=claims["email"], name="Test User", roles=claims["roles"])

    async def GetJwks(
        self, request: auth_service_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_service_pb2.GetJwksResponse:
        return auth_service_pb2.GetJwksResponse(keys=[self.key.jwk()])


WATCH_HOLD = "hold"
"""WatchThings with this name sends Thing 0, then waits for `gates[id]` before Things 1 and 2."""
WATCH_FAIL = "fail"
"""WatchThings with this name sends Things 0 and 1, then fails (UNAVAILABLE, WATCH_FAILURE)."""
WATCH_FAILURE = "the watch lost its backend"


class Gates:
    """Events a test sets (from its own thread) to let a held WatchThings go on."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())


def edgetest_handler(descriptor: Path, gates: Gates | None = None) -> grpc.GenericRpcHandler:
    """A fake of the synthetic EdgeTestService (tests/edge/synthetic.py), built from the
    descriptor set since it has no generated code."""
    thing = thing_class(descriptor)
    gates = gates or Gates()

    async def get_thing(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return thing(id=request.id, name=f"things/{request.id}", display_name=f"Thing {request.id}")

    async def get_stats(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return thing(id="stats", display_name="statistics")

    async def upload_thing(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return thing(id=str(len(request.name)))  # how much arrived

    async def watch_things(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        for i in range(3):
            if i == 1 and request.name == WATCH_HOLD:
                gate = gates[request.id]
                await asyncio.get_running_loop().run_in_executor(None, gate.wait, 30)
            if i == 2 and request.name == WATCH_FAIL:
                await context.abort(grpc.StatusCode.UNAVAILABLE, WATCH_FAILURE)
            yield thing(id=str(i), display_name=f"Thing {i}")

    def unary(fn: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=thing.FromString, response_serializer=thing.SerializeToString
        )

    return grpc.method_handlers_generic_handler(
        ROUTED,
        {
            "GetThing": unary(get_thing),
            "GetStats": unary(get_stats),
            "UploadThing": unary(upload_thing),
            "WatchThings": grpc.unary_stream_rpc_method_handler(
                watch_things,
                request_deserializer=thing.FromString,
                response_serializer=thing.SerializeToString,
            ),
        },
    )


@contextmanager
def running_fake_upstream(key: SigningKey, descriptor: Path) -> Iterator[tuple[str, FakeAuthService]]:
    """Run the fake AuthService and EdgeTestService (with gRPC health) on their own event loop thread."""
    loop = asyncio.new_event_loop()
    servicer = FakeAuthService(key)
    started: dict[str, object] = {}

    async def start() -> None:
        server = grpc.aio.server()
        auth_service_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
        server.add_generic_rpc_handlers((edgetest_handler(descriptor, servicer.gates),))
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        for name in (SERVICE, ROUTED):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        started.update(server=server, port=port)

    thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    server = started["server"]
    assert isinstance(server, grpc.aio.Server)
    try:
        yield f"127.0.0.1:{started['port']}", servicer
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=None), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
