"""Login throttling (servers/auth/throttle.py) over native gRPC and through the real
Envoy: per client across emails, per (account, client) so an attacker cannot lock
the user out, a per-account backoff that spares the user's known clients, and
identical answers whether or not the email exists."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc

from tests.helpers import (
    STRONG_PASSWORD,
    from_client,
    loopback_client_address,
    new_client_address,
    rich_error,
    unique_email,
)

WRONG = "Wrong-Password-1"
CLIENT_MAX_FAILURES = 20  # AuthSettings.login_client_max_failures
PAIR_MAX_FAILURES = 5  # login_max_failures
ACCOUNT_THRESHOLD = 10  # login_account_threshold


@pytest.fixture
def stub(auth_channel: grpc.aio.Channel) -> auth_service_pb2_grpc.AuthServiceStub:
    return auth_service_pb2_grpc.AuthServiceStub(auth_channel)


async def login_code(stub, email: str, password: str, client: str) -> grpc.StatusCode:
    try:
        await stub.Login(pb.LoginRequest(email=email, password=password), metadata=from_client(client))
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def registered(stub) -> str:
    email = unique_email("victim")
    await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Victim"))
    return email


async def test_one_client_trying_many_emails_is_throttled(stub) -> None:
    stuffer = new_client_address()
    codes = [
        await login_code(stub, unique_email("list"), WRONG, stuffer) for _ in range(CLIENT_MAX_FAILURES + 1)
    ]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * CLIENT_MAX_FAILURES + [
        grpc.StatusCode.RESOURCE_EXHAUSTED
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # even a real account's right password
        await stub.Login(
            pb.LoginRequest(email=await registered(stub), password=STRONG_PASSWORD),
            metadata=from_client(stuffer),
        )
    limited = rich_error(caught.value)
    assert limited.reason == "RATE_LIMIT_EXCEEDED" and limited.retry_delay_seconds
    # Everyone else is unaffected.
    assert (
        await login_code(stub, await registered(stub), STRONG_PASSWORD, new_client_address())
        == grpc.StatusCode.OK
    )


async def test_an_attacker_locks_out_only_themselves(stub) -> None:
    victim = await registered(stub)
    attacker = new_client_address()
    codes = [await login_code(stub, victim, WRONG, attacker) for _ in range(PAIR_MAX_FAILURES)]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * PAIR_MAX_FAILURES
    assert await login_code(stub, victim, STRONG_PASSWORD, attacker) == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The real user, from their own client, logs in.
    assert await login_code(stub, victim, STRONG_PASSWORD, new_client_address()) == grpc.StatusCode.OK


async def test_account_backoff_slows_a_distributed_guesser_but_spares_known_clients(stub) -> None:
    victim = await registered(stub)
    home = new_client_address()
    assert await login_code(stub, victim, STRONG_PASSWORD, home) == grpc.StatusCode.OK  # a known client
    for _ in range(ACCOUNT_THRESHOLD):  # one guess each from many addresses
        assert await login_code(stub, victim, WRONG, new_client_address()) == grpc.StatusCode.UNAUTHENTICATED
    # A client never seen for this account must wait, even with the right password ...
    assert (
        await login_code(stub, victim, STRONG_PASSWORD, new_client_address())
        == grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    # ... while the user's own client is not held back.
    assert await login_code(stub, victim, STRONG_PASSWORD, home) == grpc.StatusCode.OK


async def test_every_layer_answers_alike_for_unknown_emails(stub) -> None:
    """The same sequence of answers, messages and retry hints for a real and an unknown email."""

    async def scenario(email: str) -> list[tuple[str, str, str, bool]]:
        seen = []
        attacker = new_client_address()
        for password, client in [(WRONG, attacker)] * (PAIR_MAX_FAILURES + 1) + [
            (WRONG, new_client_address()) for _ in range(ACCOUNT_THRESHOLD)
        ]:
            try:
                await stub.Login(
                    pb.LoginRequest(email=email, password=password), metadata=from_client(client)
                )
                seen.append(("OK", "", "", False))
            except grpc.aio.AioRpcError as error:
                e = rich_error(error)
                seen.append((e.code.name, e.reason, e.message, e.retry_delay_seconds is not None))
        return seen

    real, ghost = await scenario(await registered(stub)), await scenario(unique_email("ghost"))
    assert real == ghost
    assert {code for code, *_ in real} == {"UNAUTHENTICATED", "RESOURCE_EXHAUSTED"}


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


def client_at(edge: str, address: str) -> httpx.AsyncClient:
    """A REST client connecting from `address`: Envoy sees it as that client."""
    return httpx.AsyncClient(
        base_url=edge, timeout=10, transport=httpx.AsyncHTTPTransport(local_address=address)
    )


async def test_throttling_through_envoy_is_per_client(http: httpx.AsyncClient, edge: str) -> None:
    victim = unique_email("rest-victim")
    r = await http.post(
        "/api/v1/auth/register", json={"email": victim, "password": STRONG_PASSWORD, "name": "V"}
    )
    assert r.status_code == 200, r.text
    async with client_at(edge, loopback_client_address()) as stuffer:
        statuses = [
            (
                await stuffer.post(
                    "/api/v1/auth/login", json={"email": unique_email("list"), "password": WRONG}
                )
            ).status_code
            for _ in range(CLIENT_MAX_FAILURES)
        ]
        assert statuses == [401] * CLIENT_MAX_FAILURES
        limited = await stuffer.post(
            "/api/v1/auth/login", json={"email": victim, "password": STRONG_PASSWORD}
        )
        assert limited.status_code == 429
        assert limited.json()["message"] == "too many failed login attempts; try again later"
    async with client_at(edge, loopback_client_address()) as user:
        ok = await user.post("/api/v1/auth/login", json={"email": victim, "password": STRONG_PASSWORD})
        assert ok.status_code == 200, ok.text
