"""AnalyticsService as REST/JSON through the real Envoy: every endpoint, the
contract's JSON names, and clear 400s (google.rpc.Status bodies) for bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def violations(body: dict[str, Any]) -> str:
    bad = next(d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    return " ".join(f"{v.get('field', '')}: {v['description']}" for v in bad["fieldViolations"])


async def test_record_then_read_usage_over_rest(http: httpx.AsyncClient, forge_token) -> None:
    token = await forge_token(str(uuid.uuid4()))
    now = datetime.now(UTC)
    r = await http.post(
        "/api/v1/analytics/events",
        headers=auth(token),
        json={
            "eventType": "task.created",
            "metadata": {"via": "rest"},
            "timestamp": iso(now - timedelta(hours=1)),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and uuid.UUID(r.json()["eventId"])
    assert r.json()["eventType"] == "client.task.created"

    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    usage = await http.get(
        "/api/v1/analytics/usage",
        headers=auth(token),
        params={"startDate": iso(day), "endDate": iso(day + timedelta(days=2)), "granularity": "day"},
    )
    assert usage.status_code == 200, usage.text
    body = usage.json()
    assert body["period"]["granularity"] == "day"
    # A client's "task.created" is its own event, not the tasks domain's: nothing counted.
    assert [m.get("taskCreated", 0) for m in body["metrics"]] == [0, 0]
    assert set(body["metrics"][0]) >= {"bucketStart", "bucketEnd", "taskCreated", "activeUsers"}


async def test_the_readme_example_works_for_a_freshly_registered_user(http: httpx.AsyncClient) -> None:
    email = f"readme-{uuid.uuid4().hex[:10]}@example.com"
    password = "Correct-Horse-42"
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "Ada"}
    )
    assert registered.status_code == 200, registered.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    token = login.json()["accessToken"]
    r = await http.post(
        "/api/v1/analytics/events",
        headers=auth(token),
        json={"eventType": "page.viewed", "metadata": {"page": "/tasks"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["eventType"] == "client.page.viewed"
    other = await http.post(
        "/api/v1/analytics/events",
        headers=auth(token),
        json={"eventType": "page.viewed", "userId": str(uuid.uuid4())},
    )
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"startDate": "2024-01-02T00:00:00Z", "endDate": "2024-01-01T00:00:00Z"}, "before end_date"),
        (
            {"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-01-02T00:00:00Z", "granularity": "year"},
            "granularity",
        ),
        (
            {"startDate": "2020-01-01T00:00:00Z", "endDate": "2024-01-01T00:00:00Z", "granularity": "hour"},
            "1000",
        ),
        ({"endDate": "2024-01-01T00:00:00Z"}, "startDate: value is required"),
    ],
)
async def test_bad_usage_input_is_a_clear_400(http: httpx.AsyncClient, forge_token, params, expected) -> None:
    token = await forge_token(str(uuid.uuid4()))
    r = await http.get("/api/v1/analytics/usage", headers=auth(token), params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 3 and body["message"]
    assert expected in violations(body), body


async def test_record_event_bad_input_is_400(http: httpx.AsyncClient, forge_token) -> None:
    token = await forge_token(str(uuid.uuid4()))
    future = datetime.now(UTC) + timedelta(hours=1)
    for payload in (
        {"eventType": "Not A Type"},
        {"eventType": "page.viewed", "timestamp": iso(future)},
        {"eventType": "page.viewed", "timestamp": iso(datetime.now(UTC) - timedelta(days=2))},
        {"eventType": "page.viewed", "metadata": {"blob": "x" * 20000}},
    ):
        r = await http.post("/api/v1/analytics/events", headers=auth(token), json=payload)
        assert r.status_code == 400, (payload, r.text)


async def test_errors_dashboard_need_admin_and_health_is_public(http: httpx.AsyncClient, forge_token) -> None:
    user = await forge_token(str(uuid.uuid4()))
    admin = await forge_token(str(uuid.uuid4()), roles=("admin",))
    for path in ("/api/v1/analytics/errors", "/api/v1/analytics/dashboard"):
        assert (await http.get(path, headers=auth(user))).status_code == 403
        assert (await http.get(path)).status_code == 401

    errors = await http.get("/api/v1/analytics/errors", headers=auth(admin), params={"severity": "critical"})
    assert errors.status_code == 200, errors.text
    assert set(errors.json()) >= {"summary", "pagination"}
    bad = await http.get("/api/v1/analytics/errors", headers=auth(admin), params={"severity": "fatal"})
    assert bad.status_code == 400

    board = await http.get("/api/v1/analytics/dashboard", headers=auth(admin), params={"period": "week"})
    assert board.status_code == 200, board.text
    assert set(board.json()) >= {"summary", "trends"}
    assert board.json()["summary"]["systemHealth"] in {"healthy", "degraded", "unhealthy"}
    assert (
        await http.get("/api/v1/analytics/dashboard", headers=auth(admin), params={"topUsersLimit": 51})
    ).status_code == 400

    health = await http.get("/api/v1/analytics/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] in {"healthy", "degraded", "unhealthy"}
    names = {s["name"]: s for s in body["services"]}
    assert names["analytics"]["status"] == "healthy" and names["analytics"]["latencyMs"] > 0
    assert set(body["metrics"]) >= {"memory", "disk"}
