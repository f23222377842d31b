"""Tokens travel only in the Authorization header (no `?access_token=`), no log gets a token or a
password, and log files are created 0600."""

from __future__ import annotations

import asyncio
import stat
import time
import uuid
from pathlib import Path
from typing import Any

from servers.embedded.child_process import ChildProcess
from tests.edge.conftest import RealEdge

PASSWORD = "Correct-Horse-42-secret"


async def _flushed(edge: RealEdge, marker: str) -> str:
    """The access log once a request with `marker` in its path is in it (flushed every 100 ms)."""
    for _ in range(100):
        text = edge.access_log.read_text() if edge.access_log.exists() else ""
        if marker in text:
            return text
        await asyncio.sleep(0.1)
    raise TimeoutError("the access log did not get the request")


async def test_a_token_in_the_query_string_is_refused_and_not_logged(
    default_edge: RealEdge, forge_token: Any
) -> None:
    token = await forge_token("user-query-token")
    async with default_edge.client() as c:
        r = await c.get("/api/v1/tasks", params={"access_token": token})
        assert r.status_code == 401 and r.json()["message"] == "Jwt is missing"
        assert (await c.get("/api/v1/tasks", headers={"authorization": f"Bearer {token}"})).status_code == 200
        email = f"logs-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD, "name": "L"}
        assert (await c.post("/api/v1/auth/register", json=body)).status_code == 200
        login = await c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        tokens = login.json()
        marker = f"/api/v1/tasks/marker-{uuid.uuid4().hex}"
        await c.get(marker, params={"password": PASSWORD})
    text = await _flushed(default_edge, marker.rsplit("/", 1)[-1])
    for secret in (token, PASSWORD, tokens["accessToken"], tokens["refreshToken"]):
        assert secret not in text
    assert "access_token=" not in text
    assert stat.S_IMODE(default_edge.access_log.stat().st_mode) == 0o600


def test_child_process_logs_and_the_files_a_child_creates_are_0600(tmp_path: Path) -> None:
    """`aether dev`'s children (Envoy, PostgreSQL, Redis, the servers) log through ChildProcess."""
    created = tmp_path / "created-by-the-child"
    child = ChildProcess(
        "writer", ["sh", "-c", f"echo hello; echo x > {created}"], log_file=tmp_path / "w.log"
    )
    child.start()
    for _ in range(200):  # a short shell line: wait for it to exit
        if child.has_exited():
            break
        time.sleep(0.05)
    child.stop(timeout=5)
    for path in (tmp_path / "w.log", created):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
