"""The Aether scenario over REST through Envoy (httpx): the same calls as the gRPC examples,
JSON in and out; every error body is a google.rpc.Status with typed details.

    AETHER_URL=http://127.0.0.1:8080 AETHER_EMAIL=ada@example.com python examples/rest/scenario.py
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

PASSWORD = "Correct-Horse-Battery-9"  # noqa: S105 - the example account's password
MISSING = "00000000-0000-4000-8000-000000000000"


def result(response: httpx.Response) -> dict[str, Any]:
    return {"ok": response.json()} if response.is_success else {"error": response.json()}


def main() -> None:
    email = os.environ["AETHER_EMAIL"]
    steps: dict[str, Any] = {}
    with httpx.Client(base_url=os.environ["AETHER_URL"], timeout=30) as http:
        steps["register"] = result(
            http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada"})
        )
        login = result(http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}))
        steps["login"] = login
        http.headers["authorization"] = f"Bearer {login['ok']['accessToken']}"
        steps["me"] = result(http.get("/api/v1/auth/me"))
        new = {
            "title": "Write the contract suite",
            "description": "every language",
            "priority": "high",
            "tags": ["api"],
        }
        steps["create"] = result(http.post("/api/v1/tasks", json=new))
        task_id = steps["create"]["ok"]["id"]
        steps["list"] = result(http.get("/api/v1/tasks"))
        steps["get"] = result(http.get(f"/api/v1/tasks/{task_id}"))
        change = {"title": "Write the contract suite (v2)", "status": "in_progress"}
        steps["update"] = result(http.put(f"/api/v1/tasks/{task_id}", json=change))
        steps["complete"] = result(http.post(f"/api/v1/tasks/{task_id}/complete", json={}))
        steps["not_found"] = result(http.get(f"/api/v1/tasks/{MISSING}"))
        steps["invalid_argument"] = result(http.post("/api/v1/tasks", json={"title": ""}))
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
