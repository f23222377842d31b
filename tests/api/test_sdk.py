"""The generated betterproto2 SDK (gen/sdk/python/aether_sdk) against the real
auth server: dataclass messages over a plain grpcio channel."""

from __future__ import annotations

import asyncio

import grpc
from aether_sdk.aether.auth.v1 import AuthServiceStub, GetMeRequest, LoginRequest, RegisterRequest

from tests.helpers import STRONG_PASSWORD, unique_email


class BearerToken(grpc.UnaryUnaryClientInterceptor):
    """How SDK users authenticate: a channel interceptor adding the header."""

    def __init__(self, token: str):
        self.token = token

    def intercept_unary_unary(self, continuation, details, request):
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.token}")]
        return continuation(details._replace(metadata=metadata), request)


def _sdk_session(address: str, email: str) -> tuple[str, str]:
    with grpc.insecure_channel(address) as channel:
        stub = AuthServiceStub(channel)
        registered = stub.register(RegisterRequest(email=email, password=STRONG_PASSWORD, name="Sdk"))
        session = stub.login(LoginRequest(email=email, password=STRONG_PASSWORD))
        assert session.token_type == "Bearer" and session.user.id == registered.user_id
        with grpc.intercept_channel(channel, BearerToken(session.access_token)) as authed:
            me = AuthServiceStub(authed).get_me(GetMeRequest())
        return me.id, me.email


async def test_betterproto2_sdk_register_login_me(auth_server: str) -> None:
    email = unique_email("sdk")
    # The SDK's client is synchronous grpcio: run it off the loop the server is on.
    user_id, me_email = await asyncio.to_thread(_sdk_session, auth_server, email)
    assert user_id and me_email == email
