"""gRPC transport for UserAdminService: decode, call the use case, encode."""

from __future__ import annotations

import grpc
from aether.auth.v1 import user_admin_service_pb2 as pb
from aether.auth.v1 import user_admin_service_pb2_grpc, user_pb2

from servers.auth.admin import AdminUseCases
from servers.auth.mapping import user_to_proto
from servers.platform.context import current_principal
from servers.platform.pagination import pagination
from servers.platform.paging import PageRequest


class UserAdminServicer(user_admin_service_pb2_grpc.UserAdminServiceServicer):
    def __init__(self, usecases: AdminUseCases):
        self._uc = usecases

    async def ListUsers(
        self, request: pb.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListUsersResponse:
        page = await self._uc.list_users(request.email_contains, PageRequest.of(request.page, request.limit))
        return pb.ListUsersResponse(users=[user_to_proto(u) for u in page.items], pagination=pagination(page))

    async def SetUserRoles(
        self, request: pb.SetUserRolesRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        return user_to_proto(
            await self._uc.set_roles(current_principal(), request.user_id, tuple(request.roles))
        )

    async def DisableUser(
        self, request: pb.DisableUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        return user_to_proto(await self._uc.set_disabled(current_principal(), request.user_id, True))

    async def EnableUser(
        self, request: pb.EnableUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        return user_to_proto(await self._uc.set_disabled(current_principal(), request.user_id, False))

    async def RevokeUserSessions(
        self, request: pb.RevokeUserSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeUserSessionsResponse:
        ended = await self._uc.revoke_sessions(current_principal(), request.user_id)
        return pb.RevokeUserSessionsResponse(sessions_revoked=ended)

    async def DeleteUser(
        self, request: pb.DeleteUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteUserResponse:
        await self._uc.delete(current_principal(), request.user_id)
        return pb.DeleteUserResponse(success=True)
