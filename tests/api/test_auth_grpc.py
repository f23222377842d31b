"""AuthService over native gRPC with the generated stubs, against the real
server (interceptors included), PostgreSQL and Redis."""

from __future__ import annotations

import logging
import time
import uuid

import asyncpg
import grpc
import jwt
import pytest
from aether.auth.v1 import auth_service_pb2 as pb
from aether.auth.v1 import auth_service_pb2_grpc

from tests.helpers import (
    STRONG_PASSWORD,
    bearer,
    eventually,
    from_client,
    new_client_address,
    rich_error,
    unique_email,
)


@pytest.fixture
def stub(auth_channel: grpc.aio.Channel) -> auth_service_pb2_grpc.AuthServiceStub:
    return auth_service_pb2_grpc.AuthServiceStub(auth_channel)


async def register_and_login(stub, email: str | None = None) -> pb.LoginResponse:
    email = email or unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Ada"))
    return await stub.Login(pb.LoginRequest(email=email, password=STRONG_PASSWORD))


async def test_register_login_me_refresh_logout(stub) -> None:
    email = unique_email("Flow")
    registered = await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Ada"))
    assert registered.email == email.lower()
    uuid.UUID(registered.user_id)

    login = await stub.Login(pb.LoginRequest(email=email.upper(), password=STRONG_PASSWORD))
    assert login.token_type == "Bearer" and login.expires_in == 900
    assert login.user.id == registered.user_id and list(login.user.roles) == ["user"]
    assert "tasks:read" in login.user.permissions and "containers:read" not in login.user.permissions

    me = await stub.GetMe(pb.GetMeRequest(), metadata=bearer(login.access_token))
    assert (me.id, me.email, me.name) == (registered.user_id, email.lower(), "Ada")

    refreshed = await stub.Refresh(pb.RefreshRequest(refresh_token=login.refresh_token))
    assert refreshed.refresh_token != login.refresh_token
    assert (await stub.GetMe(pb.GetMeRequest(), metadata=bearer(refreshed.access_token))).id == me.id

    out = await stub.Logout(
        pb.LogoutRequest(refresh_token=refreshed.refresh_token), metadata=bearer(refreshed.access_token)
    )
    assert out.success and out.sessions_revoked == 1

    async def refused() -> bool:
        try:
            await stub.GetMe(pb.GetMeRequest(), metadata=bearer(refreshed.access_token))
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
            return True
        return False

    assert await eventually(refused)  # within the revocation feed's window
    with pytest.raises(grpc.aio.AioRpcError) as spent:
        await stub.Refresh(pb.RefreshRequest(refresh_token=refreshed.refresh_token))
    assert spent.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_access_token_claims_are_verifiable_with_jwks(stub) -> None:
    login = await register_and_login(stub)
    keys = (await stub.GetJwks(pb.GetJwksRequest())).keys
    header = jwt.get_unverified_header(login.access_token)
    assert header["alg"] == "EdDSA" and header["kid"] in {k.kid for k in keys}
    jwk = next(k for k in keys if k.kid == header["kid"])
    assert (jwk.kty, jwk.crv, jwk.use) == ("OKP", "Ed25519", "sig")
    public = jwt.PyJWK({"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "kid": jwk.kid})
    claims = jwt.decode(
        login.access_token, public.key, algorithms=["EdDSA"], audience="aether", issuer="aether-auth"
    )
    assert (
        claims["sub"] == login.user.id
        and claims["roles"] == ["user"]
        and "tasks:write" in claims["permissions"]
    )
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"email": "not-an-email", "password": STRONG_PASSWORD, "name": "A"}, "email"),
        ({"email": "", "password": STRONG_PASSWORD, "name": "A"}, "email"),
        ({"email": "ok@example.com", "password": "", "name": "A"}, "password"),
        ({"email": "ok@example.com", "password": "short1A!", "name": "A"}, "password"),
        ({"email": "ok@example.com", "password": STRONG_PASSWORD, "name": ""}, "name"),
        ({"email": "ok@example.com", "password": STRONG_PASSWORD, "name": "x" * 101}, "name"),
    ],
)
async def test_register_rejects_invalid_fields(stub, request_fields: dict[str, str], field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Register(pb.RegisterRequest(**request_fields))
    error = rich_error(err.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_ERROR"
    assert field in error.field_violations
    assert error.request_id


@pytest.mark.parametrize("password", ["alllowercaseletters", "Password123", "ada-lovelace-99"])
async def test_register_rejects_weak_passwords(stub, password: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Register(pb.RegisterRequest(email="ada-lovelace@example.com", password=password, name="A"))
    error = rich_error(err.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "password" in error.field_violations


async def test_duplicate_email_is_already_exists(stub) -> None:
    email = unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="A"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Register(pb.RegisterRequest(email=email.upper(), password=STRONG_PASSWORD, name="B"))
    error = rich_error(err.value)
    assert error.code == grpc.StatusCode.ALREADY_EXISTS and error.reason == "ALREADY_EXISTS"


async def test_wrong_password_does_not_say_which_part_was_wrong(stub) -> None:
    email = unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="A"))
    errors = []
    for attempt in (
        pb.LoginRequest(email=email, password="Wrong-Password-1"),
        pb.LoginRequest(email=unique_email("ghost"), password="Wrong-Password-1"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Login(attempt)
        errors.append(rich_error(err.value))
    assert [(e.code, e.reason, e.message) for e in errors] == [
        (grpc.StatusCode.UNAUTHENTICATED, "INVALID_CREDENTIALS", "invalid email or password")
    ] * 2


async def test_brute_force_locks_out_existing_and_unknown_emails_alike(stub) -> None:
    existing = unique_email("victim")
    await stub.Register(pb.RegisterRequest(email=existing, password=STRONG_PASSWORD, name="A"))
    outcomes = {}
    client = from_client(new_client_address())
    for email in (existing, unique_email("nobody")):
        codes = []
        for _ in range(6):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Login(pb.LoginRequest(email=email, password="Wrong-Password-1"), metadata=client)
            codes.append(err.value.code())
        last = rich_error(err.value)
        outcomes[email] = (codes, last.reason, last.message, last.retry_delay_seconds is not None)
    assert outcomes[existing] == outcomes[next(e for e in outcomes if e != existing)]
    codes, reason, _, has_retry = outcomes[existing]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 5 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert reason == "RATE_LIMIT_EXCEEDED" and has_retry
    # Even the right password is refused from that client while it is locked out.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Login(pb.LoginRequest(email=existing, password=STRONG_PASSWORD), metadata=client)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_refresh_token_reuse_revokes_the_whole_family(stub) -> None:
    login = await register_and_login(stub)
    first = await stub.Refresh(pb.RefreshRequest(refresh_token=login.refresh_token))
    # The original token is presented again: a thief or a replay.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Refresh(pb.RefreshRequest(refresh_token=login.refresh_token))
    error = rich_error(err.value)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and error.reason == "TOKEN_REUSED"
    # The legitimate descendant is dead too.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_all_sessions(stub) -> None:
    email = unique_email()
    a = await register_and_login(stub, email)
    b = await stub.Login(pb.LoginRequest(email=email, password=STRONG_PASSWORD))
    out = await stub.Logout(pb.LogoutRequest(all_sessions=True), metadata=bearer(a.access_token))
    assert out.sessions_revoked == 2
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Refresh(pb.RefreshRequest(refresh_token=b.refresh_token))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_with_someone_elses_refresh_token_is_not_found(stub) -> None:
    mine, theirs = await register_and_login(stub), await register_and_login(stub)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Logout(
            pb.LogoutRequest(refresh_token=theirs.refresh_token), metadata=bearer(mine.access_token)
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await stub.Refresh(pb.RefreshRequest(refresh_token=theirs.refresh_token))).access_token


async def test_validate(stub) -> None:
    login = await register_and_login(stub)
    ok = await stub.Validate(
        pb.ValidateRequest(token=login.access_token), metadata=bearer(login.access_token)
    )
    assert ok.valid and ok.user_id == login.user.id and list(ok.roles) == ["user"]
    assert ok.expires_at.seconds > time.time()
    bad = await stub.Validate(
        pb.ValidateRequest(token=login.access_token[:-3] + "abc"), metadata=bearer(login.access_token)
    )
    assert not bad.valid and not bad.user_id


async def test_me_requires_a_valid_token(stub, forge_token) -> None:
    login = await register_and_login(stub)
    header, payload, signature = login.access_token.split(".")
    tampered_payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    bad_tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "expired": await forge_token(login.user.id, exp_offset=-3600),
        "wrong audience": await forge_token(login.user.id, aud="someone-else"),
        "wrong issuer": await forge_token(login.user.id, iss="evil"),
        "unsigned": jwt.encode({"sub": login.user.id}, key="", algorithm="none"),
    }
    for label, token in bad_tokens.items():
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetMe(pb.GetMeRequest(), metadata=bearer(token) if token else None)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, label
        assert rich_error(err.value).reason == "UNAUTHENTICATED", label
    assert (
        await stub.GetMe(pb.GetMeRequest(), metadata=bearer(await forge_token(login.user.id)))
    ).id == login.user.id


async def test_sql_injection_strings_are_inert(stub, database_url: str) -> None:
    injection = "'; DROP TABLE auth.users; --"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Register(
            pb.RegisterRequest(email=f"x{injection}@example.com", password=STRONG_PASSWORD, name="A")
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    email = unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=STRONG_PASSWORD + injection, name=injection))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Login(pb.LoginRequest(email=f"' OR '1'='1' --{email}", password="' OR '1'='1"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Refresh(pb.RefreshRequest(refresh_token="' OR 1=1 --"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    login = await stub.Login(pb.LoginRequest(email=email, password=STRONG_PASSWORD + injection))
    assert login.user.name == injection
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM auth.users WHERE name = $1", injection) == 1
    finally:
        await conn.close()


async def test_request_id_is_kept_and_echoed(stub) -> None:
    call = stub.GetJwks(pb.GetJwksRequest(), metadata=(("x-request-id", "test-req-123"),))
    await call
    # A unary response's request id rides in the trailers, or in the headers when the response
    # has headers of its own (X-RateLimit-* of a rate-limited RPC such as this public one).
    received = {**dict(await call.initial_metadata()), **dict(await call.trailing_metadata())}
    assert received["x-request-id"] == "test-req-123"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetMe(pb.GetMeRequest(), metadata=(("x-request-id", "test-req-456"),))
    assert rich_error(err.value).request_id == "test-req-456"


async def test_failed_rpcs_are_logged_and_successful_ones_only_at_debug(stub, caplog) -> None:
    # On the logger itself: configure_logging (run by other tests) stops "aether" propagating.
    rpc_log = logging.getLogger("aether.rpc")
    rpc_log.addHandler(caplog.handler)
    try:
        await _log_levels(stub, caplog)
    finally:
        rpc_log.removeHandler(caplog.handler)


async def _log_levels(stub: auth_service_pb2_grpc.AuthServiceStub, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aether.rpc"):
        await stub.GetJwks(pb.GetJwksRequest(), metadata=(("x-request-id", "quiet-ok-1"),))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetMe(pb.GetMeRequest(), metadata=(("x-request-id", "logged-fail-1"),))
    # Once each, though the handler may see a record both on the logger and on the root.
    lines = {id(r): r for r in caplog.records if r.name == "aether.rpc" and r.getMessage() == "rpc"}
    calls = [(r.method, r.code) for r in lines.values()]
    assert calls == [("/aether.auth.v1.AuthService/GetMe", "UNAUTHENTICATED")]
    with caplog.at_level(logging.DEBUG, logger="aether.rpc"):
        await stub.GetJwks(pb.GetJwksRequest())
    assert any(r.getMessage() == "rpc" and r.code == "OK" for r in caplog.records)
