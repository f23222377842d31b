"""GetMe with a validly signed token whose subject is not a user id (not a UUID): NOT_FOUND,
not an internal error (found by schemathesis, tests/docs)."""

from __future__ import annotations

import grpc
import pytest
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc as rpc


async def test_get_me_with_a_non_uuid_subject_is_not_found(
    auth_channel: grpc.aio.Channel, forge_token
) -> None:
    token = await forge_token("not-a-user-id")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rpc.AuthServiceStub(auth_channel).GetMe(
            pb.GetMeRequest(), metadata=[("authorization", f"Bearer {token}")]
        )
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
