"""The Aether scenario with the grpcio stubs (`pip install ./gen/python`): register, log in,
read the caller, create/list/get/update/complete a task, then a NOT_FOUND and an
INVALID_ARGUMENT whose google.rpc.BadRequest is decoded. Prints every result as proto3 JSON.

    AETHER_ADDR=127.0.0.1:50051 AETHER_EMAIL=ada@example.com python examples/python/stubs_scenario.py
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import grpc
from aether.auth.v1 import auth_service_pb2 as auth
from aether.auth.v1 import auth_service_pb2_grpc as auth_grpc
from aether.tasks.v1 import tasks_service_pb2 as tasks
from aether.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

PASSWORD = "Correct-Horse-Battery-9"  # noqa: S105 - the example account's password
steps: dict[str, Any] = {}


def step(name: str, call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except grpc.RpcError as err:
        status = status_pb2.Status(code=err.code().value[0], message=err.details())
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":  # the full google.rpc.Status, with details
                status.ParseFromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                for violation in bad.field_violations:
                    print(f"{name}: {violation.field}: {violation.description}", file=sys.stderr)
        steps[name] = {"error": json_format.MessageToDict(status)}
        return None
    steps[name] = {"ok": json_format.MessageToDict(response, always_print_fields_with_no_presence=True)}
    return response


def main() -> None:
    email = os.environ["AETHER_EMAIL"]
    with grpc.insecure_channel(os.environ["AETHER_ADDR"]) as channel:
        users, work = auth_grpc.AuthServiceStub(channel), tasks_grpc.TaskServiceStub(channel)
        step(
            "register",
            lambda: users.Register(
                auth.RegisterRequest(email=email, password=PASSWORD, name="Ada"), timeout=30
            ),
        )
        login = step(
            "login", lambda: users.Login(auth.LoginRequest(email=email, password=PASSWORD), timeout=30)
        )
        bearer = [("authorization", f"Bearer {login.access_token}")]
        step("me", lambda: users.GetMe(auth.GetMeRequest(), metadata=bearer, timeout=30))

        def call(method: Callable[..., Any], request: Any) -> Callable[[], Any]:
            return lambda: method(request, metadata=bearer, timeout=30)

        new = tasks.CreateTaskRequest(
            title="Write the contract suite", description="every language", priority="high", tags=["api"]
        )
        task = step("create", call(work.CreateTask, new))
        step("list", call(work.ListTasks, tasks.ListTasksRequest()))
        step("get", call(work.GetTask, tasks.GetTaskRequest(id=task.id)))
        change = tasks.UpdateTaskRequest(
            id=task.id, title="Write the contract suite (v2)", status="in_progress"
        )
        step("update", call(work.UpdateTask, change))
        step("complete", call(work.CompleteTask, tasks.CompleteTaskRequest(id=task.id)))
        step("not_found", call(work.GetTask, tasks.GetTaskRequest(id="00000000-0000-4000-8000-000000000000")))
        step("invalid_argument", call(work.CreateTask, tasks.CreateTaskRequest(title="")))
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
