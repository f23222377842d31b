"""One client address for every per-client limit (servers/platform/client_address.py): behind a
trusted load balancer (an Envoy with xff_num_trusted_hops=1), login throttling counts the client
the edge found in X-Forwarded-For, as the rate limits do, not the balancer every client comes
through. (It once read the last X-Forwarded-For entry itself: the balancer's address, so one
client's failed logins locked out everybody behind it.)"""

from __future__ import annotations

from typing import Any

from tests.helpers import STRONG_PASSWORD, new_client_address, unique_email

CLIENT_MAX_FAILURES = 20  # AuthSettings.login_client_max_failures


async def test_login_throttling_behind_a_trusted_proxy_is_per_forwarded_client(
    app_server: tuple[str, list[str]], start_edge: Any
) -> None:
    address, services = app_server
    edge = await start_edge(dict.fromkeys(services, address), xff_num_trusted_hops=1)
    balancer = new_client_address().replace("198.", "127.", 1)  # every request's peer
    stuffer, user = new_client_address(), new_client_address()
    account = {"email": unique_email("behind-lb"), "password": STRONG_PASSWORD}
    async with edge.client(balancer) as c:
        assert (await c.post("/api/v1/auth/register", json=account | {"name": "U"})).status_code == 200
        for _ in range(CLIENT_MAX_FAILURES):
            wrong = {"email": unique_email("list"), "password": "Wrong-Password-1"}
            r = await c.post("/api/v1/auth/login", json=wrong, headers={"x-forwarded-for": stuffer})
            assert r.status_code == 401, r.text
        r = await c.post("/api/v1/auth/login", json=account, headers={"x-forwarded-for": stuffer})
        assert (
            r.status_code == 429 and r.json()["message"] == "too many failed login attempts; try again later"
        )
        r = await c.post("/api/v1/auth/login", json=account, headers={"x-forwarded-for": user})
        assert r.status_code == 200, r.text
