"""A query-string or body `id` never overrides the path's (servers/platform/path_bindings.py):
the request is refused with a field violation, for every RPC with a path variable."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import httpx

from servers.edge import load_descriptor_set, rpcs
from servers.platform.path_bindings import path_bindings
from tests.edge.conftest import DESCRIPTOR, RealEdge

WITH_VARIABLES = [
    rpc for rpc in rpcs(load_descriptor_set(DESCRIPTOR)) if any("{" in b.path.template for b in rpc.bindings)
]


def _refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 3
    [bad_request] = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    assert [v["field"] for v in bad_request["fieldViolations"]] == [field]


def test_every_rpc_with_a_path_variable_is_covered() -> None:
    for file in load_descriptor_set(DESCRIPTOR).file:  # contract-only services too
        if file.package.startswith("aether."):
            importlib.import_module(file.name.removesuffix(".proto").replace("/", ".") + "_pb2")
    assert len(WITH_VARIABLES) > 10
    for rpc in WITH_VARIABLES:
        assert path_bindings(rpc.grpc_path), rpc.full_name


async def test_a_query_or_body_id_cannot_override_the_path(default_edge: RealEdge, forge_token: Any) -> None:
    auth = {"authorization": f"Bearer {await forge_token(f'user-{uuid.uuid4().hex[:8]}')}"}
    async with default_edge.client() as c:
        mine = (await c.post("/api/v1/tasks", json={"title": "mine"}, headers=auth)).json()
        other = (await c.post("/api/v1/tasks", json={"title": "other"}, headers=auth)).json()
        x, y = mine["id"], other["id"]
        _refused(await c.delete(f"/api/v1/tasks/{x}", params={"id": y}, headers=auth), "id")
        _refused(await c.put(f"/api/v1/tasks/{x}", json={"id": y, "title": "changed"}, headers=auth), "id")
        _refused(await c.get(f"/api/v1/tasks/{x}", params={"id": y}, headers=auth), "id")
        # Path wins or the request is refused: here the transcoder already let the path win.
        comment = {"taskId": y, "text": "hello"}
        r = await c.post(f"/api/v1/tasks/{x}/comments", json=comment, headers=auth)
        assert r.status_code == 400 or (r.status_code == 200 and r.json()["taskId"] == x), r.text
        # Nothing happened to either task; the same value as the path's is fine.
        assert (await c.get(f"/api/v1/tasks/{y}", headers=auth)).json()["title"] == "other"
        r = await c.put(f"/api/v1/tasks/{x}", json={"id": x, "title": "changed"}, headers=auth)
        assert r.status_code == 200 and r.json()["title"] == "changed"
        assert (await c.delete(f"/api/v1/tasks/{x}", headers=auth)).status_code == 200
        assert (await c.get(f"/api/v1/tasks/{y}", headers=auth)).status_code == 200
