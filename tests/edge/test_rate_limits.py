"""Per-caller rate limits (servers/platform/rate_limits.py) through real Envoys in front of real
servers: per client address on public RPCs, per JWT subject on authenticated ones, one budget for
REST and native gRPC and for every Envoy replica (Redis), a 429 with Retry-After and real
X-RateLimit-* headers; a spoofed X-Forwarded-For is ignored unless a trusted hop is configured,
and requests refused by the JWT check never spend a user's budget."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2 as auth_pb
from aether.auth.v1 import auth_service_pb2_grpc as auth_grpc
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from redis.asyncio import Redis

from servers import registry
from servers.platform.admission import Admission, Bucket
from servers.platform.runtime import Server
from servers.platform.settings import PlatformSettings
from tests.conftest import TEST_REDIS
from tests.edge.conftest import RealEdge
from tests.helpers import STRONG_PASSWORD, bearer, eventually, rich_error, unique_email

LIMIT = 5
LOGIN = "/aether.auth.v1.AuthService/Login"
LIST_TASKS = "/aether.tasks.v1.TaskService/ListTasks"


@dataclass
class Limited:
    server_address: str
    replica_a: RealEdge
    replica_b: RealEdge
    behind_a_proxy: RealEdge
    """An Envoy that trusts one X-Forwarded-For hop (xff_num_trusted_hops=1)."""


@pytest.fixture(scope="module")
async def limited(app_server: Any, start_edge: Any) -> AsyncIterator[Limited]:
    """Auth and tasks in a server of their own, LIMIT calls a minute on Login and ListTasks,
    behind two Envoy replicas and one that trusts a proxy in front of it (the shared server made
    the database)."""
    overrides = f"{LOGIN}={LIMIT}/60,{LIST_TASKS}={LIMIT}/60"
    server = Server(
        [registry.load("auth"), registry.load("tasks")], PlatformSettings(rate_limit_overrides=overrides)
    )
    port = await server.start()
    address = f"127.0.0.1:{port}"
    upstreams = dict.fromkeys(server.service_names, address)
    try:
        yield Limited(
            address,
            await start_edge(upstreams),
            await start_edge(upstreams),
            await start_edge(upstreams, xff_num_trusted_hops=1),
        )
    finally:
        await server.stop()


def _client_address() -> str:
    """A loopback address of its own per test, so budgets of other tests do not interfere."""
    return f"127.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250 + 1}.{uuid.uuid4().int % 250 + 1}"


async def _grpc_login(port: int) -> grpc.aio.AioRpcError | None:
    """A native gRPC Login with an empty request through the Envoy on `port`."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await auth_grpc.AuthServiceStub(channel).Login(auth_pb.LoginRequest(), timeout=10)
        except grpc.aio.AioRpcError as error:
            return error
    return None


def _assert_rate_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == str(LIMIT)
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(r.headers["x-ratelimit-reset"]) <= 60
    body = r.json()
    assert body["code"] == 8
    types = {d["@type"].rsplit(".", 1)[-1]: d for d in body["details"]}
    assert types["ErrorInfo"]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert types["ErrorInfo"]["domain"] == "aether.dev"
    assert types["RetryInfo"]["retryDelay"].endswith("s")
    assert types["RequestInfo"]["requestId"] == r.headers["x-request-id"]


async def test_a_public_rpc_is_limited_per_client_address_across_replicas(limited: Limited) -> None:
    me, other = _client_address(), _client_address()
    async with limited.replica_a.client(me) as a, limited.replica_b.client(me) as b:
        replies = [await (a if i % 2 else b).post("/api/v1/auth/login", json={}) for i in range(LIMIT)]
        assert [r.status_code for r in replies] == [400] * LIMIT  # spent: the limit comes first
        remaining = [int(r.headers["x-ratelimit-remaining"]) for r in replies]
        assert remaining == list(range(LIMIT - 1, -1, -1))  # one budget for both replicas
        _assert_rate_limited(await a.post("/api/v1/auth/login", json={}))
        _assert_rate_limited(await b.post("/api/v1/auth/login", json={}))
    async with limited.replica_a.client(other) as c:  # another client is not affected
        r = await c.post("/api/v1/auth/login", json={})
        assert r.status_code == 400 and r.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


