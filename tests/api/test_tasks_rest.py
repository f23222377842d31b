"""TaskService as REST/JSON through a real Envoy (generated config) in front of
the real server, with real users from AuthService: the contract's JSON names,
HTTP statuses, error bodies, ownership and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, unique_email

# The edge prints proto3 JSON: fields at their zero value (assignee "", progress
# 0, actualHours 0, an absent completedAt) are omitted.
TASK_KEYS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "category",
    "dueDate",
    "tags",
    "estimatedHours",
    "createdAt",
    "createdBy",
    "updatedAt",
    "version",
    # Zero values are printed too (the edge's always_print_primitive_fields).
    "assignee",
    "actualHours",
    "progress",
    "completedBy",
    "comments",
    "history",
}
# The spec's create payload.
EXAMPLE = {
    "title": "Implement login page",
    "description": "Create responsive login page with OAuth",
    "priority": "high",
    "category": "frontend",
    "dueDate": "2031-01-31T17:00:00Z",
    "tags": ["ui", "auth"],
    "estimatedHours": 8,
}


class User:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str):
        self.http, self.id = http, user_id
        self.headers = {"authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/v1/tasks{path}", params=params, headers=self.headers)

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.http.post(f"/api/v1/tasks{path}", json=body, headers=self.headers | headers)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.http.put(f"/api/v1/tasks{path}", json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(f"/api/v1/tasks{path}", headers=self.headers)

    async def create(self, **fields: Any) -> dict[str, Any]:
        r = await self.post("", {"title": "A task"} | fields)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


async def real_user(http: httpx.AsyncClient) -> User:
    """Register and log in through AuthService (REST): a real token with the user role."""
    email = unique_email("tasks")
    r = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "T"}
    )
    assert r.status_code == 200, r.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    return User(http, r.json()["userId"], login.json()["accessToken"])


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> User:
    return await real_user(http)


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> User:
    return await real_user(http)


@pytest.fixture
async def admin(http: httpx.AsyncClient, forge_token) -> User:
    user_id = str(uuid.uuid4())
    token = await forge_token(user_id, roles=("admin",))
    return User(http, user_id, token)


def violations(r: httpx.Response) -> dict[str, str]:
    body = r.json()
    for detail in body.get("details", []):
        if detail["@type"].endswith("google.rpc.BadRequest"):
            return {v["field"]: v["description"] for v in detail["fieldViolations"]}
    return {}


async def test_every_endpoint_with_the_spec_payloads(alice: User) -> None:
    created = await alice.post("", EXAMPLE)
    assert created.status_code == 200, created.text
    task = created.json()
    assert set(task) == TASK_KEYS
    assert (task["status"], task["createdBy"], task["version"]) == ("pending", alice.id, 1)
    assert task["dueDate"] == "2031-01-31T17:00:00Z" and task["tags"] == ["ui", "auth"]
    tid = task["id"]

    listed = await alice.get(
        "", status="pending", priority="high", tags="auth,nope", sort="dueDate", order="asc"
    )
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["tasks"]] == [tid]
    assert listed.json()["pagination"] == {
        "total": 1,
        "page": 1,
        "limit": 20,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
    }

    put = await alice.put(f"/{tid}", {"status": "in_progress", "progress": 50, "expectedVersion": 1})
    assert put.status_code == 200, put.text
    assert (put.json()["status"], put.json()["progress"], put.json()["title"]) == (
        "in_progress",
        50,
        EXAMPLE["title"],
    )

    comment = await alice.post(f"/{tid}/comments", {"text": "Looks good"})
    assert comment.status_code == 200
    assert set(comment.json()) == {"id", "taskId", "userId", "text", "createdAt"}
    assert (comment.json()["taskId"], comment.json()["userId"]) == (tid, alice.id)

    done = await alice.post(f"/{tid}/complete", {"actualHours": 7.5})
    assert done.status_code == 200
    assert set(done.json()) == {"id", "status", "completedAt", "completedBy", "actualHours"}
    assert (done.json()["status"], done.json()["completedBy"], done.json()["actualHours"]) == (
        "completed",
        alice.id,
        7.5,
    )

    full = (await alice.get(f"/{tid}")).json()
    assert full["actualHours"] == 7.5 and full["progress"] == 100
    assert [c["text"] for c in full["comments"]] == ["Looks good"]
    status_entry = next(h for h in full["history"] if h.get("field") == "status")
    assert status_entry["from"] == "pending" and status_entry["to"] == "in_progress"
    assert set(status_entry) == {"action", "field", "from", "to", "userId", "timestamp"}
    assert [h["action"] for h in full["history"]][:1] == ["created"]

    stats = await alice.get("/stats")
    assert stats.status_code == 200
    assert stats.json() == {
        "total": 1,
        "byStatus": {"pending": 0, "in_progress": 0, "completed": 1, "blocked": 0},
        "byPriority": {"low": 0, "medium": 0, "high": 1, "urgent": 0},
        "completionRate": 100,
        "averageCompletionTimeHours": 0,
        "overdue": 0,
    }

    deleted = await alice.delete(f"/{tid}")
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "message": "Task deleted", "id": tid}
    assert (await alice.get(f"/{tid}")).status_code == 404


async def test_plus_in_a_query_string_is_a_space(alice: User) -> None:
    task = await alice.create(category="my project")
    r = await alice.http.get("/api/v1/tasks?category=my+project", headers=alice.headers)
    assert r.status_code == 200
    assert [t["id"] for t in r.json()["tasks"]] == [task["id"]]


async def test_pagination_over_rest(alice: User) -> None:
    for i in range(5):
        await alice.create(title=f"t{i}")
    r = await alice.get("", page=2, limit=2, sort="title", order="asc")
    assert [t["title"] for t in r.json()["tasks"]] == ["t2", "t3"]
    assert r.json()["pagination"] == {
        "total": 5,
        "page": 2,
        "limit": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": True,
    }


async def test_immutable_fields_cannot_be_written(alice: User) -> None:
    task = await alice.create(title="Mine")
    for body in (
        {"createdBy": "mallory"},
        {"createdAt": "2000-01-01T00:00:00Z"},
        {"completedBy": "mallory"},
        {"version": 99},
    ):
        # Not in UpdateTaskRequest: the edge's JSON parser drops them, so they cannot be written.
        r = await alice.put(f"/{task['id']}", body)
        assert r.status_code == 200 and r.json()["createdBy"] == alice.id and r.json()["version"] == 1
    # A different id in the body than in the path: the path wins (it is the field).
    await alice.put(f"/{task['id']}", {"id": str(uuid.uuid4()), "title": "Renamed"})
    after = (await alice.get(f"/{task['id']}")).json()
    assert (after["id"], after["createdBy"], after["createdAt"]) == (task["id"], alice.id, task["createdAt"])


async def test_idempotency_key_header_and_field(alice: User) -> None:
    key = f"k-{uuid.uuid4()}"
    first = await alice.post("", {"title": "Once"}, **{"idempotency-key": key})
    second = await alice.post("", {"title": "Once"}, **{"idempotency-key": key})
    third = await alice.post("", {"title": "Once", "requestId": key})
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    assert (await alice.get("")).json()["pagination"]["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "priority": "critical"}, "priority"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "no title"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "tags": ["a"] * 2}, "tags"),
        ({"title": "x", "estimatedHours": 10001}, "estimatedHours"),
    ],
)
async def test_bad_create_is_400_naming_the_field(alice: User, body: dict[str, Any], field: str) -> None:
    r = await alice.post("", body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 3 and field in violations(r), r.text
    assert (await alice.get("")).json().get("pagination", {}).get("total", 0) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"priority": "p1"}, "priority"),
        ({"limit": 101}, "limit"),
        ({"sort": "password"}, "sort"),
        ({"sort": "title; DROP TABLE tasks.tasks"}, "sort"),
        ({"order": "up"}, "order"),
        ({"page": -1}, "page"),
    ],
)
async def test_bad_list_query_is_400_naming_the_field(
    alice: User, params: dict[str, Any], field: str
) -> None:
    r = await alice.get("", **params)
    assert r.status_code == 400, r.text
    assert field in violations(r), r.text


async def test_malformed_input_is_400_and_changes_nothing(alice: User) -> None:
    task = await alice.create(title="Stable", priority="low")
    for params in ({"dueBefore": "yesterday"}, {"dueBefore": "2025-13-45T00:00:00Z"}, {"limit": "ten"}):
        r = await alice.get("", **params)
        assert r.status_code == 400, (params, r.text)
    bad_bodies: list[Any] = [
        {"title": "x", "dueDate": "next tuesday"},
        {"title": {"$ne": None}},
        {"title": ["a"]},
        {"title": "x", "estimatedHours": "eight"},
    ]
    for body in bad_bodies:
        r = await alice.post("", body)
        assert r.status_code == 400, (body, r.text)
    for body in ({"priority": "highest"}, {"status": "archived"}, {"dueDate": "soon"}, {"progress": 150}):
        r = await alice.put(f"/{task['id']}", body)
        assert r.status_code == 400, (body, r.text)
    r = await alice.http.post(
        f"/api/v1/tasks/{task['id']}/comments",
        content=b'{"text": "unterminated',
        headers=alice.headers | {"content-type": "application/json"},
    )
    assert r.status_code == 400
    after = (await alice.get(f"/{task['id']}")).json()
    assert (after["title"], after["priority"], after["version"], after.get("comments", [])) == (
        "Stable",
        "low",
        1,
        [],
    )
    assert (await alice.get("")).json()["pagination"]["total"] == 1


async def test_injection_strings_are_just_data(alice: User, bob: User) -> None:
    evil = "'; DROP TABLE tasks.tasks; --"
    json_evil = '{"createdBy": "mallory", "$where": "1"}'
    task = await alice.create(title=evil, description=json_evil, category=evil, tags=[evil, "x'OR'1'='1"])
    assert (task["title"], task["description"]) == (evil, json_evil)
    # (no spaces in query values: the edge does not decode "+" as a space, see the report)
    by_category = await alice.http.get(f"/api/v1/tasks?category={quote(evil)}", headers=alice.headers)
    assert by_category.json()["pagination"]["total"] == 1
    assert (await alice.get("", tags="x'OR'1'='1,nope")).json()["pagination"]["total"] == 1
    assert (await alice.get("", category="'OR'1'='1")).json().get("pagination", {}).get("total", 0) == 0
    assert (await alice.get("", category="' OR '1'='1")).json().get("pagination", {}).get("total", 0) == 0
    assert (await bob.get("", assignee=f"{alice.id}' OR created_by LIKE '%")).json().get("tasks", []) == []
    for guess in ("' OR 1=1 --", "1 OR 1=1", "%25"):
        assert (await bob.get(f"/{guess}")).status_code == 404
    assert (await alice.get(f"/{task['id']}")).json()["createdBy"] == alice.id


async def test_completing_twice_is_idempotent_and_deleted_is_404(alice: User) -> None:
    task = await alice.create()
    first = await alice.post(f"/{task['id']}/complete", {})
    second = await alice.post(f"/{task['id']}/complete", {})
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert (await alice.delete(f"/{task['id']}")).status_code == 200
    assert (await alice.put(f"/{task['id']}", {"title": "back"})).status_code == 404
    assert (await alice.post(f"/{task['id']}/complete", {})).status_code == 404
    assert (await alice.delete(f"/{task['id']}")).status_code == 404


async def test_user_b_cannot_touch_user_a_tasks_but_an_admin_can(alice: User, bob: User, admin: User) -> None:
    task = await alice.create(title="Alice's", priority="low")
    tid = task["id"]
    assert (await bob.get("")).json().get("pagination", {}).get("total", 0) == 0
    assert (await bob.get("", assignee=alice.id)).json().get("tasks", []) == []
    assert (await bob.get(f"/{tid}")).status_code == 404
    assert (await bob.put(f"/{tid}", {"title": "Bob's now"})).status_code == 404
    assert (await bob.post(f"/{tid}/complete", {})).status_code == 404
    assert (await bob.post(f"/{tid}/comments", {"text": "hi"})).status_code == 404
    assert (await bob.delete(f"/{tid}")).status_code == 404
    assert (await bob.get(f"/{uuid.uuid4()}")).status_code == 404  # guessing ids
    body = (await bob.get(f"/{tid}")).json()
    assert "Alice's" not in str(body) and body["code"] == 5
    assert (await bob.get("/stats", userId=alice.id)).status_code == 403
    after = (await alice.get(f"/{tid}")).json()
    assert (after["title"], after["status"], after["version"]) == ("Alice's", "pending", 1)

    assert (await admin.get(f"/{tid}")).json()["title"] == "Alice's"
    assert (await admin.get("/stats", userId=alice.id)).json()["total"] == 1
    assert (await admin.put(f"/{tid}", {"priority": "urgent"})).json()["priority"] == "urgent"
    assert (await admin.post(f"/{tid}/comments", {"text": "admin"})).status_code == 200
    assert (await admin.post(f"/{tid}/complete", {})).status_code == 200
    assert (await admin.delete(f"/{tid}")).status_code == 200


async def test_stale_version_is_409_and_unauthenticated_is_401(alice: User, http: httpx.AsyncClient) -> None:
    task = await alice.create()
    await alice.put(f"/{task['id']}", {"title": "v2"})
    r = await alice.put(f"/{task['id']}", {"title": "stale", "expectedVersion": 1})
    assert r.status_code == 409 and r.json()["code"] == 10
    assert (await alice.get(f"/{task['id']}")).json()["title"] == "v2"
    assert (await http.get("/api/v1/tasks")).status_code == 401
