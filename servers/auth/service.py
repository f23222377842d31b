"""gRPC transport for AuthService: decode, call the use case, encode."""

from __future__ import annotations

import grpc
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc, user_pb2

from servers.auth import mapping
from servers.auth.usecases import AuthUseCases, Session
from servers.platform.client_address import Network, client_address
from servers.platform.context import current_principal
from servers.platform.timestamps import timestamp

# The OAuth 2 token type of our access tokens (RFC 6750), not a secret.
TOKEN_TYPE = "Bearer"  # noqa: S105


def _login_response(session: Session) -> pb.LoginResponse:
    return pb.LoginResponse(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        token_type=TOKEN_TYPE,
        expires_in=session.expires_in,
        user=mapping.user_to_proto(session.user),
    )


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    def __init__(self, usecases: AuthUseCases, trusted_proxies: tuple[Network, ...]):
        self._uc = usecases
        self._trusted_proxies = trusted_proxies

    async def Register(
        self, request: pb.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterResponse:
        user = await self._uc.register(request.email, request.password, request.name)
        return pb.RegisterResponse(user_id=user.id, email=user.email)

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        client = client_address(context, self._trusted_proxies)
        return _login_response(await self._uc.login(request.email, request.password, client))

    async def Refresh(
        self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshResponse:
        session = await self._uc.refresh(request.refresh_token)
        return pb.RefreshResponse(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            token_type=TOKEN_TYPE,
            expires_in=session.expires_in,
        )

    async def Validate(
        self, request: pb.ValidateRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateResponse:
        principal = await self._uc.validate(request.token)
        if principal is None:
            return pb.ValidateResponse(valid=False)
        return pb.ValidateResponse(
            valid=True,
            user_id=principal.user_id,
            roles=sorted(principal.roles),
            permissions=sorted(principal.permissions),
            expires_at=timestamp(principal.expires_at),
        )

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        revoked = await self._uc.logout(current_principal(), request.refresh_token, request.all_sessions)
        return pb.LogoutResponse(success=True, sessions_revoked=revoked)

    async def GetMe(self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext) -> user_pb2.User:
        return mapping.user_to_proto(await self._uc.me(current_principal()))

    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(keys=[mapping.jwk_to_proto(k) for k in await self._uc.jwks()])