async def test_a_spoofed_forwarded_for_does_not_buy_a_new_budget(limited: Limited) -> None:
    me = _client_address()
    async with limited.replica_a.client(me) as c:
        statuses = []
        for _ in range(LIMIT + 1):
            spoof = {"x-forwarded-for": _client_address(), "x-aether-client-address": _client_address()}
            statuses.append((await c.post("/api/v1/auth/login", json={}, headers=spoof)).status_code)
    assert statuses == [400] * LIMIT + [429]


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(limited: Limited) -> None:
    proxy = _client_address()
    first, second = _client_address(), _client_address()
    async with limited.behind_a_proxy.client(proxy) as c:
        for _ in range(LIMIT):
            r = await c.post("/api/v1/auth/login", json={}, headers={"x-forwarded-for": first})
            assert r.status_code == 400
        _assert_rate_limited(await c.post("/api/v1/auth/login", json={}, headers={"x-forwarded-for": first}))
        r = await c.post("/api/v1/auth/login", json={}, headers={"x-forwarded-for": second})
        assert r.status_code == 400 and r.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


async def test_an_authenticated_rpc_is_one_budget_per_user_over_rest_and_grpc(
    limited: Limited, forge_token: Any
) -> None:
    user, other = f"user-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    token, other_token = await forge_token(user), await forge_token(other)
    async with (
        limited.replica_a.client() as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{limited.replica_b.port}") as via_edge,
        grpc.aio.insecure_channel(limited.server_address) as direct,
    ):
        for index in range(LIMIT):
            if index % 3 == 0:
                r = await a.get("/api/v1/tasks", headers={"authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
                assert r.headers["x-ratelimit-remaining"] == str(LIMIT - 1 - index)
            else:
                channel = via_edge if index % 3 == 1 else direct
                call = tasks_grpc.TaskServiceStub(channel).ListTasks(
                    tasks_pb.ListTasksRequest(), metadata=bearer(token), timeout=10
                )
                await call
                # A unary reply's rate-limit state rides in its trailers (servers.platform.interceptors).
                trailers = dict(await call.trailing_metadata())
                assert trailers["x-ratelimit-remaining"] == str(LIMIT - 1 - index)
        _assert_rate_limited(await a.get("/api/v1/tasks", headers={"authorization": f"Bearer {token}"}))
        for channel in (via_edge, direct):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await tasks_grpc.TaskServiceStub(channel).ListTasks(
                    tasks_pb.ListTasksRequest(), metadata=bearer(token), timeout=10
                )
            error = rich_error(refused.value)
            assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error.reason == "RATE_LIMIT_EXCEEDED" and error.retry_delay_seconds
            assert dict(refused.value.trailing_metadata() or ())["x-ratelimit-limit"] == str(LIMIT)
        r = await a.get("/api/v1/tasks", headers={"authorization": f"Bearer {other_token}"})
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


async def test_requests_refused_by_the_token_check_spend_nobody_s_budget(
    limited: Limited, forge_token: Any
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    token = await forge_token(user)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expired = await forge_token(user, exp_offset=-60)
    async with (
        limited.replica_a.client() as a,
        grpc.aio.insecure_channel(limited.server_address) as direct,
    ):
        for bad in (None, forged, expired) * 3:
            headers = {"authorization": f"Bearer {bad}"} if bad else {}
            assert (await a.get("/api/v1/tasks", headers=headers)).status_code == 401
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await tasks_grpc.TaskServiceStub(direct).ListTasks(
                    tasks_pb.ListTasksRequest(), metadata=bearer(bad) if bad else (), timeout=10
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        r = await a.get("/api/v1/tasks", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


async def test_a_revoked_token_is_refused_without_spending_the_user_s_budget(limited: Limited) -> None:
    """A token logged out is UNAUTHENTICATED over REST and gRPC, and none of those calls is
    charged: the revocation check comes before the charge (servers.platform.admission)."""
    account = {"email": unique_email("revoked"), "password": STRONG_PASSWORD}
    async with (
        limited.replica_a.client(_client_address()) as a,
        grpc.aio.insecure_channel(limited.server_address) as direct,
    ):
        assert (await a.post("/api/v1/auth/register", json=account | {"name": "R"})).status_code == 200
        old = (await a.post("/api/v1/auth/login", json=account)).json()
        old_auth = {"authorization": f"Bearer {old['accessToken']}"}
        r = await a.post("/api/v1/auth/logout", json={"refreshToken": old["refreshToken"]}, headers=old_auth)
        assert r.status_code == 200, r.text
        stats = tasks_grpc.TaskServiceStub(direct).GetTaskStats

        async def refused() -> bool:  # another method's budget: ListTasks' stays untouched
            try:
                await stats(tasks_pb.GetTaskStatsRequest(), metadata=bearer(old["accessToken"]), timeout=10)
            except grpc.aio.AioRpcError as error:
                return error.code() == grpc.StatusCode.UNAUTHENTICATED
            return False

        assert await eventually(refused)  # the revocation feed's window
        for _ in range(LIMIT + 1):
            r = await a.get("/api/v1/tasks", headers=old_auth)
            assert r.status_code == 401 and "x-ratelimit-remaining" not in r.headers, r.text
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await tasks_grpc.TaskServiceStub(direct).ListTasks(
                    tasks_pb.ListTasksRequest(), metadata=bearer(old["accessToken"]), timeout=10
                )
            assert rich_error(refused.value).reason == "UNAUTHENTICATED"
        new = (await a.post("/api/v1/auth/login", json=account)).json()
        r = await a.get("/api/v1/tasks", headers={"authorization": f"Bearer {new['accessToken']}"})
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


async def test_native_grpc_through_the_edge_shares_the_address_budget(limited: Limited) -> None:
    """Native gRPC Login from 127.0.0.1 through both replicas: RESOURCE_EXHAUSTED with RetryInfo
    once the address's LIMIT is spent (this module's only calls from 127.0.0.1 to Login; a bucket
    is per limit too, so the shared server's calls with another limit do not count)."""
    codes = []
    for index in range(LIMIT + 1):
        error = await _grpc_login((limited.replica_a if index % 2 else limited.replica_b).port)
        assert error is not None
        codes.append(error.code())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * LIMIT + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert error is not None and rich_error(error).retry_delay_seconds


async def test_an_unreachable_redis_lets_requests_through(unused_tcp_port: int) -> None:
    """Fail open (docs/security.md): a Redis outage must not take every RPC down with it."""
    redis = Redis(port=unused_tcp_port, socket_connect_timeout=1)
    try:
        bucket = Bucket(f"aether:rl:{LOGIN}:1/60:ip:127.0.0.1", 1, 60_000)
        assert await Admission(redis).admit(None, bucket) is None
    finally:
        await redis.aclose()


async def test_a_limit_finer_than_a_millisecond_still_answers() -> None:
    """A billion a second (benchmarks lift limits this way): the bucket's interval is below a
    double's resolution at epoch milliseconds, which once made Redis refuse the script's PX 0."""
    redis = Redis.from_url(TEST_REDIS)
    try:
        bucket = Bucket(f"aether:rl:{LIST_TASKS}:1000000000/1:user:{uuid.uuid4()}", 1_000_000_000, 1000)
        results = [await Admission(redis).admit(None, bucket) for _ in range(3)]
        assert [r and r.allowed for r in results] == [True, True, True]
    finally:
        await redis.aclose()
