"""gRPC transport for UserDirectoryService: which user ids are active accounts."""

from __future__ import annotations

import grpc
from aether.auth.v1 import user_directory_service_pb2 as pb
from aether.auth.v1 import user_directory_service_pb2_grpc

from servers.auth.queries import AuthQueries


class UserDirectoryServicer(user_directory_service_pb2_grpc.UserDirectoryServiceServicer):
    def __init__(self, queries: AuthQueries):
        self._queries = queries

    async def FindUsers(
        self, request: pb.FindUsersRequest, context: grpc.aio.ServicerContext
    ) -> pb.FindUsersResponse:
        active = await self._queries.active_user_ids(list(request.user_ids))
        return pb.FindUsersResponse(active_user_ids=[i for i in request.user_ids if i in active])
