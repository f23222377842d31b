"""Body limits on the real default configuration (EdgeSettings' 1 MiB, each RPC's
(aether.common.v1.max_request_bytes)), through a real Envoy in front of the real servers: every
REST route with a body answers 413 with a google.rpc.Status above its limit (1.1 MB, 3 MB and
8 MB against the default), native gRPC gets RESOURCE_EXHAUSTED with a clear message, and nothing
reaches a server to come back as 429 with gRPC's own text."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from servers.edge import load_descriptor_set, rpcs
from servers.edge.local_replies import TOO_LARGE_MESSAGE
from servers.edge.settings import DEFAULT_MAX_REQUEST_BYTES
from tests.edge.conftest import DESCRIPTOR, RealEdge

SIZES = (1_100_000, 3_000_000, 8_000_000)
SERVED = [rpc for rpc in rpcs(load_descriptor_set(DESCRIPTOR)) if rpc.service.startswith("aether.")]
WITH_BODY = [(rpc, b) for rpc in SERVED for b in rpc.bindings if b.body]


def _path(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "x1", template)


def _assert_too_large(r: Any) -> None:
    assert r.status_code == 413, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] == 8 and body["message"] == TOO_LARGE_MESSAGE
    info = {d["@type"].rsplit(".", 1)[-1]: d for d in body["details"]}
    assert info["ErrorInfo"]["domain"] == "aether.dev"
    assert info["RequestInfo"]["requestId"] == r.headers["x-request-id"]


@pytest.fixture
async def token(forge_token: Any) -> str:
    result: str = await forge_token("user-body-limits", roles=("admin",))
    return result


def test_the_descriptor_set_has_routes_with_bodies() -> None:
    assert len(WITH_BODY) > 10
    assert any(rpc.max_request_bytes for rpc, _ in WITH_BODY)  # and some with their own limit


async def _curl(method: str, url: str, body: Path, token: str) -> httpx.Response:
    """curl, as a user probing the API would (it sends Expect: 100-continue for big bodies and
    reads an answer that comes before the body is all sent)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-D", "-", "-X", method, "--data-binary", f"@{body}",
        "-H", f"authorization: Bearer {token}", "-H", "content-type: application/json", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    head, _, content = out.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"").partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=content)


async def test_every_route_refuses_a_body_above_its_limit(
    default_edge: RealEdge, token: str, tmp_path: Path
) -> None:
    for rpc, binding in WITH_BODY:
        limit = rpc.max_request_bytes or DEFAULT_MAX_REQUEST_BYTES
        for size in SIZES if limit == DEFAULT_MAX_REQUEST_BYTES else (limit + 100_000,):
            body = tmp_path / f"{size}.json"
            if not body.exists():
                body.write_bytes(b'{"pad":"' + b"a" * size + b'"}')
            url = default_edge.base_url + _path(binding.path.template)
            _assert_too_large(await _curl(binding.method, url, body, token))


async def test_a_chunked_http1_body_is_held_to_the_limit_too(default_edge: RealEdge, token: str) -> None:
    async def chunks() -> Any:
        for _ in range(3_000_000 // 16_384):
            yield b"a" * 16_384

    async with default_edge.client() as c:
        r = await c.post(
            "/api/v1/tasks",
            content=chunks(),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    _assert_too_large(r)


@pytest.mark.parametrize("size", SIZES)
async def test_native_grpc_above_the_limit_is_resource_exhausted(
    default_edge: RealEdge, token: str, size: int
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{default_edge.port}") as channel:
        call = channel.unary_unary("/aether.tasks.v1.TaskService/CreateTask")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(b"\n" + b"\x80" * 3 + b"a" * size, metadata=(("authorization", f"Bearer {token}"),))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.details() == TOO_LARGE_MESSAGE
