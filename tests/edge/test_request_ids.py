"""x-request-id is validated once, at the edge (1-128 of [A-Za-z0-9._:-], the servers' rule), and
replaced otherwise: the response header, the error body (Envoy's or a server's), the access log
and the server all see the same id."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import grpc
import pytest
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc

from tests.edge.conftest import RealEdge
from tests.helpers import rich_error

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BAD = ["<script>alert(1)</script>", "a" * 129, "spaces are not allowed", "semi;colon", 'quote"d']
GOOD = ["client-chosen.id:1_x", "a" * 128, str(uuid.uuid4())]


def _request_info(body: dict[str, Any]) -> str:
    [info] = [d for d in body["details"] if d["@type"].endswith("RequestInfo")]
    request_id: str = info["requestId"]
    return request_id


async def _logged_ids(edge: RealEdge, count: int) -> list[str]:
    """The request ids of the access log's task requests (not Envoy's own JWKS fetches), once
    there are `count` (Envoy flushes every 100 ms)."""
    for _ in range(100):
        lines = edge.access_log.read_text().splitlines() if edge.access_log.exists() else []
        entries = [json.loads(line) for line in lines]
        ids = [e["requestId"] for e in entries if e["path"].startswith("/api/v1/tasks")]
        if len(ids) >= count:
            return ids
        await asyncio.sleep(0.1)
    raise TimeoutError("the access log did not get the lines")


@pytest.fixture
async def fresh_edge(app_server: tuple[str, list[str]], start_edge: Any) -> RealEdge:
    address, services = app_server
    edge: RealEdge = await start_edge(dict.fromkeys(services, address))
    return edge


async def test_a_bad_client_id_is_replaced_everywhere(fresh_edge: RealEdge, forge_token: Any) -> None:
    token = await forge_token("user-request-ids")
    seen = []
    async with fresh_edge.client() as c:
        for bad in BAD:
            envoy_made = await c.get("/api/v1/tasks", headers={"x-request-id": bad})  # 401 by Envoy
            server_made = await c.get(  # 404 by the tasks server
                f"/api/v1/tasks/{uuid.uuid4()}",
                headers={"x-request-id": bad, "authorization": f"Bearer {token}"},
            )
            for r, status in ((envoy_made, 401), (server_made, 404)):
                assert r.status_code == status, r.text
                rid = r.headers["x-request-id"]
                assert UUID4.match(rid), rid
                assert _request_info(r.json()) == rid
                seen.append(rid)
    assert len(set(seen)) == len(seen)
    logged = await _logged_ids(fresh_edge, len(seen))
    assert logged == seen
    assert not any(bad in fresh_edge.access_log.read_text() for bad in BAD[:1])


async def test_a_well_formed_client_id_is_kept_everywhere(fresh_edge: RealEdge, forge_token: Any) -> None:
    token = await forge_token("user-request-ids")
    async with fresh_edge.client() as c:
        for good in GOOD:
            r = await c.get(
                f"/api/v1/tasks/{uuid.uuid4()}",
                headers={"x-request-id": good, "authorization": f"Bearer {token}"},
            )
            assert r.status_code == 404
            assert r.headers["x-request-id"] == good == _request_info(r.json())
    assert await _logged_ids(fresh_edge, len(GOOD)) == GOOD


async def test_native_grpc_gets_the_same_id_in_metadata_and_error(
    default_edge: RealEdge, forge_token: Any
) -> None:
    token = await forge_token("user-request-ids")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{default_edge.port}") as channel:
        stub = tasks_grpc.TaskServiceStub(channel)
        for sent in ("<bad id>", "good-grpc-id"):
            metadata = (("authorization", f"Bearer {token}"), ("x-request-id", sent))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetTask(
                    tasks_pb.GetTaskRequest(id=str(uuid.uuid4())), metadata=metadata, timeout=10
                )
            error = rich_error(refused.value)
            assert error.code == grpc.StatusCode.NOT_FOUND
            received = dict(refused.value.trailing_metadata() or ())["x-request-id"]
            assert error.request_id == received
            assert received == sent if sent == "good-grpc-id" else UUID4.match(received)
