"""Who may be assigned a task: an active account, asked of the auth service
(UserDirectoryService) through the platform service client, so the call
carries the caller's token, request id, trace and deadline. The Task Manager
keeps no copy of the users: auth stays their one owner, and a disabled or
deleted account cannot be given tasks from the moment it changes."""

from __future__ import annotations

import grpc
from aether.auth.v1 import user_directory_service_pb2 as pb
from aether.auth.v1 import user_directory_service_pb2_grpc

from servers.platform.clients import ServiceClients
from servers.platform.errors import Unavailable

# A lookup is one indexed read in auth; far less than an RPC's usual budget.
LOOKUP_TIMEOUT_SECONDS = 5.0


class AuthUserDirectory:
    """What the use cases see as servers.tasks.usecases.Users."""

    def __init__(self, clients: ServiceClients):
        self._clients = clients

    async def is_active(self, user_id: str) -> bool:
        # Resolved per call (the clients cache the stub): in the all-in-one
        # process auth's address is known only once the server has started.
        stub = self._clients.stub("auth", user_directory_service_pb2_grpc.UserDirectoryServiceStub)
        try:
            reply = await stub.FindUsers(
                pb.FindUsersRequest(user_ids=[user_id]), timeout=LOOKUP_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as error:
            raise Unavailable(
                "cannot check the assignee right now; retry", retry_after_seconds=1.0
            ) from error
        return user_id in reply.active_user_ids
