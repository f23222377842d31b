"""The Aether scenario with the betterproto2 SDK (`pip install ./gen/sdk/python`): dataclass
messages, every call with metadata and a timeout, error details decoded with the SDK's own
google.rpc types. Prints every result as proto3 JSON.

    AETHER_ADDR=127.0.0.1:50051 AETHER_EMAIL=ada@example.com python examples/python/sdk_scenario.py
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import grpc
from aether_sdk.aether.auth.v1 import AuthServiceStub, GetMeRequest, LoginRequest, RegisterRequest
from aether_sdk.aether.tasks.v1 import (
    CompleteTaskRequest,
    CreateTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    TaskServiceStub,
    UpdateTaskRequest,
)
from aether_sdk.google.rpc import BadRequest, Status

PASSWORD = "Correct-Horse-Battery-9"  # noqa: S105 - the example account's password
steps: dict[str, Any] = {}


def step(name: str, call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except grpc.RpcError as err:
        status = Status(code=err.code().value[0], message=err.details() or "")
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = Status.parse(value)
        for detail in status.details:
            if detail.type_url.endswith("/google.rpc.BadRequest"):
                for violation in BadRequest.parse(detail.value).field_violations:
                    print(f"{name}: {violation.field}: {violation.description}", file=sys.stderr)
        steps[name] = {"error": status.to_dict()}
        return None
    steps[name] = {"ok": response.to_dict(include_default_values=True)}
    return response


def main() -> None:
    email = os.environ["AETHER_EMAIL"]
    with grpc.insecure_channel(os.environ["AETHER_ADDR"]) as channel:
        users, work = AuthServiceStub(channel), TaskServiceStub(channel)
        step(
            "register",
            lambda: users.register(RegisterRequest(email=email, password=PASSWORD, name="Ada"), timeout=30),
        )
        login = step("login", lambda: users.login(LoginRequest(email=email, password=PASSWORD), timeout=30))
        bearer = [("authorization", f"Bearer {login.access_token}")]
        step("me", lambda: users.get_me(GetMeRequest(), metadata=bearer, timeout=30))

        def call(method: Callable[..., Any], request: Any) -> Callable[[], Any]:
            return lambda: method(request, metadata=bearer, timeout=30)

        new = CreateTaskRequest(
            title="Write the contract suite", description="every language", priority="high", tags=["api"]
        )
        task = step("create", call(work.create_task, new))
        step("list", call(work.list_tasks, ListTasksRequest()))
        step("get", call(work.get_task, GetTaskRequest(id=task.id)))
        change = UpdateTaskRequest(id=task.id, title="Write the contract suite (v2)", status="in_progress")
        step("update", call(work.update_task, change))
        step("complete", call(work.complete_task, CompleteTaskRequest(id=task.id)))
        step("not_found", call(work.get_task, GetTaskRequest(id="00000000-0000-4000-8000-000000000000")))
        step("invalid_argument", call(work.create_task, CreateTaskRequest(title="")))
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
