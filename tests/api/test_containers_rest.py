"""ContainerService as REST/JSON through a real Envoy (generated config) in front of
the real server and a real Docker engine (tests/dockerd.py): JSON names, NDJSON
streams, HTTP statuses and error bodies, and admin-only access for real users."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from aether.containers.v1 import containers_service_pb2, containers_service_pb2_grpc

from servers.containers.engine import OPEN_STREAMS
from tests.dockerd import LocalDocker
from tests.helpers import STRONG_PASSWORD, unique_email

BASE = "/api/v1/containers"


@pytest.fixture
async def http(edge: str, docker_engine: LocalDocker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(forge_token: Callable[..., Awaitable[str]]) -> dict[str, str]:
    return {"authorization": f"Bearer {await forge_token(str(uuid.uuid4()), roles=('admin',))}"}


@pytest.fixture
async def user(http: httpx.AsyncClient) -> dict[str, str]:
    """A user who registered and logged in through AuthService: the real user role."""
    email = unique_email("containers")
    body = {"email": email, "password": STRONG_PASSWORD, "name": "U"}
    assert (await http.post("/api/v1/auth/register", json=body)).status_code == 200
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['accessToken']}"}


@pytest.fixture
def engine(docker_engine: LocalDocker) -> Iterator[LocalDocker]:
    before_images = docker_engine.images()
    yield docker_engine
    docker_engine.docker("rm", "-f", *docker_engine.containers(), check=False)
    assert docker_engine.containers() == []
    assert docker_engine.images() == before_images


def status_body(r: httpx.Response, http_status: int, code: int) -> dict[str, Any]:
    assert r.status_code == http_status, r.text
    body = r.json()
    assert body["code"] == code and body["message"], body
    return dict(body)


async def ndjson(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any
) -> list[Any]:
    async with http.stream(method, BASE + path, headers=headers, **kw) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("application/json")
        return [json.loads(line) async for line in r.aiter_lines() if line.strip()]


# Every route, with what passes validation.
ROUTES = [
    ("GET", ""),
    ("GET", "/x"),
    ("POST", "/x/start"),
    ("POST", "/x/stop"),
    ("POST", "/x/restart"),
    ("DELETE", "/x"),
    ("GET", "/x/logs"),
    ("GET", "/x/stats"),
    ("GET", "/x/stats/stream"),
    ("GET", "/images"),
    ("POST", "/images/pull"),
    ("GET", "/info"),
    ("GET", "/info/ping"),
]


def test_every_route_is_listed() -> None:
    from aether.containers.v1 import containers_service_pb2 as pb

    assert len(ROUTES) == len(pb.DESCRIPTOR.services_by_name["ContainerService"].methods)


async def test_a_real_user_gets_403_on_every_route(
    http: httpx.AsyncClient, user: dict[str, str], engine: LocalDocker
) -> None:
    cid = await engine.run()
    for method, path in ROUTES:
        path = path.replace("/x", f"/{cid[:12]}")
        body = {"image": "busybox"} if path.endswith("pull") else {} if method == "POST" else None
        r = await http.request(method, BASE + path, headers=user, json=body)
        assert status_body(r, 403, 7)["message"], (method, path)
        r = await http.request(method, BASE + path, json=body)
        assert r.status_code == 401, (method, path)
    assert await engine.cli("inspect", "-f", "{{.State.Running}}", cid) == "true"


async def test_list_inspect_and_the_allow_list(
    http: httpx.AsyncClient, admin: dict[str, str], engine: LocalDocker
) -> None:
    tag = uuid.uuid4().hex[:6]
    cid = await engine.run(name=f"rest-{tag}")
    outside = await engine.run(name=f"outside-{tag}", labels=())
    r = await http.get(BASE, params={"all": "true", "name": tag}, headers=admin)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [c["id"] for c in listed["containers"]] == [cid]
    assert listed["pagination"] == {
        "total": 1,
        "page": 1,
        "limit": 20,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
    }
    got = (await http.get(f"{BASE}/rest-{tag}", headers=admin)).json()
    assert (got["id"], got["name"], got["state"]) == (cid, f"rest-{tag}", "CONTAINER_STATE_RUNNING")
    assert got["labels"] == {"aether.managed": "true"} and got["imageId"].startswith("sha256:")
    assert {"createdAt", "startedAt", "restartPolicy", "health", "networks"} <= set(got)
    for reference in (outside, outside[:12], f"outside-{tag}"):
        status_body(await http.get(f"{BASE}/{reference}", headers=admin), 404, 5)
        status_body(await http.delete(f"{BASE}/{reference}", params={"force": "true"}, headers=admin), 404, 5)
    info = (await http.get(f"{BASE}/info", headers=admin)).json()
    assert info["labelFilter"] == "aether.managed=true" and info["serverVersion"]
    assert (await http.get(f"{BASE}/info/ping", headers=admin)).json()["ok"] is True
    images = (await http.get(f"{BASE}/images", headers=admin)).json()
    assert any("aether-test/busybox:latest" in i.get("repoTags", []) for i in images["images"])


async def test_lifecycle_statuses(
    http: httpx.AsyncClient, admin: dict[str, str], engine: LocalDocker, edge: str
) -> None:
    cid = await engine.run()
    r = await http.post(f"{BASE}/{cid[:12]}/stop", json={"timeoutSeconds": 0}, headers=admin)
    assert r.json() == {"success": True, "id": cid, "state": "CONTAINER_STATE_EXITED", "message": "stopped"}
    r = await http.post(f"{BASE}/{cid[:12]}/start", json={}, headers=admin)
    assert r.json()["state"] == "CONTAINER_STATE_RUNNING"
    r = await http.post(f"{BASE}/{cid}/restart", json={"timeoutSeconds": 0}, headers=admin)
    assert r.json()["message"] == "restarted"
    # running without force: FAILED_PRECONDITION, a state conflict: 409 over REST
    refused = await http.delete(f"{BASE}/{cid}", headers=admin)
    status_body(refused, 409, 9)
    assert "x-aether-http-status" not in refused.headers  # the server's hint to the edge stays inside
    async with grpc.aio.insecure_channel(edge.removeprefix("http://")) as channel:  # native, via Envoy
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await containers_service_pb2_grpc.ContainerServiceStub(channel).DeleteContainer(
                containers_service_pb2.DeleteContainerRequest(id=cid), metadata=tuple(admin.items())
            )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "x-aether-http-status" not in dict(caught.value.trailing_metadata() or ())
    r = await http.delete(f"{BASE}/{cid}", params={"force": "true"}, headers=admin)
    assert r.json()["success"] is True and r.json()["id"] == cid
    status_body(await http.delete(f"{BASE}/{cid}", headers=admin), 404, 5)
    status_body(await http.post(f"{BASE}/{cid}/start", json={}, headers=admin), 404, 5)
    status_body(await http.get(f"{BASE}/bad..name!", headers=admin), 400, 3)
    status_body(await http.post(f"{BASE}/x/stop", json={"timeoutSeconds": 999}, headers=admin), 400, 3)


async def test_logs_are_ndjson_and_follow_cancels_cleanly(
    http: httpx.AsyncClient, admin: dict[str, str], engine: LocalDocker
) -> None:
    cid = await engine.run(
        "sh", "-c", "echo hello; echo oops >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
    )
    for _ in range(200):  # until it has written a few lines
        tail = await ndjson(http, "GET", f"/{cid}/logs", admin, params={"tail": "2", "timestamps": "true"})
        if len(tail) == 3:
            break
        await asyncio.sleep(0.05)
    assert [set(m) for m in tail] == [{"line"}, {"line"}, {"final"}]
    assert tail[-1]["final"] == {"reason": "LOGS_END_REASON_ALL_SENT", "lines": 2}
    assert all(m["line"]["timestamp"].endswith("Z") for m in tail[:-1])
    errors = await ndjson(http, "GET", f"/{cid}/logs", admin, params={"stream": "OUTPUT_STREAM_STDERR"})
    assert errors[0]["line"] == {"stream": "OUTPUT_STREAM_STDERR", "text": "oops"}

    async with http.stream(
        "GET", f"{BASE}/{cid}/logs", params={"follow": "true", "tail": "0"}, headers=admin
    ) as r:
        assert r.status_code == 200
        ticks = []
        async for line in r.aiter_lines():
            if line.strip():
                ticks.append(json.loads(line)["line"]["text"])
            if len(ticks) == 3:
                break
    assert all(t.startswith("tick ") for t in ticks)
    for _ in range(400):  # the client hung up: Envoy resets the stream, the server closes Docker's
        if OPEN_STREAMS.labels("logs")._value.get() == 0:
            break
        await asyncio.sleep(0.05)
    assert OPEN_STREAMS.labels("logs")._value.get() == 0


async def test_stats_one_shot_and_stream(
    http: httpx.AsyncClient, admin: dict[str, str], engine: LocalDocker
) -> None:
    cid = await engine.run()
    one = (await http.get(f"{BASE}/{cid[:12]}/stats", headers=admin)).json()
    assert one["id"] == cid and int(one["memoryLimitBytes"]) > int(one["memoryUsageBytes"]) > 0
    async with http.stream("GET", f"{BASE}/{cid}/stats/stream", headers=admin) as r:
        samples = []
        async for line in r.aiter_lines():
            if line.strip():
                samples.append(json.loads(line)["sample"])
            if len(samples) == 2:
                break
    assert [s["id"] for s in samples] == [cid, cid] and samples[0]["readAt"] < samples[1]["readAt"]
    await engine.cli("stop", "-t", "0", cid)
    status_body(await http.get(f"{BASE}/{cid}/stats", headers=admin), 409, 9)


async def test_pull_progress_and_failures(
    http: httpx.AsyncClient, admin: dict[str, str], engine: LocalDocker
) -> None:
    reference = await engine.push("aether/rest-pulled", "2", {"etc/rest": b"1"})
    repository, tag = reference.rsplit(":", 1)
    try:
        messages = await ndjson(http, "POST", "/images/pull", admin, json={"image": repository, "tag": tag})
        assert all(set(m) == {"progress"} for m in messages[:-1]) and len(messages) > 2
        assert reference in messages[-1]["final"]["image"]["repoTags"]
    finally:
        await engine.cli("rmi", reference, check=False)
    missing = await http.post(
        f"{BASE}/images/pull", json={"image": f"{engine.registry}/aether/none"}, headers=admin
    )
    status_body(missing, 404, 5)
    status_body(await http.post(f"{BASE}/images/pull", json={"image": "Bad Name"}, headers=admin), 400, 3)

    # Failing after the engine's 200: the NDJSON stream carries progress, then ends without `final`.
    broken = await engine.push("aether/rest-broken", "1", {"etc/broken": b"1"})
    engine.drop_layers("aether/rest-broken")
    body = {"image": broken.rsplit(":", 1)[0], "tag": "1"}
    async with http.stream("POST", f"{BASE}/images/pull", json=body, headers=admin) as r:
        lines = [line async for line in r.aiter_lines() if line.strip()]
    messages = [json.loads(line) for line in lines]
    assert r.status_code == 200 and messages and all(set(m) == {"progress"} for m in messages)
