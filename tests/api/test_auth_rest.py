"""AuthService as REST/JSON through a real Envoy (generated config) in front of
the real auth server: the contract's JSON names, statuses and error bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, loopback_client_address, unique_email


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


def details(body: dict[str, Any], kind: str) -> dict[str, Any]:
    """The google.rpc detail of the given type in a Status JSON body."""
    return next(d for d in body["details"] if d["@type"] == f"type.googleapis.com/google.rpc.{kind}")


async def register(http: httpx.AsyncClient, email: str | None = None) -> tuple[str, str]:
    email = email or unique_email("rest")
    r = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "Rest"}
    )
    assert r.status_code == 200, r.text
    return email, r.json()["userId"]


async def login(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def test_register_login_me_refresh_logout_over_rest(http: httpx.AsyncClient) -> None:
    email, user_id = await register(http)
    session = await login(http, email)
    assert set(session) == {"accessToken", "refreshToken", "tokenType", "expiresIn", "user"}
    assert session["tokenType"] == "Bearer" and session["expiresIn"] == 900
    assert session["user"]["id"] == user_id and session["user"]["roles"] == ["user"]
    auth = {"authorization": f"Bearer {session['accessToken']}"}

    me = await http.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200
    assert me.headers["x-request-id"]
    body = me.json()
    assert (body["id"], body["email"], body["name"]) == (user_id, email, "Rest")
    assert "createdAt" in body and "tasks:read" in body["permissions"]

    refreshed = await http.post("/api/v1/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"accessToken", "refreshToken", "tokenType", "expiresIn"}
    new_auth = {"authorization": f"Bearer {refreshed.json()['accessToken']}"}

    out = await http.post(
        "/api/v1/auth/logout", headers=new_auth, json={"refreshToken": refreshed.json()["refreshToken"]}
    )
    assert out.status_code == 200 and out.json() == {"success": True, "sessionsRevoked": 1}
    gone = await http.get("/api/v1/auth/me", headers=new_auth)
    assert gone.status_code == 401


async def test_jwks_is_a_standard_jwk_set_at_both_paths(http: httpx.AsyncClient) -> None:
    for path in ("/api/v1/auth/jwks", "/.well-known/jwks.json"):
        r = await http.get(path)
        assert r.status_code == 200
        keys = r.json()["keys"]
        assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and k["alg"] == "EdDSA" for k in keys)
        assert all(set(k) == {"kty", "kid", "use", "alg", "crv", "x"} for k in keys)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": STRONG_PASSWORD, "name": "A"}, "email"),
        ({"email": "a@example.com", "name": "A"}, "password"),
        ({"email": "a@example.com", "password": "alllowercaseletters", "name": "A"}, "password"),
    ],
)
async def test_invalid_registration_is_400_with_field_violations(http, payload, field) -> None:
    r = await http.post("/api/v1/auth/register", json=payload, headers={"x-request-id": "rest-bad-1"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 3
    assert details(body, "ErrorInfo")["reason"] == "VALIDATION_ERROR"
    assert field in {v["field"] for v in details(body, "BadRequest")["fieldViolations"]}
    assert details(body, "RequestInfo")["requestId"] == "rest-bad-1"


async def test_duplicate_email_is_409(http: httpx.AsyncClient) -> None:
    email, _ = await register(http)
    r = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "B"}
    )
    assert r.status_code == 409
    assert details(r.json(), "ErrorInfo")["reason"] == "ALREADY_EXISTS"


async def test_malformed_json_is_400(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/v1/auth/register",
        content=b'{"email": "x@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == 3


async def test_unknown_path_is_404_status_json(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/auth/nope")
    assert r.status_code == 404 and r.json()["code"] == 5
    assert (await http.get("/api/v1/no-such-domain")).status_code == 404  # not routed


async def test_missing_and_bad_tokens_are_401(http: httpx.AsyncClient, forge_token) -> None:
    _, user_id = await register(http)
    for headers in (
        {},
        {"authorization": "Bearer not-a-jwt"},
        {"authorization": f"Bearer {await forge_token(user_id, exp_offset=-3600)}"},
        {"authorization": f"Bearer {await forge_token(user_id, aud='someone-else')}"},
    ):
        r = await http.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["code"] == 16


async def test_refresh_token_reuse_is_401_and_revokes_the_family(http: httpx.AsyncClient) -> None:
    email, _ = await register(http)
    session = await login(http, email)
    first = await http.post("/api/v1/auth/refresh", json={"refreshToken": session["refreshToken"]})
    reuse = await http.post("/api/v1/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert reuse.status_code == 401
    assert details(reuse.json(), "ErrorInfo")["reason"] == "TOKEN_REUSED"
    child = await http.post("/api/v1/auth/refresh", json={"refreshToken": first.json()["refreshToken"]})
    assert child.status_code == 401


async def test_brute_force_is_throttled_identically_for_unknown_emails(
    http: httpx.AsyncClient, edge: str
) -> None:
    existing, _ = await register(http)
    seen = []
    attacker = httpx.AsyncClient(
        base_url=edge, transport=httpx.AsyncHTTPTransport(local_address=loopback_client_address())
    )
    for email in (existing, unique_email("nobody")):
        statuses = []
        for _ in range(6):
            r = await attacker.post(
                "/api/v1/auth/login", json={"email": email, "password": "Wrong-Password-1"}
            )
            statuses.append(r.status_code)
        body = r.json()
        seen.append(
            (
                statuses,
                body["message"],
                details(body, "ErrorInfo")["reason"],
                "retryDelay" in details(body, "RetryInfo"),
            )
        )
    await attacker.aclose()
    assert seen[0] == seen[1]
    assert seen[0][0] == [401] * 5 + [429]


async def test_oversize_body_is_413(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/v1/auth/register",
        json={"email": "big@example.com", "password": STRONG_PASSWORD, "name": "x" * 100_000},
    )
    assert r.status_code == 413


async def test_sql_injection_in_every_field_is_harmless(http: httpx.AsyncClient) -> None:
    injection = "x' OR '1'='1'; DROP TABLE auth.users; --"
    for payload in (
        {"email": injection, "password": injection, "name": injection},
        {"email": f"{injection}@example.com", "password": STRONG_PASSWORD, "name": "A"},
    ):
        r = await http.post("/api/v1/auth/register", json=payload)
        assert r.status_code == 400
    r = await http.post("/api/v1/auth/login", json={"email": injection, "password": injection})
    assert r.status_code == 401
    r = await http.post("/api/v1/auth/refresh", json={"refreshToken": injection})
    assert r.status_code == 401
    email, _ = await register(http)  # the users table is intact
    assert (await login(http, email))["user"]["email"] == email


async def test_rate_limit_gives_429_with_ratelimit_headers(http: httpx.AsyncClient) -> None:
    email, _ = await register(http)
    token = (await login(http, email))["accessToken"]
    headers = {"authorization": f"Bearer {token}"}
    responses = [
        await http.post("/api/v1/auth/validate", headers=headers, json={"token": token}) for _ in range(4)
    ]
    assert [r.status_code for r in responses[:3]] == [200, 200, 200]
    assert responses[0].json()["valid"] is True
    limited = responses[3]
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-limit"] == "3"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) > 0
    assert limited.json()["code"] == 8


async def test_traceparent_from_a_rest_client_continues_into_the_server(
    http: httpx.AsyncClient, spans
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    r = await http.get(
        "/.well-known/jwks.json", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert r.status_code == 200
    server_spans = [s for s in spans.get_finished_spans() if s.name == "/aether.auth.v1.AuthService/GetJwks"]
    assert any(format(s.context.trace_id, "032x") == trace_id for s in server_spans)


async def test_zero_values_are_printed_so_the_shape_is_stable(http: httpx.AsyncClient) -> None:
    email, _ = await register(http)
    token = (await login(http, email))["accessToken"]
    r = await http.post("/api/v1/auth/logout", headers={"authorization": f"Bearer {token}"}, json={})
    assert r.status_code == 200
    assert r.json() == {"success": True, "sessionsRevoked": 0}
