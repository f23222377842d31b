"""The README's curl flows, as a newcomer runs them: REST through the real Envoy,
with users who really registered (so their tokens carry exactly what a new
account gets — a forged permission set would hide a role that lacks one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, unique_email


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=20) as client:
        yield client


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def register_and_login(http: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, object]]:
    email = unique_email("readme")
    r = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "Ada"}
    )
    assert r.status_code == 200, r.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['accessToken']}"}, login.json()


async def test_auth_flow(http: httpx.AsyncClient) -> None:
    headers, login = await register_and_login(http)
    me = await http.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["roles"] == ["user"]
    assert (await http.get("/.well-known/jwks.json")).json()["keys"]
    assert (await http.get("/api/v1/auth/me")).status_code == 401
    refreshed = await http.post("/api/v1/auth/refresh", json={"refreshToken": login["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    out = await http.post(
        "/api/v1/auth/logout", headers=headers, json={"refreshToken": refreshed.json()["refreshToken"]}
    )
    assert out.status_code == 200, out.text


async def test_tasks_flow(http: httpx.AsyncClient) -> None:
    headers, _ = await register_and_login(http)
    created = await http.post(
        "/api/v1/tasks",
        headers={**headers, "Idempotency-Key": "7f1c2b"},
        json={
            "title": "Implement login page",
            "priority": "high",
            "dueDate": "2031-01-31T17:00:00Z",
            "tags": ["ui", "auth"],
        },
    )
    assert created.status_code == 200, created.text
    task = created.json()
    assert (task["status"], task["priority"], task["version"]) == ("pending", "high", 1)
    listed = await http.get(
        "/api/v1/tasks",
        params={"status": "pending", "tags": "ui,bug", "sort": "dueDate", "order": "asc", "limit": 20},
        headers=headers,
    )
    assert listed.json()["pagination"]["total"] == 1
    moved = await http.put(
        f"/api/v1/tasks/{task['id']}", headers=headers, json={"status": "in_progress", "expectedVersion": 1}
    )
    assert moved.status_code == 200, moved.text
    stale = await http.put(
        f"/api/v1/tasks/{task['id']}", headers=headers, json={"status": "blocked", "expectedVersion": 1}
    )
    assert stale.status_code == 409
    comment = await http.post(f"/api/v1/tasks/{task['id']}/comments", headers=headers, json={"text": "on it"})
    assert comment.status_code == 200, comment.text
    done = await http.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers, json={})
    assert done.json()["status"] == "completed"
    full = (await http.get(f"/api/v1/tasks/{task['id']}", headers=headers)).json()
    assert [c["text"] for c in full["comments"]] == ["on it"] and full["history"]
    stats = (await http.get("/api/v1/tasks/stats", headers=headers)).json()
    assert stats["total"] == 1 and stats["completionRate"] == 100


async def test_analytics_flow(http: httpx.AsyncClient) -> None:
    headers, _ = await register_and_login(http)
    recorded = await http.post(
        "/api/v1/analytics/events",
        headers=headers,
        json={"eventType": "page.viewed", "metadata": {"page": "/tasks"}},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["success"] is True
    now = datetime.now(UTC)
    window = {
        "startDate": iso(now - timedelta(days=30)),
        "endDate": iso(now + timedelta(days=1)),
        "granularity": "week",
    }
    usage = await http.get("/api/v1/analytics/usage", params=window, headers=headers)
    assert usage.status_code == 200 and usage.json()["metrics"]
    assert (await http.get("/api/v1/analytics/health")).json()["status"] in ("healthy", "degraded")
    backwards = {"startDate": window["endDate"], "endDate": window["startDate"]}
    assert (await http.get("/api/v1/analytics/usage", params=backwards, headers=headers)).status_code == 400


async def test_ai_models_flow(http: httpx.AsyncClient) -> None:
    headers, _ = await register_and_login(http)
    models = await http.get("/api/v1/ai/models", headers=headers)
    assert models.status_code == 200, models.text
    assert models.json()["models"] and "currentModel" in models.json()
